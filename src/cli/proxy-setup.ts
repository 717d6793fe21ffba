/**
 * What `proxy` and `run` share: the upstream from the kubeconfig, the JSONL log, the event bus
 * and the proxy itself, started in that order so that a bad kubeconfig or an unwritable log is
 * reported before anything listens.
 */
import type { PayloadMode } from '../codec/decode-context.js';
import { DiagnosisEngine, findingBody } from '../diagnose/engine.js';
import { EventBus } from '../events/event-bus.js';
import { noteFor } from '../events/notes.js';
import type { EventBody } from '../events/types.js';
import { CliError } from '../io/errors.js';
import type { Output } from '../io/output.js';
import { loadUpstream } from '../proxy/kubeconfig-upstream.js';
import { KubewireProxy } from '../proxy/proxy-server.js';
import type { Upstream } from '../proxy/upstream.js';
import { SessionObserver } from '../session/session-observer.js';
import { defaultLogPath, JsonlSink } from '../sinks/jsonl-sink.js';
import { VERSION } from '../version.js';
import { startAudit, type AuditRecording, type AuditSettings } from './audit-setup.js';
import type { ListenAddress } from './listen-address.js';
import { stateDir } from './state-dir.js';

export interface ProxyFlags {
  kubeconfig?: string;
  context?: string;
  log?: string;
  payload: PayloadMode;
  /** Set by `--audit` (see auditSettings): the log is a hash chain and nothing is dropped. */
  audit?: AuditSettings | null;
}

/** The log being written: the JSONL log, or the audit log's first file. */
export interface LogInfo {
  readonly path: string;
}

export interface RunningProxy {
  upstream: Upstream;
  proxy: KubewireProxy;
  bus: EventBus;
  /** The one session model of this proxy's events; consumers register with `sessions.add`. */
  sessions: SessionObserver;
  log: LogInfo;
  emit(body: EventBody): void;
  /** Stops listening, ends open tunnels, flushes and closes the log. */
  shutdown(reason: string): Promise<void>;
}

export async function startProxy(flags: ProxyFlags, listen: ListenAddress, kubeconfigOut: string | null, errors: Output): Promise<RunningProxy> {
  const upstream = await loadUpstream({ ...(flags.kubeconfig ? { kubeconfig: flags.kubeconfig } : {}), ...(flags.context ? { context: flags.context } : {}) });
  const logPath = flags.log ?? defaultLogPath(stateDir(), new Date());
  const auditing = flags.audit ?? null;
  const bus = new EventBus({ lossless: auditing !== null || flags.payload === 'full' });
  const sessions = new SessionObserver();
  const detachSessions = sessions.attach(bus);
  let log: LogInfo;
  let audit: AuditRecording | null = null;
  if (auditing) {
    audit = await startAudit(auditing, logPath, upstream, errors);
    try {
      await audit.attach(bus, sessions);
    } catch (e) {
      detachSessions();
      await bus.close();
      throw e;
    }
    log = audit.sink;
  } else {
    const jsonl = await JsonlSink.open(logPath);
    jsonl.onError((e) => errors.line(`kubewire: ${e.message} [${e.code}]`));
    bus.addSink(jsonl);
    log = jsonl;
  }
  const payload: PayloadMode = auditing ? 'full' : flags.payload;
  const emit = (body: EventBody): void => void bus.publish(body, noteFor(body));
  let proxy: KubewireProxy;
  try {
    proxy = await KubewireProxy.start({ upstream, bus, payload, host: listen.host, port: listen.port, ...(audit ? { refusal: audit.refusal } : {}) });
  } catch (e) {
    audit?.finish();
    detachSessions();
    await bus.close();
    throw new CliError('KW_ERR_LISTEN', `cannot listen on ${listen.host}:${listen.port}: ${(e as Error).message}`, 1);
  }
  if (auditing?.failMode === 'closed') audit!.onFailure(() => proxy.endOpenConnections());
  if (kubeconfigOut) {
    try {
      await proxy.writeKubeconfig(kubeconfigOut);
    } catch (e) {
      await proxy.stop();
      audit?.finish();
      detachSessions();
      await bus.close();
      throw new CliError('KW_ERR_KUBECONFIG_WRITE', `cannot write the kubeconfig ${kubeconfigOut}: ${(e as Error).message}`, 1);
    }
  }
  emit({ type: 'proxy.start', listen: proxy.url, upstream: upstream.describe(), context: upstream.contextName, kubeconfig: kubeconfigOut, payloadMode: payload, log: log.path, version: VERSION, pid: process.pid });
  const diagnosis = diagnose(bus, sessions);
  return {
    upstream,
    proxy,
    bus,
    sessions,
    log,
    emit,
    shutdown: async (reason) => {
      await proxy.stop();
      diagnosis.finish();
      sessions.finish();
      emit({ type: 'proxy.stop', reason, connections: proxy.connections, dropped: bus.dropped });
      audit?.finish();
      detachSessions();
      await bus.close();
      const gap = audit?.unrecordedGap();
      if (gap) errors.line(`kubewire: ${gap}`);
    },
  };
}

/**
 * Findings as live events: the engine listens on the proxy's session observer (primary events,
 * its tick for the time-based rules, settled sessions) and its findings go on the bus (log,
 * console, view), from where they come back through the observer as derived records.
 */
function diagnose(bus: EventBus, sessions: SessionObserver): { finish(): void } {
  const engine = new DiagnosisEngine(sessions.model, (f) => {
    const body = findingBody(f);
    bus.publish(body, noteFor(body), { ...(f.session ? { session: f.session } : {}), ...(f.conn ? { conn: f.conn } : {}) });
  });
  sessions.add(engine);
  return {
    finish: () => {
      engine.finish(Date.now());
      sessions.remove(engine);
    },
  };
}
