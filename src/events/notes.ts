/**
 * The `note` of every event: one short line that the TUI, the console lines and `jq` users all
 * read, so the wording lives in one place. `raw` is the payload as it crossed the wire, when
 * the event carries one and the payload recording mode records bytes (`--payload none` records
 * sizes only, so its notes preview nothing).
 */
import type { EventBody, K8sStatusInfo } from './types.js';
import { formatBytes, previewBytes, previewText } from './preview.js';

export function noteFor(ev: EventBody, raw?: Uint8Array): string {
  const data = raw ? ` ${previewBytes(raw)}` : '';
  switch (ev.type) {
    case 'http.request':
    case 'upgrade.request': {
      const k = ev.k8s;
      const what = k && k.operation !== 'other'
        ? ` ${k.operation} ${[k.namespace, k.pod, k.container].filter(Boolean).join('/')}${k.command.length ? ` [${k.command.join(' ')}]` : ''}${k.tty ? ' tty' : ''}`
        : '';
      const up = ev.upgrade ? ` upgrade=${ev.upgrade}${ev.offered.length ? ` offers ${ev.offered.join(',')}` : ''}` : '';
      return `${ev.method} ${ev.path}${what}${up}`;
    }
    case 'http.response':
    case 'upgrade.response':
      return `${ev.status} ${ev.reason}${ev.protocol ? ` ${ev.protocol}` : ''}${ev.server ? ` server=${ev.server}` : ''}`;
    case 'http.body':
      return `body ${formatBytes(ev.size)}${ev.k8sStatus ? ` ${statusWords(ev.k8sStatus)}` : ev.text ? ` "${previewText(ev.text)}"` : ''}`;
    case 'decode.stack':
      return ev.transport === 'none' ? `no stream: ${ev.reason}` : `decoding ${ev.layers.join(' > ')} (${ev.semantics}): ${ev.reason}`;
    case 'ws.frame': {
      const flags = `${ev.fin ? '' : ' fin=0'}${ev.rsv ? ` rsv=${ev.rsv}` : ''}${ev.masked ? ' masked' : ''}`;
      if (ev.kind === 'close') return `close ${ev.closeCode ?? '(no code)'}${ev.closeReason ? ` "${previewText(ev.closeReason)}"` : ''}${flags}`;
      return `${ev.kind === 'reserved' ? `opcode ${ev.opcode}` : ev.kind} ${formatBytes(ev.length)}${flags}`;
    }
    case 'ws.data':
      return `${ev.messageType} ${formatBytes(ev.size)}${data}`;
    case 'k8s.data':
      if (ev.initial) return `${ev.stream} initial empty message`;
      if (ev.redacted) return `${ev.stream} ${formatBytes(ev.size)} redacted (${ev.redacted === 'all' ? '--redact-stdin all' : 'never echoed'})`;
      return `${ev.stream} ${formatBytes(ev.size)}${data}`;
    case 'k8s.status':
      return ev.exitCode !== null && ev.exitCode !== 0
        ? `exit code ${ev.exitCode} (${ev.reason ?? 'no reason'})`
        : ev.exitCode === 0 ? 'exit code 0 (Success)' : statusWords(ev);
    case 'k8s.resize':
      return `resize ${ev.width}x${ev.height}`;
    case 'k8s.close':
      return `close ${ev.stream} (v5 close signal)`;
    case 'spdy.frame': {
      const id = ev.streamId !== undefined ? ` ${ev.streamId}` : '';
      const role = ev.streamType ? ` ${ev.streamType}` : '';
      const fin = ev.fin ? ' fin' : '';
      switch (ev.frame) {
        case 'DATA': return `DATA${id}${role} ${formatBytes(ev.length)}${fin}`;
        case 'SYN_STREAM':
        case 'SYN_REPLY':
        case 'HEADERS': {
          const hs = (ev.headers ?? []).map(([n, v]) => `${n}=${v.join(',')}`).join(' ');
          return `${ev.frame}${id}${hs ? ` ${hs}` : ''}${fin}`;
        }
        case 'RST_STREAM': return `RST_STREAM${id}${role} ${ev.statusName ?? ev.statusCode}`;
        case 'PING': return `PING ${ev.pingId}`;
        case 'GOAWAY': return `GOAWAY last=${ev.lastGoodStreamId} ${ev.statusName ?? ev.statusCode}`;
        case 'SETTINGS': return `SETTINGS ${(ev.settings ?? []).map((s) => `${s.id}=${s.value}`).join(' ')}`;
        case 'WINDOW_UPDATE': return `WINDOW_UPDATE${id} +${ev.deltaWindowSize}`;
        default: return `${ev.frame}${ev.typeCode !== undefined ? ` type ${ev.typeCode}` : ''} ${formatBytes(ev.length)}`;
      }
    }
    case 'spdy.stream': {
      const hs = [ev.port !== null ? `port=${ev.port}` : '', ev.requestId !== null ? `requestid=${ev.requestId}` : ''].filter(Boolean).join(' ');
      return `stream ${ev.streamId} ${ev.streamType ?? '(no streamtype)'} ${ev.state}${hs ? ` ${hs}` : ''}`;
    }
    case 'pf.data':
      return `port ${ev.port ?? '?'}${ev.requestId !== null ? ` req ${ev.requestId}` : ''} ${formatBytes(ev.size)}${data}`;
    case 'pf.error':
      return `port ${ev.port ?? '?'}${ev.requestId !== null ? ` req ${ev.requestId}` : ''} error: ${previewText(ev.message)}`;
    case 'decode.anomaly':
      return `${ev.code} ${ev.message}${ev.opaque ? ' (stopped decoding this direction)' : ''}`;
    case 'conn.end':
      return `${ev.dir} ended after ${formatBytes(ev.offset)}${ev.cutOff ? ` inside a ${ev.cutOff.layer} unit at ${ev.cutOff.offset}${ev.cutOff.tunnel ? ' (tunnel)' : ''}: ${ev.cutOff.message}` : ''}`;
    case 'proxy.start':
      return `listening on ${ev.listen}, forwarding to ${ev.upstream}${ev.context && !ev.upstream.includes(`(context ${ev.context})`) ? ` (context ${ev.context})` : ''}, payload ${ev.payloadMode}${ev.log ? `, log ${ev.log}` : ''}`;
    case 'proxy.stop':
      return `stopped (${ev.reason}) after ${ev.connections} connections${ev.dropped ? `, ${ev.dropped} events dropped` : ''}`;
    case 'proxy.error':
      return `${ev.code} ${ev.message}${ev.status !== null ? ` (answered ${ev.status})` : ''}`;
    case 'conn.open': {
      const t = ev.translated;
      const leg = t ? ` (translated ${t.from}→${t.to}, ${t.leg} leg, paired with ${t.peer})` : '';
      return `${ev.kind} connection from ${ev.client} to ${ev.upstream}${leg}`;
    }
    case 'conn.close':
      return `closed by ${ev.closedBy} after ${(ev.durationMs / 1000).toFixed(1)} s, ${formatBytes(ev.bytes.c2s)} up, ${formatBytes(ev.bytes.s2c)} down${ev.error ? `: ${ev.error}` : ''}`;
    case 'sink.dropped':
      return `${ev.sink} fell behind: ${ev.dropped} events dropped (${ev.total} in all); they are in no other sink either unless it kept up`;
    case 'sink.backpressure':
      return ev.state === 'paused' ? `${ev.sink} fell behind: relay paused until it catches up (nothing is dropped)` : `${ev.sink} caught up: relay resumed after ${ev.pausedMs ?? 0} ms`;
    case 'finding':
      return `${ev.severity} ${ev.rule}: ${ev.title}`;
    case 'audit.start':
      return `audit chain (${ev.chain.algorithm}) as ${ev.identity.username ?? ev.identity.kubeconfigUser ?? 'unknown user'} (${ev.identity.source}) on ${ev.cluster.server}, by ${ev.os.user}@${ev.os.host}${ev.previousRun ? `, after run ${ev.previousRun.file}` : ''}`;
    case 'audit.file':
      return `audit log part ${ev.part}, continuing ${ev.previousFile}`;
    case 'audit.session': {
      const where = [ev.namespace, ev.pod, ev.container].filter(Boolean).join('/');
      const what = ev.operation === 'rest' ? (ev.kubectlCommand ?? 'requests') : `${ev.operation}${where ? ` ${where}` : ''}${ev.command.length ? ` [${ev.command.join(' ')}]` : ''}${ev.tty ? ' tty' : ''}`;
      return `session ${what}${ev.exitCode !== null ? ` exit ${ev.exitCode}` : ''}, ${formatBytes(ev.bytes.c2s)} up, ${formatBytes(ev.bytes.s2c)} down${ev.findings.length ? `, findings ${ev.findings.join(',')}` : ''}`;
    }
    case 'audit.seal':
      return ev.scope === 'file' ? `seal of part ${ev.part ?? '?'}${ev.final ? ' (end of chain)' : ''}` : 'seal of the session';
    case 'audit.gap':
      return `audit log could not be written (${ev.reason}); records were lost (--audit-fail ${ev.failMode})`;
    case 'conn.summary': {
      const s = ev.summary;
      const parts = [s.request.operation ?? s.request.method ?? 'connection', s.transport];
      if (s.response.protocol) parts.push(s.response.protocol);
      else if (s.response.status !== null && s.response.status !== 101) parts.push(`HTTP ${s.response.status}`);
      if (s.exitCode !== null) parts.push(`exit ${s.exitCode}`);
      else if (s.status) parts.push(`status ${s.status}`);
      if (s.anomalies) parts.push(`${s.anomalies} anomalies`);
      return parts.join(' ');
    }
  }
}

function statusWords(s: K8sStatusInfo): string {
  const head = [s.status ?? 'status', s.code ?? '', s.reason ?? ''].filter((x) => x !== '').join(' ');
  return s.message ? `${head}: ${previewText(s.message)}` : head;
}
