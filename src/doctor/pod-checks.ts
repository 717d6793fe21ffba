/**
 * Checks against a real pod (`--pod`), over the transport that works (kubectl's own choice:
 * WebSocket v5 when the path carries it, else SPDY): an echo, a 1 MiB output, a ping/pong, a
 * tty resize, and (with --idle) a session held idle until the path cuts it or the command ends.
 */
import { randomUUID } from 'node:crypto';
import type { Upstream } from '../proxy/upstream.js';
import type { CheckOutcome } from './checks.js';
import type { ExecProbe, ExecTransport, PodTarget } from './exec-probe.js';
import { diagnoseTranscript } from './exchange.js';
import { SpdyExecProbe } from './spdy-exec-probe.js';
import { WsExecProbe } from './ws-exec-probe.js';

export type { PodTarget } from './exec-probe.js';

const MIB = 1024 * 1024;

type NewProbe = () => ExecProbe;

function outcome(exec: ExecProbe, id: string, name: string, conn: string, verdict: 'pass' | 'fail' | 'warn', detail: string, data: Record<string, unknown> = {}): CheckOutcome {
  const { findings } = diagnoseTranscript(exec.transcript, exec.session, conn);
  return { check: { id, name: `${name} (${exec.label})`, verdict, detail, data: { session: exec.session, transport: exec.transport, ...data } }, findings };
}

function refused(exec: ExecProbe, id: string, name: string, conn: string): CheckOutcome {
  return outcome(exec, id, name, conn, 'fail', `the exec upgrade failed: ${exec.status101?.detail ?? 'no answer'}`);
}

async function checkEcho(probe: NewProbe, conn: string): Promise<CheckOutcome> {
  const id = 'pod-echo';
  const name = 'exec echo';
  const exec = probe();
  if (!(await exec.open(['echo', 'kubewire-doctor']))) return refused(exec, id, name, conn);
  await exec.finish(10_000);
  const problems: string[] = [];
  const expected = exec.transport === 'websocket' ? 'v5.channel.k8s.io' : 'v4.channel.k8s.io';
  if (exec.protocol !== expected) problems.push(`protocol ${exec.protocol || 'none'}`);
  if (exec.stdout !== 'kubewire-doctor\n') problems.push(`stdout ${JSON.stringify(exec.stdout.slice(0, 60))}`);
  if (exec.statusJson?.status !== 'Success') problems.push(exec.statusText());
  if (exec.cleanEnd === null) problems.push(exec.transport === 'websocket' ? 'no close frame' : 'the error stream never ended');
  const ok = problems.length === 0;
  return outcome(exec, id, name, conn, ok ? 'pass' : 'fail', ok ? `stdout "kubewire-doctor", status Success, ${exec.cleanEnd}` : problems.join('; '), { cleanEnd: exec.cleanEnd });
}

async function checkBulk(probe: NewProbe, conn: string): Promise<CheckOutcome> {
  const id = 'pod-1mib';
  const name = '1 MiB output';
  const exec = probe();
  const started = Date.now();
  if (!(await exec.open(['head', '-c', String(MIB), '/dev/zero']))) return refused(exec, id, name, conn);
  await exec.finish(20_000);
  const got = exec.channelBytes.get(1) ?? 0;
  const ms = Date.now() - started;
  const ok = got === MIB && exec.statusJson?.status === 'Success';
  const detail = ok ? `${got} bytes on stdout in ${ms} ms, status Success` : `${got} of ${MIB} bytes on stdout; ${exec.statusText()}${exec.cleanEnd === null ? '; no clean end' : ''}`;
  return outcome(exec, id, name, conn, ok ? 'pass' : 'fail', detail, { bytes: got, ms });
}

async function checkPing(probe: NewProbe, conn: string): Promise<CheckOutcome> {
  const id = 'pod-ping';
  const name = 'ping/pong';
  const exec = probe();
  if (!(await exec.open(['sleep', '1']))) return refused(exec, id, name, conn);
  const sent = Date.now();
  exec.ping();
  const got = await exec.wait(() => exec.pongAt !== null, 5_000);
  await exec.finish(10_000);
  if (!got) {
    const why = exec.transport === 'websocket' ? 'kubectl aborts a session whose pings go unanswered (after 61 s)' : 'the path does not carry SPDY PING frames both ways';
    return outcome(exec, id, name, conn, 'fail', `no pong within 5 s: ${why}`);
  }
  return outcome(exec, id, name, conn, 'pass', `pong after ${exec.pongAt! - sent} ms`, { ms: exec.pongAt! - sent });
}

async function checkResize(probe: NewProbe, conn: string): Promise<CheckOutcome> {
  const id = 'pod-resize';
  const name = 'tty resize';
  const exec = probe();
  if (!(await exec.open(['sh', '-c', 'sleep 0.5; stty size'], { tty: true, stdin: true }))) return refused(exec, id, name, conn);
  exec.resize(100, 30);
  await exec.wait(() => /\d+ \d+/.test(exec.stdout), 10_000);
  // Stdin ends, so the shell is not kept waiting.
  exec.closeStdin();
  await exec.finish(10_000);
  const size = /(\d+) (\d+)/.exec(exec.stdout);
  const ok = size !== null && size[1] === '30' && size[2] === '100';
  const where = exec.transport === 'websocket' ? 'channel 4' : 'the resize stream';
  return outcome(exec, id, name, conn, ok ? 'pass' : 'fail', ok ? `stty size saw "30 100" after the resize on ${where}` : `stty size printed ${JSON.stringify(exec.stdout.trim().slice(0, 60))}, expected "30 100"`);
}

async function checkIdle(probe: NewProbe, seconds: number, conn: string): Promise<CheckOutcome> {
  const id = 'pod-idle';
  const name = `idle ${seconds} s`;
  const exec = probe();
  const sleep = seconds + 5;
  if (!(await exec.open(['sleep', String(sleep)]))) return refused(exec, id, name, conn);
  await exec.finish((sleep + 10) * 1000);
  const lasted = ((exec.endedAt ?? Date.now()) - exec.openedAt) / 1000;
  if (exec.statusJson?.status === 'Success') {
    return outcome(exec, id, name, conn, 'pass', `a session idle for ${sleep} s without pings was not cut (status Success after ${lasted.toFixed(1)} s)`, { seconds: lasted });
  }
  const cut = lasted < seconds;
  return outcome(exec, id, name, conn, cut ? 'fail' : 'warn', `the idle session ended after ${lasted.toFixed(1)} s without a status${exec.cleanEnd === null ? ' or a clean end' : ''}: the path cuts idle connections at about ${Math.round(lasted)} s`, { seconds: lasted });
}

export function newExecProbe(u: Upstream, pod: PodTarget, transport: ExecTransport): ExecProbe {
  return transport === 'websocket' ? new WsExecProbe(u, pod, randomUUID()) : new SpdyExecProbe(u, pod, randomUUID());
}

export async function runPodChecks(u: Upstream, pod: PodTarget, idleSeconds: number | null, nextConn: () => string, transport: ExecTransport = 'websocket'): Promise<CheckOutcome[]> {
  const probe = (): ExecProbe => newExecProbe(u, pod, transport);
  const out: CheckOutcome[] = [];
  out.push(await checkEcho(probe, nextConn()));
  out.push(await checkBulk(probe, nextConn()));
  out.push(await checkPing(probe, nextConn()));
  out.push(await checkResize(probe, nextConn()));
  if (idleSeconds !== null) out.push(await checkIdle(probe, idleSeconds, nextConn()));
  return out;
}
