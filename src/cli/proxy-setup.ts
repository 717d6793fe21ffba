/**
 * What `proxy` and `run` share: the upstream from the kubeconfig, the observer (on a worker
 * thread: the decoders, the log, the session model, diagnosis and the audit recorder;
 * src/observer) and the proxy itself, started in that order so that a bad kubeconfig or an
 * unwritable log is reported before anything listens.
 */
import type { PayloadMode } from '../codec/decode-context.js';
import type { EventBody } from '../events/types.js';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { WorkerObserver } from '../observer/worker-observer.js';
import { loadUpstream } from '../proxy/kubeconfig-upstream.js';
import type { ClientAdmission } from '../proxy/client-admission.js';
import { KubewireProxy, type ProxyOptions } from '../proxy/proxy-server.js';
import type { Upstream } from '../proxy/upstream.js';
import type { TranslateMode } from '../translate/mode.js';
import { TransportVerdicts } from '../translate/auto-verdicts.js';
import type { SessionObserver } from '../session/session-observer.js';
import { defaultLogPath } from '../sinks/jsonl-sink.js';
import { VERSION } from '../version.js';
import { auditStartFacts, readAuditKey, readAuditSigningKey, type AuditSettings } from './audit-setup.js';
import type { ListenAddress } from './listen-address.js';
import { stateDir } from './state-dir.js';

/** How long the start-up probe of the upstream waits for a TCP connection. */
const PROBE_TIMEOUT_MS = 2000;

export interface ProxyFlags {
  kubeconfig?: string;
  context?: string;
  log?: string;
  payload: PayloadMode;
  /** Set by `--audit` (see auditSettings): the log is a hash chain and nothing is dropped. */
  audit?: AuditSettings | null;
  /** `--translate` (src/translate/mode.ts); off unless given. */
  translate?: TranslateMode;
  /** `kubewire gateway`: many users, each admitted by their own credential (src/gateway). */
  serving?: ServingOptions;
}

/** How `kubewire gateway` serves, where `proxy` serves one user on loopback. */
export interface ServingOptions {
  /** Passthrough: the kubeconfig gives the server and its CA only; no credential of its own is used. */
  withoutCredentials: boolean;
  admission(upstream: Upstream): ClientAdmission;
  tls: ProxyOptions['tls'];
  clientCaPem?: string;
  /**
   * The JSON log on stdout, written by the observer's worker with at most `limit` bytes
   * waiting; `attach` is given the observer as soon as it runs, to send it the relay's lines.
   */
  stdoutLog?: { limit: number; attach(observer: WorkerObserver): void };
}

/** The log being written: the JSONL log, or the audit log's first file. */
export interface LogInfo {
  readonly path: string;
}

export interface RunningProxy {
  upstream: Upstream;
  proxy: KubewireProxy;
  observer: WorkerObserver;
  log: LogInfo;
  /** One line per kubectl command (and `!` lines) to `out`, from now on. */
  showConsole(out: Output): void;
  /** The live view's copy of the one session model; consumers register with `add`. */
  sessions(): SessionObserver;
  emit(body: EventBody): void;
  /** Stops listening, ends open tunnels, settles every session, flushes and closes the log. */
  shutdown(reason: string): Promise<void>;
}

export async function startProxy(flags: ProxyFlags, listen: ListenAddress, kubeconfigOut: string | null, errors: Output): Promise<RunningProxy> {
  const upstream = await loadUpstream({
    ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}),
    ...(flags.serving?.withoutCredentials ? { withoutCredentials: true } : {}),
  });
  // Meanwhile: can the upstream be reached at all? Said once, before anything is served.
  const probe = upstream.probe?.(PROBE_TIMEOUT_MS) ?? Promise.resolve(null);
  const auditing = flags.audit ?? null;
  // With a store the observer names the file or database it writes (its `ready`), and `--log`
  // is where a PostgreSQL store spools.
  const logPath = flags.log ?? defaultLogPath(stateDir(), new Date());
  const payload: PayloadMode = auditing ? 'full' : flags.payload;
  const key = auditing ? await readAuditKey(auditing) : null;
  const signingKey = auditing ? await readAuditSigningKey(auditing) : null;
  const observer = await WorkerObserver.start({
    payload, lossless: auditing !== null || payload === 'full', digests: auditing !== null, logPath,
    audit: auditing ? { settings: auditing, key: key ? new Uint8Array(key) : null, signingKey } : null, errors,
    stdoutLog: flags.serving?.stdoutLog ? { fd: 1, limit: flags.serving.stdoutLog.limit } : null,
  });
  flags.serving?.stdoutLog?.attach(observer);
  const abandon = async (): Promise<void> => void (await observer.shutdown('start failed', 0));
  if (auditing) {
    try {
      await observer.startAudit(await auditStartFacts(upstream));
    } catch (e) {
      await abandon();
      throw e;
    }
  }
  let proxy: KubewireProxy;
  try {
    const serving = flags.serving;
    const verdicts = flags.translate === 'auto' ? autoVerdicts(observer, upstream, errors) : undefined;
    proxy = await KubewireProxy.start({
      upstream, observer, host: listen.host, port: listen.port, refusal: () => observer.refusal(), ...(flags.translate ? { translate: flags.translate } : {}), ...(verdicts ? { verdicts } : {}),
      ...(serving ? { admission: serving.admission(upstream), tls: serving.tls, ...(serving.clientCaPem ? { clientCaPem: serving.clientCaPem } : {}) } : {}),
    });
  } catch (e) {
    await abandon();
    throw new CliError('KW_ERR_LISTEN', `cannot listen on ${listen.host}:${listen.port}: ${(e as Error).message}`, 1);
  }
  if (auditing?.failMode === 'closed') observer.onAuditFailure(() => proxy.endOpenConnections());
  if (kubeconfigOut) {
    try {
      await proxy.writeKubeconfig(kubeconfigOut);
    } catch (e) {
      await proxy.stop();
      await abandon();
      throw new CliError('KW_ERR_KUBECONFIG_WRITE', `cannot write the kubeconfig ${kubeconfigOut}: ${(e as Error).message}`, 1);
    }
  }
  const unreachable = await probe;
  if (unreachable) errors.line(`kubewire: warning: ${unreachable}; serving anyway`);
  const emit = (body: EventBody): void => observer.publish(body);
  const log = { path: observer.logPath };
  emit({ type: 'proxy.start', listen: proxy.url, upstream: upstream.describe(), context: upstream.contextName, kubeconfig: kubeconfigOut, payloadMode: payload, log: log.path, version: VERSION, pid: process.pid });
  return {
    upstream,
    proxy,
    observer,
    log,
    showConsole: (out) => observer.showConsole(out),
    sessions: () => observer.mirrorSessions(),
    emit,
    shutdown: async (reason) => {
      await proxy.stop();
      const gap = await observer.shutdown(reason, proxy.connections);
      if (gap) errors.line(`kubewire: ${gap}`);
    },
  };
}

/**
 * `--translate auto`: the verdicts, judged from the session model's connections as they end,
 * and said once per transport on stderr and in the log.
 */
function autoVerdicts(observer: WorkerObserver, upstream: Upstream, errors: Output): TransportVerdicts {
  const verdicts = new TransportVerdicts((transport, why) => {
    const other = transport === 'spdy' ? 'WebSocket' : 'SPDY';
    const message = `the upstream refuses ${transport === 'spdy' ? 'SPDY' : 'WebSocket'} streaming (${why}): --translate auto speaks ${other} upstream for the next exec, attach and port-forward`;
    errors.line(`kubewire: ${message}`);
    observer.publish({ type: 'proxy.error', code: 'KW_NOTE_TRANSLATE_AUTO', message, upstream: upstream.describe(), status: null });
  });
  observer.mirrorSessions().add({ connectionEnded: (c) => verdicts.judge(c) });
  return verdicts;
}
