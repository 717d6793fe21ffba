/** Polls `text()` until it matches `re`, or fails with the end of what it saw. */
export function waitForText(text: () => string, re: RegExp, ms: number, stillRunning: () => boolean = () => true): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + ms;
    const poll = (): void => {
      const m = text().match(re);
      if (m) return resolve(m);
      if (Date.now() > deadline || !stillRunning()) return reject(new Error(`timed out waiting for ${re}; saw: ${text().slice(-600)}`));
      setTimeout(poll, 50);
    };
    poll();
  });
}
