/**
 * What the user's terminal did with a session's output. With a tty in the pod (`kubectl exec
 * -t`), the pod's pty already turned each `\n` into `\r\n` and kubectl's terminal is in raw mode:
 * the bytes on the wire are what the terminal showed. Without one, the bytes carry bare `\n`,
 * and kubectl writes them to a terminal in cooked mode whose `onlcr` turns each `\n` into
 * `\r\n` (every one: a `\r\n` on the wire is shown as `\r\r\n`, which looks the same).
 *
 * One rule for every view that draws or writes a session's screen: the TUI's terminal
 * (xterm's `convertEol`), the asciicast export.
 */

/** Whether the user's terminal turned each `\n` of the session's output into `\r\n`. */
export function terminalAddsCarriageReturn(tty: boolean): boolean {
  return !tty;
}

/** The output text as the user's terminal received it. */
export function asTerminalShowed(text: string, tty: boolean): string {
  return terminalAddsCarriageReturn(tty) ? text.replace(/\n/g, '\r\n') : text;
}
