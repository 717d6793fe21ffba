import { describe, expect, it } from 'vitest';
import { encodeGoaway, encodeRstStream } from '../../src/codec/spdy-encode.js';
import type { CommandOutput, CommandRequest, K8sStatus, RunningCommand, StartCommand } from '../../src/demo/contracts.js';
import {
  SPDY_REMOTE_COMMAND_PROTOCOLS,
  negotiateSpdyProtocol,
  serveSpdyRemoteCommand,
  type SpdyRemoteCommandOptions,
} from '../../src/demo/spdy-remote-command.js';
import { SpdyServerConnection } from '../../src/demo/spdy-server-connection.js';
import { spdySocketPair, type SpdyTestClient } from '../support/spdy-client.js';
import { fakePod } from './fixtures.js';

// ---- a fake command and a served session ----

const POD = fakePod({ name: 'p1', uid: 'uid-1' });

interface Recorder {
  started: CommandRequest[];
  out: CommandOutput | null;
  stdin: string[];
  stdinEnds: number;
  resizes: [number, number][];
  aborts: number;
}

/** A StartCommand whose behaviour is the test's `onStart`, recording everything it is told. */
function fakeCommand(onStart: (out: CommandOutput, rec: Recorder) => Partial<RunningCommand> | void = () => {}) {
  const rec: Recorder = { started: [], out: null, stdin: [], stdinEnds: 0, resizes: [], aborts: 0 };
  const start: StartCommand = (req, out) => {
    rec.started.push(req);
    rec.out = out;
    const extra = onStart(out, rec) ?? {};
    return {
      stdin: (d) => {
        rec.stdin.push(d.toString());
        extra.stdin?.(d);
      },
      stdinEnd: () => {
        rec.stdinEnds++;
        extra.stdinEnd?.();
      },
      resize: (w, h) => rec.resizes.push([w, h]),
      abort: () => rec.aborts++,
    };
  };
  return { start, rec };
}

function request(flags: Partial<CommandRequest>): CommandRequest {
  return { pod: POD, container: 'c1', command: ['sh'], stdin: false, stdout: true, stderr: false, tty: false, attach: false, ...flags };
}

async function serve(
  req: CommandRequest,
  start: StartCommand,
  protocol = 'v4.channel.k8s.io',
  options: Partial<SpdyRemoteCommandOptions> = {},
) {
  const { client, server } = await spdySocketPair();
  const conn = new SpdyServerConnection(server);
  serveSpdyRemoteCommand(conn, protocol, req, start, { dropStatus: () => false, ...options });
  return { client, conn };
}

/** Opens streams one by one, each after the previous SYN_REPLY, as kubectl does. */
async function openStreams(client: SpdyTestClient, types: string[]): Promise<number[]> {
  const ids: number[] = [];
  for (const type of types) {
    const id = client.open({ streamtype: type });
    await client.replied(id);
    ids.push(id);
  }
  return ids;
}

const SUCCESS: K8sStatus = { metadata: {}, status: 'Success' };
const NON_ZERO_JSON =
  '{"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}}';

// ---- tests ----

describe('negotiateSpdyProtocol', () => {
  it('takes the first CLIENT protocol the kubelet supports: v4 for kubectl 1.29+', () => {
    const offered = ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'];
    expect(negotiateSpdyProtocol(offered)).toEqual({ ok: true, protocol: 'v4.channel.k8s.io' });
    expect(negotiateSpdyProtocol(['channel.k8s.io', 'v4.channel.k8s.io'])).toEqual({ ok: true, protocol: 'channel.k8s.io' });
    expect(negotiateSpdyProtocol(['v5.channel.k8s.io, v3.channel.k8s.io'])).toEqual({ ok: true, protocol: 'v3.channel.k8s.io' });
    expect(SPDY_REMOTE_COMMAND_PROTOCOLS).not.toContain('v5.channel.k8s.io');
  });

  it('refuses a missing header with 400', () => {
    const r = negotiateSpdyProtocol([]);
    expect(r).toMatchObject({ ok: false, status: 400, body: 'unable to upgrade: X-Stream-Protocol-Version is required\n' });
  });

  it('refuses no common protocol with 403, the accepted list and Go-formatted lists', () => {
    const r = negotiateSpdyProtocol(['v9.channel.k8s.io', 'portforward.k8s.io']);
    expect(r).toEqual({
      ok: false,
      status: 403,
      body:
        'unable to upgrade: unable to negotiate protocol: client supports [v9.channel.k8s.io portforward.k8s.io], ' +
        'server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n',
      headers: {
        'Content-Type': 'text/plain; charset=utf-8',
        'X-Content-Type-Options': 'nosniff',
        'X-Accepted-Stream-Protocol-Versions': 'v4.channel.k8s.io, v3.channel.k8s.io, v2.channel.k8s.io, channel.k8s.io',
      },
    });
  });
});

describe('serveSpdyRemoteCommand', () => {
  it('v4: stdout and stderr, their FINs, the JSON status, its FIN, then GOAWAY and TCP FIN', async () => {
    const { start, rec } = fakeCommand((out) => {
      expect(out.stdout(Buffer.from('hi\n'))).toBe(true);
      out.stderr(Buffer.from('oops'));
      // kind and apiVersion are not written, as the kubelet marshals status.Status().
      out.finish({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' });
    });
    const { client } = await serve(request({ stdout: true, stderr: true }), start);
    await openStreams(client, ['error', 'stdout', 'stderr']);
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.summary()).toEqual([
      'SYN_REPLY 1',
      'SYN_REPLY 3',
      'SYN_REPLY 5',
      'DATA 3 "hi\\n"',
      'DATA 5 "oops"',
      'DATA 3 FIN',
      'DATA 5 FIN',
      'DATA 1 "{\\"metadata\\":{},\\"status\\":\\"Success\\"}"',
      'DATA 1 FIN',
      'GOAWAY 5 0',
    ]);
    expect(client.received(1).toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(rec.started).toHaveLength(1);
    expect(rec.aborts).toBe(0);
  });

  it('v4: the NonZeroExitCode status, fields in metav1.Status order whatever the object order', async () => {
    const status = {
      details: { causes: [{ message: '3', reason: 'ExitCode' }] },
      reason: 'NonZeroExitCode',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      status: 'Failure',
      metadata: {},
    } as K8sStatus;
    const { start } = fakeCommand((out) => out.finish(status));
    const { client } = await serve(request({ stdout: true }), start);
    await openStreams(client, ['error', 'stdout']);
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.received(1).toString()).toBe(NON_ZERO_JSON);
  });

  it('v1 (channel.k8s.io): the message as plain text on failure, nothing on success', async () => {
    const failing = fakeCommand((out) => out.finish({ metadata: {}, status: 'Failure', message: 'command terminated with exit code 3' }));
    const a = await serve(request({}), failing.start, 'channel.k8s.io');
    await openStreams(a.client, ['error', 'stdout']);
    await a.client.until('tcp end', () => a.client.tcpEnded);
    expect(a.client.summary().slice(2)).toEqual(['DATA 3 FIN', 'DATA 1 "command terminated with exit code 3"', 'DATA 1 FIN', 'GOAWAY 3 0']);

    const ok = fakeCommand((out) => out.finish(SUCCESS));
    const b = await serve(request({}), ok.start, 'v3.channel.k8s.io');
    await openStreams(b.client, ['error', 'stdout']);
    await b.client.until('tcp end', () => b.client.tcpEnded);
    expect(b.client.summary().slice(2)).toEqual(['DATA 3 FIN', 'DATA 1 FIN', 'GOAWAY 3 0']);
  });

  it('dropStatus: FINs and GOAWAY without the status (kubectl then reports success)', async () => {
    const { start } = fakeCommand((out) => out.finish({ ...SUCCESS, status: 'Failure', message: 'x' }));
    const { client } = await serve(request({}), start, 'v4.channel.k8s.io', { dropStatus: () => true });
    await openStreams(client, ['error', 'stdout']);
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.summary()).toEqual(['SYN_REPLY 1', 'SYN_REPLY 3', 'DATA 3 FIN', 'DATA 1 FIN', 'GOAWAY 3 0']);
  });

  it('stdin DATA goes to the command, stdin FIN to stdinEnd; unfinished input streams are reset at close', async () => {
    const { start, rec } = fakeCommand((out, r) => ({
      stdinEnd: () => {
        out.stdout(Buffer.from(r.stdin.join('')));
        out.finish(SUCCESS);
      },
    }));
    const { client } = await serve(request({ stdin: true }), start);
    const [, stdin] = await openStreams(client, ['error', 'stdin', 'stdout']);
    client.data(stdin!, 'line1\n');
    client.data(stdin!, 'line2\n');
    client.data(stdin!, '', true);
    await client.until('tcp end', () => client.tcpEnded);
    expect(rec.stdin).toEqual(['line1\n', 'line2\n']);
    expect(rec.stdinEnds).toBe(1);
    expect(client.summary().slice(3)).toEqual([
      'DATA 5 "line1\\nline2\\n"',
      'DATA 5 FIN',
      'DATA 1 "{\\"metadata\\":{},\\"status\\":\\"Success\\"}"',
      'DATA 1 FIN',
      'RST 3 5',
      'GOAWAY 5 0',
    ]);
  });

  it('tty: no stderr stream, and resize JSON is read across DATA frames', async () => {
    const { start, rec } = fakeCommand();
    const { client } = await serve(request({ stdin: true, stderr: true, tty: true }), start);
    const [, , , resize] = await openStreams(client, ['error', 'stdin', 'stdout', 'resize']);
    await client.until('start', () => rec.started.length === 1);
    client.data(resize!, '{"Width":1');
    client.data(resize!, '20,"Height":40}\n{"wid');
    client.data(resize!, 'th":80,"HEIGHT":24}\n');
    await client.until('resizes', () => rec.resizes.length === 2);
    expect(rec.resizes).toEqual([
      [120, 40],
      [80, 24],
    ]);
    rec.out!.finish(SUCCESS);
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.summary().slice(4)).toEqual([
      'DATA 5 FIN',
      'DATA 1 "{\\"metadata\\":{},\\"status\\":\\"Success\\"}"',
      'DATA 1 FIN',
      'RST 3 5',
      'RST 7 5',
      'GOAWAY 7 0',
    ]);
  });

  it('v2 with a tty needs no resize stream', async () => {
    const { start, rec } = fakeCommand();
    const { client } = await serve(request({ stdin: true, tty: true }), start, 'v2.channel.k8s.io');
    await openStreams(client, ['error', 'stdin', 'stdout']);
    await client.until('start', () => rec.started.length === 1);
  });

  it('times out waiting for streams: the kubelet text as a Status on the error stream, then close', async () => {
    const { start, rec } = fakeCommand();
    const { client } = await serve(request({ stdout: true }), start, 'v4.channel.k8s.io', { streamTimeoutMs: 80 });
    await openStreams(client, ['error']);
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.summary()).toEqual([
      'SYN_REPLY 1',
      'DATA 1 "{\\"metadata\\":{},\\"status\\":\\"Failure\\",\\"message\\":\\"timed out waiting for client to create streams\\"}"',
      'DATA 1 FIN',
      'GOAWAY 1 0',
    ]);
    expect(client.received(1).toString()).toBe(
      '{"metadata":{},"status":"Failure","message":"timed out waiting for client to create streams"}',
    );
    expect(rec.started).toEqual([]);
  });

  it('aborts the command when the client closes the socket', async () => {
    const { start, rec } = fakeCommand();
    const { client } = await serve(request({}), start);
    await openStreams(client, ['error', 'stdout']);
    await client.until('start', () => rec.started.length === 1);
    client.socket.destroy();
    await client.until('abort', () => rec.aborts === 1);
    // A late finish and late output are harmless.
    rec.out!.finish(SUCCESS);
    expect(rec.out!.stdout(Buffer.from('late'))).toBe(false);
    expect(rec.aborts).toBe(1);
  });

  it('aborts the command on a client GOAWAY, and closes', async () => {
    const { start, rec } = fakeCommand();
    const { client } = await serve(request({}), start);
    await openStreams(client, ['error', 'stdout']);
    await client.until('start', () => rec.started.length === 1);
    client.send(encodeGoaway(3, 0));
    await client.until('tcp end', () => client.tcpEnded);
    expect(rec.aborts).toBe(1);
    expect(client.summary().slice(2)).toEqual(['RST 1 5', 'RST 3 5', 'GOAWAY 3 0']);
  });

  it('aborts the command when the client resets stdout', async () => {
    const { start, rec } = fakeCommand();
    const { client } = await serve(request({}), start);
    const [, stdout] = await openStreams(client, ['error', 'stdout']);
    await client.until('start', () => rec.started.length === 1);
    client.send(encodeRstStream(stdout!, 5));
    await client.until('abort', () => rec.aborts === 1);
    await client.until('tcp end', () => client.tcpEnded);
  });

  it('backpressure: a slow reader makes stdout() return false, and drain tells the command to go on', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let sawFalse = false;
    let drained = 0;
    const { start } = fakeCommand((out) => {
      // Bounded: a loopback socket fills long before 2048 × 64 KiB.
      for (let i = 0; i < 2048; i++) {
        written += chunk.length;
        if (!out.stdout(chunk)) {
          sawFalse = true;
          break;
        }
      }
      out.onDrain(() => {
        drained++;
        if (drained === 1) out.finish(SUCCESS);
      });
    });
    const { client } = await serve(request({}), start);
    await openStreams(client, ['error']);
    client.socket.pause();
    client.open({ streamtype: 'stdout' });
    await new Promise((r) => setTimeout(r, 100));
    expect(sawFalse).toBe(true);
    expect(drained).toBe(0);
    client.socket.resume();
    await client.until('tcp end', () => client.tcpEnded, 5000);
    expect(drained).toBeGreaterThanOrEqual(1);
    const stdout = client.received(3).length;
    expect(stdout).toBe(written);
    expect(client.received(1).toString()).toBe('{"metadata":{},"status":"Success"}');
  });

  it('a command that throws at start ends with an InternalError status', async () => {
    const start: StartCommand = () => {
      throw new Error('no such container');
    };
    const { client } = await serve(request({}), start);
    await openStreams(client, ['error', 'stdout']);
    await client.until('tcp end', () => client.tcpEnded);
    expect(client.received(1).toString()).toBe(
      '{"metadata":{},"status":"Failure","message":"Internal error occurred: no such container","reason":"InternalError","code":500}',
    );
  });
});
