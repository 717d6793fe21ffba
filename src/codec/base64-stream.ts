/**
 * The payload of one base64 channel message (`base64.channel.k8s.io`,
 * `v4.base64.channel.k8s.io`; protocol.md A §1.3), decoded as it arrives: whole groups of 4
 * characters are decoded at once and at most 3 are carried to the next segment, so a long
 * message is never held. The servers decode with Go's StdEncoding (AM wsstream conn.go
 * `DataFromSocket`); a character outside its alphabet makes the message undecodable.
 *
 *   push("aGk")  → ""      (carried: "aGk")
 *   push("K")    → "hi\n"
 *   finish()     → ""
 */

const BASE64_TEXT = /^[A-Za-z0-9+/=]*$/;

export class Base64Stream {
  private carry = '';

  /** The bytes of the whole groups so far, or null when `text` is not base64. */
  push(text: string): Buffer | null {
    const all = this.carry + text;
    if (!BASE64_TEXT.test(all)) return null;
    const whole = all.length - (all.length % 4);
    this.carry = all.slice(whole);
    return Buffer.from(all.slice(0, whole), 'base64');
  }

  /** Characters held back for the next segment. */
  get carried(): number {
    return this.carry.length;
  }

  /** The end of the message: the bytes of what was carried; ready for the next message. */
  finish(): Buffer {
    const rest = this.carry;
    this.carry = '';
    return Buffer.from(rest, 'base64');
  }

  /** Forgets what was carried (a message dropped part way). */
  reset(): void {
    this.carry = '';
  }
}
