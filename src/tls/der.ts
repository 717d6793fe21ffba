/**
 * The few ASN.1 DER encodings (ITU-T X.690, Distinguished Encoding Rules) that an X.509
 * certificate needs, plus a reader just large enough to pick a SubjectPublicKeyInfo apart.
 * Every function returns one complete TLV (tag, length, contents).
 */

/** Universal tags, X.680 §8.4 table 1. */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  oid: 0x06,
  utf8String: 0x0c,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30, // constructed
  set: 0x31, // constructed
} as const;

/** X.690 §8.1.3 (§10.1: the definite form, in as few octets as possible). */
function lengthOctets(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]); // short form, §8.1.3.4
  const octets: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
  return Buffer.from([0x80 | octets.length, ...octets]); // long form, §8.1.3.5
}

/** One TLV with a single-octet identifier (tag numbers below 31, X.690 §8.1.2.2). */
export function tlv(tag: number, contents: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), lengthOctets(contents.length), contents]);
}

/** SEQUENCE / SEQUENCE OF, X.690 §8.9 and §8.10. */
export function sequence(...items: Uint8Array[]): Buffer {
  return tlv(TAG.sequence, Buffer.concat(items));
}

/** SET OF, X.690 §8.12; DER puts the encodings in ascending order (§11.6). */
export function setOf(...items: Uint8Array[]): Buffer {
  const sorted = items.map((item) => Buffer.from(item)).sort(Buffer.compare);
  return tlv(TAG.set, Buffer.concat(sorted));
}

/** BOOLEAN, X.690 §8.2; DER writes TRUE as 0xFF (§11.1). */
export function boolean(value: boolean): Buffer {
  return tlv(TAG.boolean, Buffer.from([value ? 0xff : 0x00]));
}

/**
 * A non-negative INTEGER (X.690 §8.3) from a small number or a big-endian magnitude. The
 * contents are two's complement in the fewest octets (§8.3.2): redundant leading zero octets
 * go, and a zero octet goes in front when the first one has its top bit set, which would
 * otherwise read as negative.
 */
export function integer(value: number | Uint8Array): Buffer {
  let bytes: Buffer;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not a non-negative integer: ${value}`);
    const octets: number[] = [];
    for (let n = value; n > 0; n = Math.floor(n / 256)) octets.unshift(n & 0xff);
    bytes = Buffer.from(octets);
  } else {
    bytes = Buffer.from(value);
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  if (bytes.length === 0) bytes = Buffer.from([0]);
  if ((bytes[0]! & 0x80) !== 0) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return tlv(TAG.integer, bytes);
}

/**
 * OBJECT IDENTIFIER, X.690 §8.19: the first two arcs share one subidentifier (40 * X + Y),
 * each subidentifier in base 128, high bit set on all but its last octet.
 */
export function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new RangeError(`not an object identifier: ${dotted}`);
    return Number(arc);
  });
  if (arcs.length < 2) throw new RangeError(`not an object identifier: ${dotted}`);
  const subidentifiers = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  const octets: number[] = [];
  for (const sub of subidentifiers) {
    const group = [sub & 0x7f];
    for (let n = Math.floor(sub / 128); n > 0; n = Math.floor(n / 128)) group.unshift(0x80 | (n & 0x7f));
    octets.push(...group);
  }
  return tlv(TAG.oid, Buffer.from(octets));
}

/** BIT STRING, X.690 §8.6: an initial octet counts the unused bits of the last octet. */
export function bitString(bytes: Uint8Array, unusedBits = 0): Buffer {
  return tlv(TAG.bitString, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING (such as KeyUsage) from the numbers of the bits set, bit 0 being
 * the most significant bit of the first octet. DER drops trailing zero bits (X.690 §11.2.2).
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  return bitString(bytes, 7 - (highest & 7));
}

/** OCTET STRING, X.690 §8.7 (primitive, as DER requires, §10.2). */
export function octetString(bytes: Uint8Array): Buffer {
  return tlv(TAG.octetString, bytes);
}

export function utf8String(text: string): Buffer {
  return tlv(TAG.utf8String, Buffer.from(text, 'utf8'));
}

/**
 * A certificate validity time as RFC 5280 §4.1.2.5 asks: UTCTime YYMMDDHHMMSSZ through 2049,
 * GeneralizedTime YYYYMMDDHHMMSSZ from 2050; always UTC ("Z"), whole seconds, no fraction
 * (X.690 §11.7 and §11.8).
 */
export function time(date: Date): Buffer {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  const year = date.getUTCFullYear();
  if (year < 1950 || year > 9999) throw new RangeError(`year out of range for a certificate: ${year}`);
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050
    ? tlv(TAG.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'))
    : tlv(TAG.generalizedTime, Buffer.from(`${year}${rest}`, 'latin1'));
}

/** A context-specific EXPLICIT tag [n] around a complete encoding (constructed, X.690 §8.14). */
export function explicit(n: number, inner: Uint8Array): Buffer {
  return tlv(0xa0 | n, inner);
}

/** A context-specific IMPLICIT tag [n] on primitive contents (X.690 §8.14.3). */
export function implicit(n: number, contents: Uint8Array): Buffer {
  return tlv(0x80 | n, contents);
}

export interface Element {
  tag: number;
  /** The contents octets. */
  contents: Buffer;
  /** The offset just past this element. */
  end: number;
}

/** Reads the TLV at `offset` (single-octet tags, definite lengths: what DER produces). */
export function readElement(der: Buffer, offset = 0): Element {
  const fail = (why: string): never => {
    throw new RangeError(`malformed DER at offset ${offset}: ${why}`);
  };
  if (offset + 2 > der.length) fail('truncated');
  const tag = der[offset]!;
  if ((tag & 0x1f) === 0x1f) fail('multi-octet tag');
  let length = der[offset + 1]!;
  let at = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) fail('unsupported length');
    if (at + count > der.length) fail('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[at + i]!;
    at += count;
  }
  if (at + length > der.length) fail('truncated contents');
  return { tag, contents: der.subarray(at, at + length), end: at + length };
}

/** The contents of the subjectPublicKey BIT STRING of a DER SubjectPublicKeyInfo (RFC 5280 §4.1). */
export function subjectPublicKeyBits(spki: Buffer): Buffer {
  const info = readElement(spki);
  if (info.tag !== TAG.sequence) throw new RangeError('SubjectPublicKeyInfo is not a SEQUENCE');
  const algorithm = readElement(info.contents, 0);
  const key = readElement(info.contents, algorithm.end);
  if (key.tag !== TAG.bitString || key.contents[0] !== 0) throw new RangeError('subjectPublicKey is not a whole-octet BIT STRING');
  return key.contents.subarray(1);
}

/** PEM (RFC 7468 §2): base64 in lines of 64 characters between the labels, ending in a newline. */
export function pem(label: string, der: Uint8Array): string {
  const base64 = Buffer.from(der).toString('base64');
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
