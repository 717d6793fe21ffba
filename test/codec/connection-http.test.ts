/**
 * The HTTP/1.1 side of whole connections built by hand: refused upgrades and their bodies,
 * keep-alive before an upgrade, interim answers, input that is not HTTP, servers that never
 * answer or answer an upgrade kubewire does not know, and the redaction of credentials. Every
 * connection is also fed split at every byte offset and one byte at a time, and must give the
 * same events.
 */
import { describe, expect, it } from 'vitest';
import { expectChunkingInvariant } from '../support/chunking.js';
import { decodeAll } from '../support/decode.js';
import {
  EXEC_TARGET,
  OP,
  SUCCESS_JSON,
  Wire,
  anomalies,
  chan,
  cframe,
  closePayload,
  head,
  ofType,
  outline,
  sframe,
  spdyRequest,
  wsRequest,
  wsResponse,
} from '../support/wire.js';

const V5 = 'v5.channel.k8s.io';

const FORBIDDEN = JSON.stringify({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message: 'pods "p1" is forbidden: User "bob" cannot create resource "pods/exec" in API group "" in the namespace "default"',
  reason: 'Forbidden',
  details: { name: 'p1', kind: 'pods' },
  code: 403,
});

describe('refused upgrades', () => {
  it('403 with a Status body: http.body with k8sStatus, transport none', () => {
    const c = wsRequest(EXEC_TARGET, [V5]);
    const s = head('HTTP/1.1 403 Forbidden', [
      ['Audit-Id', '6a3c6a1e-0000-4000-8000-000000000001'],
      ['Cache-Control', 'no-cache, private'],
      ['Content-Type', 'application/json'],
      ['X-Content-Type-Options', 'nosniff'],
      ['Date', 'Fri, 21 Nov 2025 10:00:00 GMT'],
      ['Content-Length', String(FORBIDDEN.length)],
    ], FORBIDDEN);
    const bodyAt = s.length - FORBIDDEN.length;
    const { events, summary } = expectChunkingInvariant(c, s);
    expect(outline(events)).toEqual([
      'upgrade.request c2s',
      // The client's end waits with its bytes for the answer to the upgrade.
      'upgrade.response s2c',
      'decode.stack none',
      'conn.end c2s',
      'http.body s2c',
      'conn.end s2c',
      'conn.summary',
    ]);
    expect(ofType(events, 'upgrade.response')[0]).toMatchObject({ status: 403, reason: 'Forbidden', protocol: null, auditId: '6a3c6a1e-0000-4000-8000-000000000001', contentType: 'application/json' });
    expect(ofType(events, 'decode.stack')[0]).toMatchObject({ transport: 'none', semantics: 'none', layers: [] });
    const [body] = ofType(events, 'http.body');
    expect(body).toMatchObject({
      dir: 's2c',
      offset: bodyAt,
      size: FORBIDDEN.length,
      contentType: 'application/json',
      text: FORBIDDEN,
      k8sStatus: { status: 'Failure', reason: 'Forbidden', code: 403, message: JSON.parse(FORBIDDEN).message },
    });
    expect(body!.note).toMatch(/^body .* Failure 403 Forbidden: pods "p1" is forbidden/);
    expect(summary).toMatchObject({ response: { status: 403, protocol: null }, transport: 'none', streams: {}, exitCode: null, status: null, anomalies: 0 });
    expect(summary.request).toMatchObject({ method: 'GET', operation: 'exec', upgrade: 'websocket', offered: [V5] });
  });

  it('400 with a chunked body', () => {
    const c = spdyRequest(EXEC_TARGET, []);
    const text = 'unable to upgrade: header X-Stream-Protocol-Version does not exist';
    const chunked = `${(20).toString(16)}\r\n${text.slice(0, 20)}\r\n${(text.length - 20).toString(16)};ext=1\r\n${text.slice(20)}\r\n0\r\n\r\n`;
    const s = head('HTTP/1.1 400 Bad Request', [['Content-Type', 'text/plain; charset=utf-8'], ['Transfer-Encoding', 'chunked']], chunked);
    const { events, summary } = expectChunkingInvariant(c, s);
    expect(ofType(events, 'http.body')).toEqual([expect.objectContaining({ size: text.length, text, k8sStatus: null, contentType: 'text/plain; charset=utf-8' })]);
    expect(anomalies(events)).toEqual([]);
    expect(summary).toMatchObject({ response: { status: 400, protocol: null }, transport: 'none', anomalies: 0 });
    expect(summary.request).toMatchObject({ method: 'POST', upgrade: 'SPDY/3.1', offered: [] });
  });

  it('a body that the server ends by closing the connection', () => {
    const c = wsRequest(EXEC_TARGET, [V5]);
    const text = 'upstream connect error or disconnect/reset before headers';
    const s = head('HTTP/1.1 503 Service Unavailable', [['Content-Type', 'text/plain']], text);
    const { events, summary } = expectChunkingInvariant(c, s);
    expect(ofType(events, 'http.body')).toEqual([expect.objectContaining({ size: text.length, text })]);
    const lines = outline(events);
    expect(lines.indexOf('http.body s2c')).toBeLessThan(lines.indexOf('conn.end s2c'));
    expect(ofType(events, 'conn.end').every((e) => e.cutOff === undefined)).toBe(true);
    expect(summary).toMatchObject({ response: { status: 503, protocol: null }, transport: 'none', anomalies: 0 });
  });

  it('a body cut short of its Content-Length is reported on conn.end', () => {
    const c = wsRequest(EXEC_TARGET, [V5]);
    const s = head('HTTP/1.1 500 Internal Server Error', [['Content-Type', 'text/plain'], ['Content-Length', '100']], 'only this');
    const { events } = expectChunkingInvariant(c, s);
    expect(ofType(events, 'http.body')).toEqual([expect.objectContaining({ size: 9, text: 'only this' })]);
    expect(ofType(events, 'conn.end').find((e) => e.dir === 's2c')!.cutOff).toMatchObject({ layer: 'http' });
  });
});

describe('keep-alive and interim answers', () => {
  it('two plain GETs with their answers, then an upgrade on the same connection', () => {
    const c = new Wire();
    const s = new Wire();
    const version = '{"major":"1","minor":"33","gitVersion":"v1.33.0"}';
    const get1 = c.add(head('GET /version?timeout=32s HTTP/1.1', [['Host', 'k'], ['Accept', 'application/json']]));
    const get2 = c.add(head('GET /api/v1/namespaces/default/pods/p1 HTTP/1.1', [['Host', 'k']]));
    const upAt = c.add(wsRequest(EXEC_TARGET, [V5]));
    c.add(cframe(OP.binary, chan(0, 'ls\n')));
    const r1 = s.add(head('HTTP/1.1 200 OK', [['Content-Type', 'application/json'], ['Content-Length', String(version.length)]], version));
    const pod = '{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p1"},"status":{"phase":"Running"}}';
    const r2 = s.add(head('HTTP/1.1 200 OK', [['Content-Type', 'application/json'], ['Transfer-Encoding', 'chunked']], `${pod.length.toString(16)}\r\n${pod}\r\n0\r\n\r\n`));
    const r3 = s.add(wsResponse(V5));
    s.add(sframe(OP.binary, [0x01]), sframe(OP.binary, chan(1, 'a b c\n')), sframe(OP.binary, chan(3, SUCCESS_JSON)), sframe(OP.close, closePayload(1000)));

    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(outline(events).slice(0, 12)).toEqual([
      'http.request c2s',
      'http.request c2s',
      'upgrade.request c2s',
      'http.response s2c',
      'http.body s2c',
      'http.response s2c',
      'http.body s2c',
      'upgrade.response s2c',
      'decode.stack channel-v5',
      'ws.frame c2s binary',
      'k8s.data c2s stdin 3',
      'conn.end c2s',
    ]);
    expect(ofType(events, 'http.request').map((e) => [e.offset, e.method, e.path])).toEqual([
      [get1, 'GET', '/version'],
      [get2, 'GET', '/api/v1/namespaces/default/pods/p1'],
    ]);
    expect(ofType(events, 'upgrade.request')[0]!.offset).toBe(upAt);
    expect(ofType(events, 'http.response').map((e) => [e.offset, e.status])).toEqual([[r1, 200], [r2, 200]]);
    expect(ofType(events, 'upgrade.response')[0]).toMatchObject({ offset: r3, status: 101, protocol: V5 });
    expect(ofType(events, 'http.body').map((b) => b.text)).toEqual([version, pod]);
    expect(anomalies(events)).toEqual([]);
    // The summary describes the upgrade, not the requests before it.
    expect(summary).toMatchObject({
      request: { method: 'GET', path: '/api/v1/namespaces/default/pods/p1/exec', operation: 'exec', upgrade: 'websocket' },
      response: { status: 101, protocol: V5 },
      transport: 'websocket',
      exitCode: 0,
    });
  });

  it('a plain connection is summarised by its first request and answer', () => {
    const c = Buffer.concat([head('GET /healthz HTTP/1.1', [['Host', 'k']]), head('GET /readyz HTTP/1.1', [['Host', 'k']])]);
    const s = Buffer.concat([
      head('HTTP/1.1 200 OK', [['Content-Length', '2']], 'ok'),
      head('HTTP/1.1 500 Internal Server Error', [['Content-Length', '4']], 'fail'),
    ]);
    const { summary } = expectChunkingInvariant(c, s);
    expect(summary).toMatchObject({ request: { method: 'GET', path: '/healthz', upgrade: null }, response: { status: 200, protocol: null }, transport: 'none' });
  });

  it('an HTTP 100 Continue before the answer', () => {
    const body = '{"kind":"Pod"}';
    const c = head('POST /api/v1/namespaces/default/pods HTTP/1.1', [['Host', 'k'], ['Content-Type', 'application/json'], ['Expect', '100-continue'], ['Content-Length', String(body.length)]], body);
    const created = '{"kind":"Pod","metadata":{"name":"x"}}';
    const s = Buffer.concat([
      head('HTTP/1.1 100 Continue', []),
      head('HTTP/1.1 201 Created', [['Content-Type', 'application/json'], ['Content-Length', String(created.length)]], created),
    ]);
    const { events, summary } = expectChunkingInvariant(c, s);
    expect(outline(events)).toEqual([
      'http.request c2s',
      'http.body c2s',
      'conn.end c2s',
      'http.response s2c',
      'http.response s2c',
      'http.body s2c',
      'conn.end s2c',
      'conn.summary',
    ]);
    expect(ofType(events, 'http.response').map((e) => e.status)).toEqual([100, 201]);
    expect(ofType(events, 'http.body').map((b) => [b.dir, b.text])).toEqual([['c2s', body], ['s2c', created]]);
    expect(summary.response).toEqual({ status: 201, protocol: null });
  });

  it('an interim 100 before a 101 does not take the upgrade answer', () => {
    const c = new Wire();
    const s = new Wire();
    c.add(wsRequest(EXEC_TARGET, [V5]), cframe(OP.binary, chan(0, 'x')));
    s.add(head('HTTP/1.1 100 Continue', []), wsResponse(V5), sframe(OP.binary, chan(1, 'y')));
    const { events, summary } = expectChunkingInvariant(c.bytes, s.bytes);
    expect(ofType(events, 'upgrade.response').map((e) => e.status)).toEqual([100, 101]);
    expect(summary).toMatchObject({ response: { status: 101, protocol: V5 }, transport: 'websocket' });
    expect(Object.keys(summary.streams).sort()).toEqual(['stdin', 'stdout']);
  });
});

describe('connections that are not what they seem', () => {
  it('a TLS ClientHello is KW_HTTP_NOT_HTTP, opaque, and nothing crashes', () => {
    const hello = Buffer.from(
      '160301020001' + '0001fc0303' + 'a1'.repeat(32) + '20' + 'b2'.repeat(32) + '0020' + '130113021303c02bc02fc02cc030cca9cca8c013c014009c009d002f0035' + '0100' + '0193' + '00'.repeat(403),
      'hex',
    );
    const serverHello = Buffer.from('160303007a020000760303' + 'c3'.repeat(32) + '20' + 'b2'.repeat(32) + '130100002e', 'hex');
    const { events, summary } = expectChunkingInvariant(hello, serverHello);
    const notHttp = anomalies(events, 'KW_HTTP_NOT_HTTP');
    expect(notHttp.map((a) => [a.dir, a.offset, a.layer, a.opaque])).toEqual([
      ['c2s', 0, 'http', true],
      ['s2c', 0, 'http', true],
    ]);
    expect(notHttp[0]!.message).toContain('0x16');
    expect(outline(events)).toEqual([
      'decode.anomaly c2s KW_HTTP_NOT_HTTP',
      'conn.end c2s',
      'decode.anomaly s2c KW_HTTP_NOT_HTTP',
      'conn.end s2c',
      'conn.summary',
    ]);
    expect(summary).toMatchObject({ request: { method: null }, response: { status: null, protocol: null }, transport: 'none', anomalies: 2 });
  });

  it('a server that closes without answering: no status, transport none', () => {
    const { events, summary } = expectChunkingInvariant(wsRequest(EXEC_TARGET, [V5]), Buffer.alloc(0));
    expect(outline(events)).toEqual(['upgrade.request c2s', 'conn.end s2c', 'conn.end c2s', 'conn.summary']);
    expect(anomalies(events)).toEqual([]);
    expect(summary).toMatchObject({ response: { status: null, protocol: null }, transport: 'none', anomalies: 0 });
    expect(summary.request).toMatchObject({ method: 'GET', operation: 'exec' });
  });

  it('client bytes after an upgrade that is never answered are reported, not decoded', () => {
    const c = Buffer.concat([wsRequest(EXEC_TARGET, [V5]), cframe(OP.binary, chan(0, 'early'))]);
    const { events, summary } = expectChunkingInvariant(c, Buffer.alloc(0));
    expect(anomalies(events)).toEqual([expect.objectContaining({ dir: 'c2s', code: 'KW_UNANSWERED_BYTES', offset: c.length - 12 })]);
    expect(ofType(events, 'k8s.data')).toEqual([]);
    expect(summary).toMatchObject({ response: { status: null }, transport: 'none', anomalies: 1 });
  });

  it('client bytes beyond the pending bound make the client direction opaque; the server is still read', () => {
    const c = Buffer.concat([wsRequest(EXEC_TARGET, [V5]), cframe(OP.binary, chan(0, 'a'.repeat(100))), cframe(OP.binary, chan(0, 'b'))]);
    const s = Buffer.concat([wsResponse(V5), sframe(OP.binary, chan(1, 'out'))]);
    const { events, summary } = expectChunkingInvariant(c, s, { decoder: { maxPendingBytes: 64 } });
    expect(anomalies(events).map((a) => [a.dir, a.code, a.opaque])).toEqual([['c2s', 'KW_PENDING_OVERFLOW', true]]);
    expect(ofType(events, 'k8s.data').map((d) => [d.dir, d.stream])).toEqual([['s2c', 'stdout']]);
    expect(summary).toMatchObject({ transport: 'websocket', streams: { stdout: { bytes: 3 } }, anomalies: 1 });
  });

  it('a 101 for an upgrade kubewire does not know (h2c): reported, bytes after it left alone', () => {
    const c = Buffer.concat([
      head('GET / HTTP/1.1', [['Host', 'k'], ['Connection', 'Upgrade, HTTP2-Settings'], ['Upgrade', 'h2c'], ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA']]),
      Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
      Buffer.from('000000040000000000', 'hex'),
    ]);
    const s = Buffer.concat([
      head('HTTP/1.1 101 Switching Protocols', [['Connection', 'Upgrade'], ['Upgrade', 'h2c']]),
      Buffer.from('000000040000000000000004010000000000000801000000000000', 'hex'),
    ]);
    const { events, summary } = expectChunkingInvariant(c, s);
    const stack = ofType(events, 'decode.stack')[0]!;
    expect(stack).toMatchObject({ transport: 'none', semantics: 'opaque', layers: [] });
    expect(stack.reason).toContain('h2c');
    expect(outline(events)).toEqual([
      'upgrade.request c2s',
      'upgrade.response s2c',
      'decode.stack opaque',
      'conn.end c2s',
      'conn.end s2c',
      'conn.summary',
    ]);
    expect(anomalies(events)).toEqual([]);
    expect(summary).toMatchObject({ request: { upgrade: 'h2c', operation: null }, response: { status: 101, protocol: null }, transport: 'none', anomalies: 0 });
  });
});

describe('credentials never reach an event', () => {
  const SECRETS = ['SECRET-TOKEN-1', 'SECRET-COOKIE-2', 'SECRET-PROTO-3', 'SECRET-BASIC-4', 'SECRET-SETCOOKIE-5', 'SECRET-LOWER-6', 'SECRET-PROTO-7'];

  function connection(status: number) {
    const c = new Wire();
    const s = new Wire();
    c.add(wsRequest(EXEC_TARGET, [V5, 'base64url.bearer.authorization.k8s.io.SECRET-PROTO-3'], [
      ['Authorization', 'Bearer SECRET-TOKEN-1'],
      ['Cookie', 'session=SECRET-COOKIE-2; theme=dark'],
      ['Proxy-Authorization', 'Basic SECRET-BASIC-4'],
      ['authorization', 'bearer SECRET-LOWER-6'],
      ['Sec-WebSocket-Protocol', 'BASE64URL.BEARER.AUTHORIZATION.K8S.IO.SECRET-PROTO-7'],
    ]));
    c.add(cframe(OP.binary, chan(0, 'id\n')));
    if (status === 101) {
      s.add(wsResponse(V5, [['Set-Cookie', 'session=SECRET-SETCOOKIE-5; HttpOnly']]));
      s.add(sframe(OP.binary, chan(3, SUCCESS_JSON)));
    } else {
      s.add(head('HTTP/1.1 401 Unauthorized', [['Set-Cookie', 'session=SECRET-SETCOOKIE-5'], ['Content-Length', '12']], 'Unauthorized'));
    }
    return { c: c.bytes, s: s.bytes };
  }

  it('a server that echoes the bearer subprotocol back does not leak it either', () => {
    const token = 'base64url.bearer.authorization.k8s.io.SECRET-ECHO-8';
    const c = Buffer.concat([wsRequest(EXEC_TARGET, [token, V5]), cframe(OP.binary, [0x00, 0x41])]);
    const s = Buffer.concat([wsResponse(token), sframe(OP.binary, [0x01, 0x42])]);
    const { events, summary } = expectChunkingInvariant(c, s);
    // The 101 names the negotiated protocol in several places: the event, the stack, the summary.
    for (const e of events) expect(JSON.stringify(e), e.type).not.toContain('SECRET-ECHO-8');
    expect(JSON.stringify(summary)).not.toContain('SECRET-ECHO-8');
    expect(ofType(events, 'decode.stack')[0]!.semantics).toBe('opaque');
  });

  for (const status of [101, 401]) {
    it(`redacts Authorization, Cookie, Set-Cookie and bearer subprotocols (${status})`, () => {
      const { c, s } = connection(status);
      const { events, summary } = expectChunkingInvariant(c, s);
      const all = JSON.stringify(events) + JSON.stringify(summary);
      for (const secret of SECRETS) expect(all, secret).not.toContain(secret);
      for (const mode of ['head', 'none'] as const) {
        const again = decodeAll([c], [s], { payload: mode });
        const text = JSON.stringify(again.events);
        for (const secret of SECRETS) expect(text, `${secret} (${mode})`).not.toContain(secret);
      }
      const req = ofType(events, 'upgrade.request')[0]!;
      // The headers are still there, in place, with their values replaced.
      expect(req.headers.find(([n]) => n === 'Authorization')).toEqual(['Authorization', 'Bearer <redacted>']);
      expect(req.headers.find(([n]) => n === 'authorization')![1]).toContain('<redacted>');
      expect(req.headers.find(([n]) => n === 'Cookie')).toEqual(['Cookie', '<redacted>']);
      expect(req.offered).toEqual([V5, 'base64url.bearer.authorization.k8s.io.<redacted>', 'BASE64URL.BEARER.AUTHORIZATION.K8S.IO.<redacted>']);
      expect(summary.request.offered).toEqual(req.offered);
      const res = [...ofType(events, 'upgrade.response')][0]!;
      expect(res.headers.find(([n]) => n === 'Set-Cookie')).toEqual(['Set-Cookie', '<redacted>']);
    });
  }
});
