/** An Output that keeps the lines a command printed, for tests to read. */
import type { Output } from '../../src/io/output.js';

export class Lines implements Output {
  readonly lines: string[] = [];
  line(text: string): void {
    this.lines.push(text);
  }
  get text(): string {
    return this.lines.join('\n');
  }
}
