/**
 * Text a client chose (a command, a pod name, a user name), made safe to print on a terminal:
 * C0 and C1 control characters and DEL become `\xNN`, so an escape sequence in an exec's
 * `command=` cannot move the auditor's cursor, retitle the window or write the clipboard.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
