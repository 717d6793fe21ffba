import { describe, expect, it } from 'vitest';
import { watchLine } from '../../src/audit/session-watch.js';
import { printable } from '../../src/io/printable.js';

describe('printable', () => {
  it('escapes C0, DEL and C1 controls and leaves the rest, Unicode included', () => {
    expect(printable('sh -c \u001b]52;c;aGk=\u0007ls')).toBe('sh -c \\x1b]52;c;aGk=\\x07ls');
    expect(printable('a\u007fb\u009bc\r\n')).toBe('a\\x7fb\\x9bc\\x0d\\x0a');
    expect(printable('李 ünïcode')).toBe('李 ünïcode');
  });

  it("keeps a client-chosen command from driving the watcher's terminal", () => {
    const line = watchLine({ user: 'bob', namespace: 'default', pod: 'web', container: null, command: ['echo', '\u001b[2J'], verb: 'exec', bytes: { output: 0, input: 0 }, state: 'live', exitCode: null, status: null } as Parameters<typeof watchLine>[0]);
    expect(line).toContain('echo \\x1b[2J');
    expect(line).not.toContain('\u001b');
  });
});
