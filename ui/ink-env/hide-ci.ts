/**
 * Ink decides once, when it is loaded, whether it runs in CI (from the `CI` and
 * `CONTINUOUS_INTEGRATION` variables), and then draws only the last frame at exit. kubewire
 * starts its view only where there is a terminal to draw on, so that guess is wrong here: the
 * variables are hidden while Ink loads and put back by `restore-ci.ts`, imported after it.
 */
export const saved: Record<string, string | undefined> = {
  CI: process.env['CI'],
  CONTINUOUS_INTEGRATION: process.env['CONTINUOUS_INTEGRATION'],
};
delete process.env['CI'];
delete process.env['CONTINUOUS_INTEGRATION'];
