/**
 * `--redact-stdin` (src/audit/stdin-redactor.ts) on event sequences shaped like the ones the
 * proxy emits for `kubectl exec -it` and `kubectl cp`: keys echoed by a shell, passwords at
 * no-echo prompts, pastes, readline redraws, interleaved connections, and a property check that
 * whatever comes in comes out in the same seq order, each event either itself or a redacted copy.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StdinRedactor, type RedactStdinMode } from '../../src/audit/stdin-redactor.js';
import { noteFor } from '../../src/events/notes.js';
import type { ConnectionSummary, EventBody, K8sDataEvent, KubewireEvent } from '../../src/events/types.js';

// -- building events -----------------------------------------------------------------------------

type Bytes = string | Uint8Array;
const bytesOf = (b: Bytes): Buffer => (typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b));

function deepFreeze<T>(o: T): T {
  if (typeof o === 'object' && o !== null && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}

/** A log in the making: seq counts up, every event is frozen (the redactor must not mutate). */
class Log {
  private seq = 0;
  private offsets = new Map<string, number>();
  readonly events: KubewireEvent[] = [];

  private add(conn: string | undefined, body: EventBody, raw?: Uint8Array): KubewireEvent {
    const seq = ++this.seq;
    const ts = new Date(Date.UTC(2025, 0, 1, 12, 0, 0, seq)).toISOString().replace('Z', '000Z');
    const ev = deepFreeze({ v: 1 as const, seq, ts, session: 'sess-1', ...(conn ? { conn } : {}), note: noteFor(body, raw), ...body } as KubewireEvent);
    this.events.push(ev);
    return ev;
  }

  private offset(conn: string, dir: string, n: number): number {
    const k = `${conn}/${dir}`;
    const at = this.offsets.get(k) ?? 0;
    this.offsets.set(k, at + n);
    return at;
  }

  upgrade(conn: string, opts: { tty: boolean; command?: string[] }): KubewireEvent {
    const command = opts.command ?? ['bash'];
    const query = command.map((c) => `command=${encodeURIComponent(c)}`).join('&');
    const path = `/api/v1/namespaces/default/pods/web-0/exec?${query}&stdin=true&stdout=true${opts.tty ? '&tty=true' : '&stderr=true'}`;
    return this.add(conn, {
      type: 'upgrade.request', dir: 'c2s', offset: 0, method: 'GET', target: path, path, version: 'HTTP/1.1',
      headers: [['Host', 'k:6443'], ['Upgrade', 'websocket']], upgrade: 'websocket', offered: ['v5.channel.k8s.io'],
      kubectlSession: 'sess-1', kubectlCommand: 'kubectl exec', userAgent: 'kubectl/v1.31.0',
      k8s: { operation: 'exec', namespace: 'default', pod: 'web-0', container: 'app', command, stdin: true, stdout: true, stderr: !opts.tty, tty: opts.tty, ports: [] },
    });
  }

  data(conn: string, dir: 'c2s' | 's2c', stream: 'stdin' | 'stdout', b: Bytes, extra: Partial<K8sDataEvent> = {}): KubewireEvent {
    const raw = bytesOf(b);
    const channel = stream === 'stdin' ? 0 : 1;
    return this.add(conn, {
      type: 'k8s.data', dir, offset: this.offset(conn, dir, raw.length + 1), channel, stream,
      size: raw.length, payload: raw.toString('base64'), ...extra,
    }, raw);
  }

  stdin(conn: string, b: Bytes): KubewireEvent {
    return this.data(conn, 'c2s', 'stdin', b);
  }

  stdout(conn: string, b: Bytes): KubewireEvent {
    return this.data(conn, 's2c', 'stdout', b);
  }

  initial(conn: string): KubewireEvent {
    return this.data(conn, 's2c', 'stdout', '', { initial: true });
  }

  summary(conn: string, streams: Record<string, { bytes: number; sha256: string }>): KubewireEvent {
    const summary: ConnectionSummary = {
      request: { method: 'GET', path: '/api/v1/namespaces/default/pods/web-0/exec', operation: 'exec', upgrade: 'websocket', offered: ['v5.channel.k8s.io'], kubectlSession: 'sess-1' },
      response: { status: 101, protocol: 'v5.channel.k8s.io' }, transport: 'websocket', streams,
      exitCode: 0, status: 'Success', statusReason: null, resizes: [[80, 24]], stdinClosed: false,
      pings: { c2s: 0, s2c: 0 }, closeCodes: { c2s: 1000, s2c: 1000 }, portForward: [], anomalies: 0,
    };
    return this.add(conn, { type: 'conn.summary', summary });
  }

  close(conn: string): KubewireEvent {
    return this.add(conn, { type: 'conn.close', closedBy: 'client', bytes: { c2s: 10, s2c: 20 }, durationMs: 1500, error: null });
  }

  other(conn: string): KubewireEvent {
    return this.add(conn, { type: 'k8s.resize', dir: 'c2s', offset: this.offset(conn, 'c2s', 1), width: 120, height: 40 });
  }
}

const digest = (c: string): { bytes: number; sha256: string } => ({ bytes: 7, sha256: c.repeat(64) });

/** Feeds `[event, now]` steps and collects every output; `flush` at the end unless told not to. */
function run(r: StdinRedactor, steps: [KubewireEvent, number][], opts: { flush?: boolean } = {}): KubewireEvent[] {
  const out: KubewireEvent[] = [];
  for (const [ev, now] of steps) out.push(...r.push(ev, now));
  if (opts.flush !== false) out.push(...r.flush());
  return out;
}

/** Steps `gap` ms apart from `t0`. */
const timed = (events: KubewireEvent[], t0 = 0, gap = 20): [KubewireEvent, number][] => events.map((e, i) => [e, t0 + i * gap]);

const isRedacted = (e: KubewireEvent): boolean => e.type === 'k8s.data' && e.redacted !== undefined;
const textOf = (e: KubewireEvent): string => (e.type === 'k8s.data' && e.payload !== undefined ? Buffer.from(e.payload, 'base64').toString('utf8') : '');

/** The redacted copy a stdin record must become. */
function expectRedactedCopyOf(out: KubewireEvent, input: KubewireEvent, how: 'all' | 'echo-off'): void {
  expect(out).not.toBe(input);
  if (out.type !== 'k8s.data' || input.type !== 'k8s.data') throw new Error('not k8s.data');
  const { payload: _p, truncated: _t, note: _n, ...kept } = input;
  expect(out).toEqual({ ...kept, redacted: how, note: noteFor(out) });
  expect(out.payload).toBeUndefined();
  expect(out.truncated).toBeUndefined();
  expect(out.size).toBe(input.size);
  expect(out.note).toContain('redacted');
}

// -- echo-off ------------------------------------------------------------------------------------

describe('StdinRedactor echo-off', () => {
  it('keeps a shell session where every typed key is echoed, releasing each record once its echo arrives', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    const out: KubewireEvent[] = [];
    const step = (ev: KubewireEvent, now: number): KubewireEvent[] => {
      const got = r.push(ev, now);
      out.push(...got);
      return got;
    };
    step(log.upgrade('c1', { tty: true }), 0);
    step(log.initial('c1'), 5);
    step(log.stdout('c1', '\x1b]0;root@web-0: /\x07root@web-0:/# '), 10);
    expect(step(log.stdin('c1', 'l'), 100)).toEqual([]);
    expect(r.held).toBe(1);
    const echoL = log.stdout('c1', 'l');
    expect(step(echoL, 130)).toHaveLength(2);
    expect(r.held).toBe(0);
    step(log.stdin('c1', 's'), 250);
    step(log.stdout('c1', 's'), 280);
    expect(r.held).toBe(0);
    // Enter is only a control: kept at once, no echo needed.
    expect(step(log.stdin('c1', '\r'), 400)).toHaveLength(1);
    step(log.stdout('c1', '\r\nbin  etc  usr\r\n\x1b]0;root@web-0: /\x07root@web-0:/# '), 430);
    out.push(...r.flush());
    expect(out).toHaveLength(log.events.length);
    out.forEach((e, i) => expect(e).toBe(log.events[i]));
  });

  it('redacts a sudo password typed at a no-echo prompt, with its length, and keeps the echoed command before it', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 1000 });
    const steps: [KubewireEvent, number][] = [[log.upgrade('c1', { tty: true }), 0], [log.stdout('c1', '$ '), 10]];
    let t = 100;
    for (const ch of 'sudo id') {
      steps.push([log.stdin('c1', ch), t], [log.stdout('c1', ch), t + 30]);
      t += 150;
    }
    steps.push([log.stdin('c1', '\r'), t], [log.stdout('c1', '\r\n[sudo] password for dev: '), t + 40]);
    t += 300;
    const password = 'hunter2';
    const typed: KubewireEvent[] = [];
    for (const ch of password) {
      const ev = log.stdin('c1', ch);
      typed.push(ev);
      steps.push([ev, t]);
      t += 150;
    }
    steps.push([log.stdin('c1', '\r'), t]);
    // sudo writes the newline the terminal did not echo, then the command's output (which has
    // some of the password's letters, in order: "u", "r", and so on).
    const newline = log.stdout('c1', '\r\n');
    steps.push([newline, t + 40], [log.stdout('c1', 'uid=0(root) gid=0(root) groups=0(root)\r\n$ '), t + 60]);

    const out: KubewireEvent[] = [];
    for (const [ev, now] of steps) {
      out.push(...r.push(ev, now));
      // Decided as soon as the answer to the line shows no echo, not holdMs later.
      if (ev === newline) expect(r.held).toBe(0);
    }
    out.push(...r.flush());
    expect(out.map((e) => e.seq)).toEqual(log.events.map((e) => e.seq));
    const redacted = out.filter(isRedacted);
    expect(redacted).toHaveLength(password.length);
    for (const ev of typed) expectRedactedCopyOf(out[log.events.indexOf(ev)]!, ev, 'echo-off');
    expect(redacted[0]!.note).toBe('stdin 1 B redacted (never echoed)');
    // Everything else is the very same object, the echoed `sudo id` included.
    const kept = out.filter((e) => !isRedacted(e));
    expect(kept.filter((e) => e.type === 'k8s.data' && e.stream === 'stdin').map(textOf).join('')).toBe('sudo id\r\r');
    for (const e of kept) expect(log.events).toContain(e);
  });

  it('redacts a read -s secret whose letters show up in the output after the next line break', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    const secret = 'root';
    const steps: [KubewireEvent, number][] = [[log.upgrade('c1', { tty: true }), 0], [log.stdout('c1', 'Token: '), 10]];
    secret.split('').forEach((ch, i) => steps.push([log.stdin('c1', ch), 100 + i * 120]));
    steps.push([log.stdin('c1', '\r'), 700], [log.stdout('c1', '\r\nroot\r\nroot@web-0:/# '), 720]);
    const out = run(r, steps, { flush: false });
    expect(out).toHaveLength(log.events.length);
    expect(out.filter(isRedacted).map((e) => e.seq)).toEqual(log.events.slice(2, 6).map((e) => e.seq));
  });

  it('redacts a password pasted in one record together with its Enter', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    const steps: [KubewireEvent, number][] = [[log.upgrade('c1', { tty: true }), 0], [log.stdout('c1', 'Password: '), 10]];
    const paste = log.stdin('c1', 's3cr3t-Passw0rd\r');
    steps.push([paste, 100], [log.stdout('c1', '\r\n'), 150], [log.stdout('c1', 'Password changed: s3cr3t-Passw0rd\r\n'), 160]);
    const out = run(r, steps, { flush: false });
    expect(out).toHaveLength(log.events.length);
    expectRedactedCopyOf(out[2]!, paste, 'echo-off');
    expect(out[2]).toMatchObject({ size: 16, note: 'stdin 16 B redacted (never echoed)' });
  });

  it('keeps a paste echoed in two stdout chunks, and holds it until the second', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    r.push(log.upgrade('c1', { tty: true }), 0);
    const paste = log.stdin('c1', '\x1b[200~kubectl get pods -A\x1b[201~');
    expect(r.push(paste, 100)).toEqual([]);
    expect(r.push(log.stdout('c1', '\x1b[7mkubectl get'), 150)).toEqual([]);
    expect(r.held).toBe(2);
    const rest = log.stdout('c1', ' pods -A\x1b[27m');
    expect(r.push(rest, 160)).toEqual([log.events[1], log.events[2], rest]);
    expect(r.held).toBe(0);
  });

  it('keeps keys whose echo comes inside a readline redraw, escape sequences split across chunks', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    let t = 0;
    const steps: [KubewireEvent, number][] = [];
    const at = (ev: KubewireEvent): void => {
      steps.push([ev, (t += 10)]);
    };
    at(log.upgrade('c1', { tty: true }));
    // `echo ab`, cursor back two places, type X: readline inserts it and redraws the rest.
    for (const ch of 'echo ab') {
      at(log.stdin('c1', ch));
      at(log.stdout('c1', ch));
    }
    at(log.stdin('c1', '\x1b[D'));
    at(log.stdout('c1', '\b'));
    at(log.stdin('c1', '\x1b[D'));
    at(log.stdout('c1', '\b'));
    at(log.stdin('c1', 'X'));
    at(log.stdout('c1', '\x1b[1'));
    at(log.stdout('c1', '@X'));
    // A zsh-style syntax-highlighting redraw of the whole line after the key.
    at(log.stdin('c1', 'Y'));
    at(log.stdout('c1', '\x1b[4D\x1b[32mech'));
    at(log.stdout('c1', 'o\x1b[39m aXYb\x1b[2D'));
    // An arrow key in application mode, and the window title a prompt sets.
    at(log.stdin('c1', '\x1bOA'));
    at(log.stdout('c1', '\x1b]2;web-0\x1b\\'));
    const out = run(r, steps);
    expect(out).toEqual(log.events);
    out.forEach((e, i) => expect(e).toBe(log.events[i]));
  });

  it('keeps keys typed faster than readline redraws: the rest of the line reprinted after one echo comes before the next', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 300 });
    const steps: [KubewireEvent, number][] = [[log.upgrade('c1', { tty: true }), 0]];
    let t = 0;
    for (const ch of 'cat ab') steps.push([log.stdin('c1', ch), (t += 10)], [log.stdout('c1', ch), (t += 10)]);
    steps.push([log.stdin('c1', '\x1b[D'), (t += 10)], [log.stdout('c1', '\b'), (t += 10)]);
    // X and Y are both sent before bash writes back `X` + the rest of the line + a backspace.
    steps.push([log.stdin('c1', 'X'), (t += 10)], [log.stdin('c1', 'Y'), (t += 1)]);
    steps.push([log.stdout('c1', 'Xb\b'), (t += 10)], [log.stdout('c1', 'Yb\b'), (t += 1)]);
    // A key pushed after the redraw arrived is anchored after it.
    steps.push([log.stdin('c1', 'Z'), (t += 10)], [log.stdout('c1', 'Zb\b'), (t += 10)]);
    const out = [...run(r, steps, { flush: false }), ...r.tick(t + 300)];
    expect(out).toHaveLength(log.events.length);
    out.forEach((e, i) => expect(e).toBe(log.events[i]));
  });

  it('redacts a password typed at `stty -echo; read PW` whose letters the next output has (kubectl: "len=14" once let the n through)', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 1000 });
    const steps: [KubewireEvent, number][] = [[log.upgrade('c1', { tty: true }), 0], [log.stdout('c1', 'web# '), 10]];
    let t = 100;
    const command = 'stty -echo; read PW; echo len=${#PW}; stty echo';
    for (const ch of command) {
      steps.push([log.stdin('c1', ch), t], [log.stdout('c1', ch), t + 5]);
      t += 20;
    }
    steps.push([log.stdin('c1', '\r'), t], [log.stdout('c1', '\r\n'), t + 5]);
    t += 100;
    const password = 'hunter2-secret';
    const typed: KubewireEvent[] = [];
    for (const ch of password) {
      const ev = log.stdin('c1', ch);
      typed.push(ev);
      steps.push([ev, t]);
      t += 40;
    }
    steps.push([log.stdin('c1', '\r'), t]);
    const answer = log.stdout('c1', 'len=14\r\nweb# ');
    steps.push([answer, t + 10]);

    const out: KubewireEvent[] = [];
    for (const [ev, now] of steps) {
      out.push(...r.push(ev, now));
      // Decided by the answer itself, not holdMs later.
      if (ev === answer) expect(r.held).toBe(0);
    }
    expect(out.map((e) => e.seq)).toEqual(log.events.map((e) => e.seq));
    expect(out.filter(isRedacted)).toHaveLength(password.length);
    for (const ev of typed) expectRedactedCopyOf(out[log.events.indexOf(ev)]!, ev, 'echo-off');
    const kept = out.filter((e) => !isRedacted(e));
    expect(kept.filter((e) => e.type === 'k8s.data' && e.stream === 'stdin').map(textOf).join('')).toBe(`${command}\r\r`);
    for (const e of kept) expect(log.events).toContain(e);
  });

  it('keeps input that is only controls (Enter, ^C, Tab, arrows, Escape) at once, with no echo at all', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    r.push(log.upgrade('c1', { tty: true }), 0);
    for (const keys of ['\r', '\x03', '\t', '\x1b[A', '\x1b[1;5C', '\x1bOB', '\x1b', '\x7f', '\x1b[200~\x1b[201~', '\x1bb']) {
      const ev = log.stdin('c1', keys);
      expect(r.push(ev, 10), JSON.stringify(keys)).toEqual([ev]);
    }
    expect(r.held).toBe(0);
  });

  it('keeps the stdin of a connection without a TTY (kubectl cp) in echo-off mode', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    r.push(log.upgrade('c1', { tty: false, command: ['tar', 'xmf', '-', '-C', '/tmp'] }), 0);
    const tarBytes = new Uint8Array(2048).map((_, i) => (i * 31) & 0xff);
    const ev = log.stdin('c1', tarBytes);
    expect(r.push(ev, 10)).toEqual([ev]);
    const summary = log.summary('c1', { stdin: digest('a'), stdout: digest('b') });
    expect(r.push(summary, 20)).toEqual([summary]);
    expect(r.held).toBe(0);
  });

  it('keeps stdin of a connection whose upgrade it never saw (no TTY known)', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    const ev = log.stdin('c9', 'secret');
    expect(r.push(ev, 0)).toEqual([ev]);
  });

  it('passes initial empty messages and zero-size records', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    r.push(log.upgrade('c1', { tty: true }), 0);
    const empty = log.stdin('c1', '');
    expect(r.push(empty, 1)).toEqual([empty]);
    const initial = log.initial('c1');
    expect(r.push(initial, 2)).toEqual([initial]);
  });

  it('needs one echo per key: typing "aaa" with one echoed "a" keeps the first only', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 300 });
    const steps: [KubewireEvent, number][] = [[log.upgrade('c1', { tty: true }), 0]];
    steps.push([log.stdin('c1', 'a'), 10], [log.stdin('c1', 'a'), 20], [log.stdin('c1', 'a'), 30], [log.stdout('c1', 'a'), 40]);
    const out = [...run(r, steps, { flush: false }), ...r.tick(400)];
    expect(out.map((e) => isRedacted(e))).toEqual([false, false, true, true, false]);
  });

  it('decodes a UTF-8 character split across two records: kept when echoed, both halves redacted when not', () => {
    const euro = Buffer.from('€', 'utf8');
    const echoed = new Log();
    const r1 = new StdinRedactor('echo-off');
    const out1 = run(r1, [[echoed.upgrade('c1', { tty: true }), 0], [echoed.stdin('c1', euro.subarray(0, 2)), 10], [echoed.stdin('c1', euro.subarray(2)), 20], [echoed.stdout('c1', euro.subarray(0, 1)), 30], [echoed.stdout('c1', euro.subarray(1)), 31]], { flush: false });
    expect(out1).toEqual(echoed.events);

    const silent = new Log();
    const r2 = new StdinRedactor('echo-off');
    const out2 = run(r2, [[silent.upgrade('c1', { tty: true }), 0], [silent.stdin('c1', euro.subarray(0, 1)), 10], [silent.stdin('c1', euro.subarray(1)), 20], [silent.stdin('c1', '\r'), 30], [silent.stdout('c1', '\r\n€\r\n'), 40]], { flush: false });
    expect(out2.map(isRedacted)).toEqual([false, true, true, false, false]);
    expect(r2.held).toBe(0);
  });

  it('redacts a record whose payload was not recorded in full (it cannot be judged)', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    r.push(log.upgrade('c1', { tty: true }), 0);
    const head = log.data('c1', 'c2s', 'stdin', 'abc', { size: 5000, truncated: true });
    expectRedactedCopyOf(r.push(head, 1)[0]!, head, 'echo-off');
  });

  it('holds later events of every connection behind a held record and releases them in seq order', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 500 });
    const steps: [KubewireEvent, number][] = [
      [log.upgrade('a', { tty: true }), 0],
      [log.upgrade('b', { tty: true }), 1],
      [log.stdout('a', 'Password: '), 2],
      [log.stdin('a', 'x'), 100], // never echoed
      [log.stdin('b', 'l'), 110],
      [log.other('b'), 115],
      [log.stdout('b', 'l'), 120],
      [log.stdin('a', 'y'), 200], // never echoed
      [log.stdin('b', 's'), 210],
      [log.stdout('b', 's'), 220],
    ];
    const out = run(r, steps, { flush: false });
    expect(out.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(r.held).toBe(7);
    expect(r.tick(599)).toEqual([]);
    const atX = r.tick(600);
    expect(atX.map((e) => e.seq)).toEqual([4, 5, 6, 7]);
    expect(isRedacted(atX[0]!)).toBe(true);
    expect(atX.slice(1)).toEqual(log.events.slice(4, 7));
    const atY = r.tick(700);
    expect(atY.map((e) => e.seq)).toEqual([8, 9, 10]);
    expect(atY.map(isRedacted)).toEqual([true, false, false]);
    expect(r.held).toBe(0);
  });

  it('replaces the stdin digest of a connection with redacted stdin, without touching the input', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 100 });
    const steps: [KubewireEvent, number][] = [
      [log.upgrade('c1', { tty: true }), 0],
      [log.upgrade('c2', { tty: true }), 0],
      [log.stdin('c1', 'pw'), 10],
      [log.stdin('c2', 'ls'), 10],
      [log.stdout('c2', 'ls'), 20],
      [log.summary('c1', { stdin: digest('a'), stdout: digest('b'), channel0: digest('c') }), 500],
      [log.summary('c2', { stdin: digest('d'), stdout: digest('e') }), 500],
      [log.close('c1'), 510],
      [log.close('c2'), 510],
    ];
    const out = run(r, steps);
    const s1 = out[5]!;
    expect(s1.type).toBe('conn.summary');
    if (s1.type !== 'conn.summary' || log.events[5]!.type !== 'conn.summary') throw new Error('unreachable');
    expect(s1.summary.streams).toEqual({ stdin: { bytes: 7, sha256: 'redacted' }, stdout: digest('b'), channel0: { bytes: 7, sha256: 'redacted' } });
    expect({ ...s1, summary: { ...s1.summary, streams: log.events[5]!.summary.streams } }).toEqual(log.events[5]);
    expect(log.events[5]!.summary.streams['stdin']!.sha256).toBe('a'.repeat(64));
    expect(out[6]).toBe(log.events[6]);
  });

  it('redacts the digest of a summary that arrives while its redacted record is still held', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 1000 });
    const out = run(r, [[log.upgrade('c1', { tty: true }), 0], [log.stdin('c1', 'k'), 10], [log.summary('c1', { stdin: digest('a') }), 20], [log.close('c1'), 30]], { flush: false });
    // conn.close: no echo can come any more, so the record is decided at once.
    expect(out).toHaveLength(4);
    expect(isRedacted(out[1]!)).toBe(true);
    expect(out[2]!.type === 'conn.summary' && out[2]!.summary.streams['stdin']!.sha256).toBe('redacted');
  });

  it('drops the state of a closed connection', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off');
    run(r, [[log.upgrade('c1', { tty: true }), 0], [log.close('c1'), 10]]);
    const late = log.stdin('c1', 'x');
    expect(r.push(late, 20)).toEqual([late]);
  });

  it('flush decides and releases everything still held (output with nothing printable decides nothing)', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 60_000 });
    // Only a cursor move and a colour came back: no printable character, so neither key is
    // decided yet, however long they wait.
    const out = run(r, [[log.upgrade('c1', { tty: true }), 0], [log.stdin('c1', 'q'), 10], [log.other('c1'), 20], [log.stdin('c1', 'z'), 30], [log.stdout('c1', '\x1b[?25h\x1b[0m'), 40]], { flush: false });
    expect(out).toHaveLength(1);
    expect(r.held).toBe(4);
    expect(r.tick(50_000)).toEqual([]);
    const rest = r.flush();
    expect(rest.map((e) => e.seq)).toEqual([2, 3, 4, 5]);
    expect(rest.map(isRedacted)).toEqual([true, false, true, false]);
    expect(r.held).toBe(0);
    expect(r.flush()).toEqual([]);
  });

  it('redacts a key at once when the next key\'s echo comes first (anchored: it was not echoed), keeping that next key', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 60_000 });
    // `q` in a pager is a command, not text: nothing echoes it; `z` typed after it is echoed.
    const out = run(r, [[log.upgrade('c1', { tty: true }), 0], [log.stdin('c1', 'q'), 10], [log.other('c1'), 20], [log.stdin('c1', 'z'), 30], [log.stdout('c1', 'z'), 40]], { flush: false });
    expect(out.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(out.map(isRedacted)).toEqual([false, true, false, false, false]);
    expect(r.held).toBe(0);
  });

  it('holds a record exactly holdMs: released redacted by the tick at its deadline, kept by an echo just before', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 750 });
    r.push(log.upgrade('c1', { tty: true }), 0);
    const ev = log.stdin('c1', 'k');
    expect(r.push(ev, 1000)).toEqual([]);
    expect(r.tick(1749)).toEqual([]);
    expect(r.held).toBe(1);
    const [got] = r.tick(1750);
    expectRedactedCopyOf(got!, ev, 'echo-off');

    const ev2 = log.stdin('c1', 'm');
    r.push(ev2, 2000);
    const echo = log.stdout('c1', 'm');
    expect(r.push(echo, 2749)).toEqual([ev2, echo]);

    const ev3 = log.stdin('c1', 'n');
    r.push(ev3, 3000);
    const late = log.stdout('c1', 'n');
    const after = r.push(late, 3750);
    expectRedactedCopyOf(after[0]!, ev3, 'echo-off');
    expect(after[1]).toBe(late);
  });

  it('redacts a key whose "echo" only follows other output, deciding on that output (anchored: a pty echoes first), and keeps no window', () => {
    const log = new Log();
    const r = new StdinRedactor('echo-off', { holdMs: 10_000, echoWindow: 64 });
    r.push(log.upgrade('c1', { tty: true }), 0);
    const key = log.stdin('c1', '§');
    expect(r.push(key, 1)).toEqual([]);
    const chunk = 'y'.repeat(4096);
    const first = log.stdout('c1', chunk);
    const got = r.push(first, 2);
    expect(got).toHaveLength(2);
    expectRedactedCopyOf(got[0]!, key, 'echo-off');
    expect(got[1]).toBe(first);
    expect(r.held).toBe(0);
    for (let i = 1; i < 200; i++) expect(r.push(log.stdout('c1', chunk), 2 + i)).toHaveLength(1);
    const late = log.stdout('c1', '§');
    expect(r.push(late, 300)).toEqual([late]);
  });

  it('keeps only echoWindow characters of stdout: a record whose place in stdout was pushed out of it is redacted', () => {
    // A character split across two records waits for its second half before it can be
    // matched, and stdout goes on meanwhile (line breaks: skipped before an echo). With the
    // window big enough its echo is found after them; with 4 characters the start was dropped,
    // so what came first after the key is unknown, and both halves are redacted.
    const e = Buffer.from('é', 'utf8');
    const scenario = (echoWindow: number): KubewireEvent[] => {
      const log = new Log();
      const r = new StdinRedactor('echo-off', { holdMs: 500, echoWindow });
      return run(r, [
        [log.upgrade('c1', { tty: true }), 0],
        [log.stdin('c1', e.subarray(0, 1)), 10],
        [log.stdout('c1', '\n'.repeat(8)), 20],
        [log.stdin('c1', e.subarray(1)), 30],
        [log.stdout('c1', e), 40],
      ], { flush: false });
    };
    expect(scenario(64).map(isRedacted)).toEqual([false, false, false, false, false]);
    expect(scenario(4).map(isRedacted)).toEqual([false, true, false, true, false]);
  });
});

// -- all and none --------------------------------------------------------------------------------

describe('StdinRedactor all and none', () => {
  function session(): Log {
    const log = new Log();
    log.upgrade('c1', { tty: true });
    log.initial('c1');
    log.stdin('c1', '');
    log.stdin('c1', 'l');
    log.stdout('c1', 'l');
    log.stdin('c1', 's\r');
    log.stdout('c1', 's\r\n');
    log.summary('c1', { stdin: digest('a'), stdout: digest('b') });
    log.close('c1');
    log.upgrade('c2', { tty: false, command: ['tar', 'xf', '-'] });
    log.stdin('c2', new Uint8Array([0, 1, 2, 255]));
    return log;
  }

  it('all: redacts every non-empty stdin record at once, holds nothing, and replaces the stdin digest', () => {
    const log = session();
    const r = new StdinRedactor('all');
    const out: KubewireEvent[] = [];
    for (const ev of log.events) {
      out.push(...r.push(ev, 0));
      expect(r.held).toBe(0);
    }
    expect(out).toHaveLength(log.events.length);
    [3, 5, 10].forEach((i) => expectRedactedCopyOf(out[i]!, log.events[i]!, 'all'));
    expect(out[3]!.note).toBe('stdin 1 B redacted (--redact-stdin all)');
    [0, 1, 2, 4, 6, 8, 9].forEach((i) => expect(out[i]).toBe(log.events[i]));
    expect(out[7]!.type === 'conn.summary' && out[7]!.summary.streams).toEqual({ stdin: { bytes: 7, sha256: 'redacted' }, stdout: digest('b') });
  });

  it('none: passes every event through, the very same objects', () => {
    const log = session();
    const r = new StdinRedactor('none');
    const out = run(r, timed(log.events));
    expect(out).toHaveLength(log.events.length);
    out.forEach((e, i) => expect(e).toBe(log.events[i]));
    expect(r.tick(1e9)).toEqual([]);
  });
});

// -- property --------------------------------------------------------------------------------------

type Action =
  | { kind: 'stdin'; conn: number; bytes: number[]; dt: number }
  | { kind: 'stdout'; conn: number; bytes: number[]; dt: number }
  | { kind: 'echo'; conn: number; dt: number }
  | { kind: 'other'; conn: number; dt: number }
  | { kind: 'summary'; conn: number; dt: number }
  | { kind: 'close'; conn: number; dt: number }
  | { kind: 'tick'; dt: number };

// Bytes that matter to the matcher: letters, controls, ESC sequences, parts of UTF-8 characters.
const byte = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(0x61, 0x62, 0x63, 0x64) },
  { weight: 2, arbitrary: fc.constantFrom(0x0d, 0x0a, 0x1b, 0x5b, 0x41, 0x4f, 0x5d, 0x07, 0x08, 0x7f, 0x03) },
  { weight: 2, arbitrary: fc.constantFrom(0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
);
const connIx = fc.integer({ min: 0, max: 2 });
const dt = fc.integer({ min: 0, max: 700 });
const action: fc.Arbitrary<Action> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('stdin' as const), conn: connIx, bytes: fc.array(byte, { maxLength: 6 }), dt }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('stdout' as const), conn: connIx, bytes: fc.array(byte, { maxLength: 12 }), dt }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('echo' as const), conn: connIx, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('other' as const), conn: connIx, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('summary' as const), conn: connIx, dt }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('close' as const), conn: connIx, dt }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tick' as const), dt }) },
);

describe('StdinRedactor property', () => {
  it('outputs the input events in the same seq order, each identical or a redacted copy of a stdin record', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<RedactStdinMode>('none', 'echo-off', 'all'),
        fc.integer({ min: 0, max: 1500 }),
        fc.array(fc.boolean(), { minLength: 3, maxLength: 3 }),
        fc.array(action, { maxLength: 80, size: 'medium' }),
        fc.boolean(),
        (mode, holdMs, ttys, actions, endWithTicks) => {
          const log = new Log();
          const r = new StdinRedactor(mode, { holdMs, echoWindow: 16 });
          const out: KubewireEvent[] = [];
          let now = 0;
          const lastStdin = new Map<string, Uint8Array>();
          ttys.forEach((tty, i) => out.push(...r.push(log.upgrade(`c${i}`, { tty }), now)));
          for (const a of actions) {
            now += a.dt;
            const conn = a.kind === 'tick' ? '' : `c${a.conn}`;
            switch (a.kind) {
              case 'stdin':
                lastStdin.set(conn, new Uint8Array(a.bytes));
                out.push(...r.push(log.stdin(conn, new Uint8Array(a.bytes)), now));
                break;
              case 'echo': {
                // What a terminal would write back: the last input, in a colour.
                const echo = Buffer.concat([Buffer.from('\x1b[1m'), lastStdin.get(conn) ?? new Uint8Array(), Buffer.from('\x1b[0m')]);
                out.push(...r.push(log.stdout(conn, echo), now));
                break;
              }
              case 'stdout': out.push(...r.push(log.stdout(conn, new Uint8Array(a.bytes)), now)); break;
              case 'other': out.push(...r.push(log.other(conn), now)); break;
              case 'summary': out.push(...r.push(log.summary(conn, { stdin: digest('a'), stdout: digest('b'), channel0: digest('c') }), now)); break;
              case 'close': out.push(...r.push(log.close(conn), now)); break;
              case 'tick': out.push(...r.tick(now)); break;
            }
            if (mode !== 'echo-off') expect(r.held).toBe(0);
            expect(out.length + r.held).toBe(log.events.length);
          }
          if (endWithTicks) out.push(...r.tick(now + holdMs));
          else out.push(...r.flush());
          if (!endWithTicks) expect(r.held).toBe(0);
          // With no more input, a tick after every hold ran out releases whatever flush would.
          expect(r.held).toBe(0);

          expect(out.map((e) => e.seq)).toEqual(log.events.map((e) => e.seq));
          out.forEach((o, i) => {
            const input = log.events[i]!;
            if (o === input) return;
            expect(mode).not.toBe('none');
            if (input.type === 'k8s.data') {
              expect(input.dir === 'c2s' && input.stream === 'stdin' && input.size > 0).toBe(true);
              expectRedactedCopyOf(o, input, mode === 'all' ? 'all' : 'echo-off');
            } else if (input.type === 'conn.summary' && o.type === 'conn.summary') {
              expect(o.summary.streams).toEqual({ stdin: { bytes: 7, sha256: 'redacted' }, stdout: digest('b'), channel0: { bytes: 7, sha256: 'redacted' } });
              expect({ ...o, summary: input.summary }).toEqual(input);
            } else throw new Error(`event ${input.seq} (${input.type}) came out changed`);
          });
          // A non-tty connection's stdin is never redacted in echo-off mode.
          if (mode === 'echo-off') {
            out.filter(isRedacted).forEach((e) => expect(ttys[Number(e.conn!.slice(1))]).toBe(true));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it('echo-off keeps every record whose echo comes back (split, coloured) and redacts every one that gets none', () => {
    const typed = fc.array(fc.record({ text: fc.string({ unit: fc.constantFrom(...'abcxyz019 -/.é€'), minLength: 1, maxLength: 8 }), echoed: fc.boolean(), cut: fc.nat() }), { minLength: 1, maxLength: 20 });
    fc.assert(
      fc.property(typed, (records) => {
        const log = new Log();
        const r = new StdinRedactor('echo-off', { holdMs: 200 });
        const out: KubewireEvent[] = [...r.push(log.upgrade('c1', { tty: true }), 0)];
        let now = 0;
        for (const { text, echoed, cut } of records) {
          out.push(...r.push(log.stdin('c1', text), (now += 10)));
          if (!echoed) {
            now += 300;
            continue;
          }
          const echo = Buffer.from(`\x1b[32m${text}\x1b[0m`, 'utf8');
          const at = cut % (echo.length + 1);
          out.push(...r.push(log.stdout('c1', echo.subarray(0, at)), (now += 5)));
          out.push(...r.push(log.stdout('c1', echo.subarray(at)), (now += 5)));
          now += 300;
        }
        out.push(...r.tick(now));
        expect(r.held).toBe(0);
        const stdin = out.filter((e) => e.type === 'k8s.data' && e.dir === 'c2s');
        expect(stdin.map(isRedacted)).toEqual(records.map((x) => !x.echoed));
      }),
      { numRuns: 200 },
    );
  });
});
