/**
 * The request bodies kubectl 1.32+ sends as `application/vnd.kubernetes.protobuf`, read far
 * enough for the demo's two reviews: the `k8s\0` magic, then a runtime.Unknown (1 typeMeta {1
 * apiVersion, 2 kind}, 2 raw) whose raw bytes are the object (apimachinery
 * runtime/serializer/protobuf). Of a SelfSubjectAccessReview only spec (2) → resourceAttributes
 * (1) is read: 1 namespace, 2 verb, 3 group, 4 version, 5 resource, 6 subresource, 7 name
 * (k8s.io/api authorization/v1 generated.proto). The answer goes back as JSON, which such a
 * request also accepts.
 */

const MAGIC = Buffer.from('k8s\0', 'latin1');
const ATTRIBUTES = ['', 'namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'] as const;

/** Length-delimited fields by number (wire type 2); other wire types are skipped. Throws on a truncated message. */
function fields(buf: Buffer): Map<number, Buffer[]> {
  const out = new Map<number, Buffer[]>();
  let i = 0;
  const varint = (): number => {
    let n = 0;
    let shift = 0;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++]!;
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return n;
      shift += 7;
      if (shift > 49) throw new Error('varint too long');
    }
  };
  while (i < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        varint();
        break;
      case 1:
        i += 8;
        break;
      case 5:
        i += 4;
        break;
      case 2: {
        const len = varint();
        if (i + len > buf.length) throw new Error('truncated field');
        out.set(field, [...(out.get(field) ?? []), buf.subarray(i, i + len)]);
        i += len;
        break;
      }
      default:
        throw new Error(`unsupported wire type ${key & 7}`);
    }
  }
  if (i > buf.length) throw new Error('truncated field');
  return out;
}

const text = (m: Map<number, Buffer[]>, n: number): string | undefined => m.get(n)?.[0]?.toString('utf8');

export function isProtobufBody(contentType: string | undefined): boolean {
  return /application\/vnd\.kubernetes\.protobuf/i.test(contentType ?? '');
}

/** The review as its JSON form would have it: apiVersion, kind, and a SelfSubjectAccessReview's spec.resourceAttributes. */
export function decodeReview(body: Buffer): Record<string, unknown> {
  if (!body.subarray(0, 4).equals(MAGIC)) throw new Error('no k8s protobuf magic');
  const unknown = fields(body.subarray(4));
  const typeMeta = fields(unknown.get(1)?.[0] ?? Buffer.alloc(0));
  const out: Record<string, unknown> = { apiVersion: text(typeMeta, 1), kind: text(typeMeta, 2) };
  const raw = unknown.get(2)?.[0];
  if (out['kind'] === 'SelfSubjectAccessReview' && raw) {
    const spec = fields(fields(raw).get(2)?.[0] ?? Buffer.alloc(0));
    const ra = spec.get(1)?.[0];
    if (ra) {
      const m = fields(ra);
      const attrs: Record<string, string> = {};
      ATTRIBUTES.forEach((name, n) => {
        const v = n > 0 ? text(m, n) : undefined;
        if (name && v !== undefined) attrs[name] = v;
      });
      out['spec'] = { resourceAttributes: attrs };
    } else if (spec.get(2)) {
      out['spec'] = { nonResourceAttributes: {} };
    } else {
      out['spec'] = {};
    }
  }
  return out;
}
