/**
 * The handshakes of a WebSocket→SPDY translation and the modes that choose it: the protocol the
 * WebSocket client is given (the first it offered that kubewire speaks, never another), x/net's
 * and the tunnel's refusals, kubectl's SPDY request upstream, and client-go's checks on the
 * SPDY answer.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Http1HeadDecoder, type HttpHead } from '../../src/codec/http1-head.js';
import { webSocketAccept } from '../../src/session/handshake.js';
import { TransportVerdicts } from '../../src/translate/auto-verdicts.js';
import { translationOf } from '../../src/translate/mode.js';
import { checkSpdyAnswer, negotiateWebSocketClient, upstreamSpdyOffer, upstreamSpdyRequest, webSocketAcceptHead } from '../../src/translate/spdy-handshake.js';

function request(method: string, url: string, rawHeaders: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return { method, url, rawHeaders, headers, httpVersion: '1.1' } as unknown as IncomingMessage;
}

const EXEC = '/api/v1/namespaces/default/pods/web/exec?command=sh&container=app&stdin=true&stdout=true&tty=true';
const PF = '/api/v1/namespaces/default/pods/web/portforward';
const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ws = (url: string, protocols: string | null, extra: string[] = []) => request('GET', url, [
  'Host', '127.0.0.1:4443', 'User-Agent', 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0', 'Authorization', 'Bearer kubewire-token', 'Connection', 'Upgrade',
  'Kubectl-Command', 'kubectl exec', 'Sec-WebSocket-Key', KEY, 'Sec-WebSocket-Version', '13', 'Upgrade', 'websocket',
  ...(protocols === null ? [] : ['Sec-WebSocket-Protocol', protocols]), ...extra,
]);
/** kubectl 1.33's WebSocket exec (protocol.md A §1.1: only v5 is offered). */
const WS_133 = ws(EXEC, 'v5.channel.k8s.io');

function responseHead(text: string): HttpHead {
  const r = new Http1HeadDecoder('response').push(Buffer.from(text, 'latin1'));
  if (r.kind !== 'head') throw new Error('not a head');
  return r.head;
}

describe('translationOf', () => {
  it('ws-to-spdy takes WebSocket exec, attach, the tunnel and the legacy port-forward, not SPDY; spdy-to-ws the reverse', () => {
    expect(translationOf('ws-to-spdy', WS_133)).toBe('ws-to-spdy');
    expect(translationOf('ws-to-spdy', ws('/api/v1/namespaces/default/pods/web/attach?stdout=true', 'v5.channel.k8s.io'))).toBe('ws-to-spdy');
    expect(translationOf('ws-to-spdy', ws(PF, 'SPDY/3.1+portforward.k8s.io'))).toBe('ws-to-spdy');
    expect(translationOf('ws-to-spdy', ws(`${PF}?ports=80`, 'v4.channel.k8s.io'))).toBe('ws-to-spdy');
    expect(translationOf('ws-to-spdy', ws(`${PF}?ports=80`, null))).toBe('ws-to-spdy');
    expect(translationOf('ws-to-spdy', request('POST', EXEC, ['Upgrade', 'SPDY/3.1']))).toBeNull();
    expect(translationOf('spdy-to-ws', WS_133)).toBeNull();
    expect(translationOf('off', WS_133)).toBeNull();
  });

  it('auto translates only the transport the upstream was seen to refuse', () => {
    const said: string[] = [];
    const verdicts = new TransportVerdicts((t, why) => said.push(`${t}: ${why}`));
    const spdy = request('POST', EXEC, ['Upgrade', 'SPDY/3.1']);
    expect(translationOf('auto', spdy, verdicts)).toBeNull();
    expect(translationOf('auto', WS_133, verdicts)).toBeNull();
    expect(translationOf('auto', spdy)).toBeNull();
    // After a WebSocket verdict, every WebSocket stream is translated, the legacy port-forward too.
    const refusesWs = { refuses: (t: string) => t === 'websocket' } as unknown as TransportVerdicts;
    expect(translationOf('auto', ws(`${PF}?ports=80`, 'v4.channel.k8s.io'), refusesWs)).toBe('ws-to-spdy');
    expect(translationOf('auto', ws(EXEC, 'v4.base64.channel.k8s.io'), refusesWs)).toBe('ws-to-spdy');
    expect(translationOf('auto', spdy, refusesWs)).toBeNull();
  });
});

describe('negotiateWebSocketClient', () => {
  it("takes the first protocol in the client's order that kubewire speaks, and only that one", () => {
    expect(negotiateWebSocketClient(WS_133, false)).toEqual({ ok: true, protocol: 'v5.channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(EXEC, 'v4.channel.k8s.io, v4.base64.channel.k8s.io, v5.channel.k8s.io'), false)).toEqual({ ok: true, protocol: 'v4.channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(EXEC, 'channel.k8s.io'), false)).toEqual({ ok: true, protocol: 'channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(EXEC, 'base64.channel.k8s.io, channel.k8s.io'), false)).toEqual({ ok: true, protocol: 'base64.channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(EXEC, 'x.k8s.io, v4.base64.channel.k8s.io, v5.channel.k8s.io'), false)).toEqual({ ok: true, protocol: 'v4.base64.channel.k8s.io' });
    // No header is the kubelet's '' (v1); the 101 then names no subprotocol.
    expect(negotiateWebSocketClient(ws(EXEC, null), false)).toEqual({ ok: true, protocol: '' });
    expect(webSocketAcceptHead(ws(EXEC, null), '')).not.toMatch(/Sec-WebSocket-Protocol/i);
  });

  it("refuses as x/net and the API server's tunnel do", () => {
    expect(negotiateWebSocketClient(ws(EXEC, 'base64url.bearer.authorization.k8s.io.x, v3.channel.k8s.io'), false)).toEqual({ ok: false, status: 403, body: '', headers: {} });
    expect(negotiateWebSocketClient(ws(PF, 'SPDY/3.1+other.k8s.io'), true)).toMatchObject({ ok: false, status: 400, body: 'unable to upgrade: no tunneling spdy protocols provided\n' });
    expect(negotiateWebSocketClient(ws(PF, 'SPDY/3.1+portforward.k8s.io'), true)).toEqual({ ok: true, protocol: 'SPDY/3.1+portforward.k8s.io' });
    const noKey = request('GET', EXEC, ['Upgrade', 'websocket', 'Connection', 'Upgrade', 'Sec-WebSocket-Version', '13']);
    expect(negotiateWebSocketClient(noKey, false)).toMatchObject({ ok: false, status: 400 });
  });

  it("the legacy port-forward: the kubelet's protocols in the client's order, its refusal of missing or bad ports before any upgrade", () => {
    expect(negotiateWebSocketClient(ws(`${PF}?ports=80&ports=7`, 'v5.channel.k8s.io, v4.channel.k8s.io'), true)).toEqual({ ok: true, protocol: 'v4.channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(`${PF}?ports=80`, 'v4.base64.channel.k8s.io, v4.channel.k8s.io'), true)).toEqual({ ok: true, protocol: 'v4.base64.channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(`${PF}?ports=80`, 'base64.channel.k8s.io'), true)).toEqual({ ok: true, protocol: 'base64.channel.k8s.io' });
    expect(negotiateWebSocketClient(ws(`${PF}?ports=80`, null), true)).toEqual({ ok: true, protocol: '' });
    expect(negotiateWebSocketClient(ws(`${PF}?ports=80`, 'v5.channel.k8s.io'), true)).toEqual({ ok: false, status: 403, body: '', headers: {} });
    const refusal = (query: string) => negotiateWebSocketClient(ws(`${PF}${query}`, 'v4.channel.k8s.io'), true);
    expect(refusal('')).toMatchObject({ ok: false, status: 400, body: 'query parameter "port" is required\n' });
    expect(refusal('?ports=')).toMatchObject({ ok: false, status: 400, body: 'query parameter "port" cannot be empty\n' });
    expect(refusal('?ports=80,x')).toMatchObject({ ok: false, status: 400, body: 'unable to parse "80,x" as a port: strconv.ParseUint: parsing "x": invalid syntax\n' });
    expect(refusal('?ports=70000')).toMatchObject({ ok: false, status: 400, body: 'unable to parse "70000" as a port: strconv.ParseUint: parsing "70000": value out of range\n' });
    expect(refusal('?ports=0')).toMatchObject({ ok: false, status: 400, body: 'port "0" must be > 0\n' });
  });

  it('the 101 carries the RFC 6455 accept of the client key and the chosen subprotocol', () => {
    const head = webSocketAcceptHead(WS_133, 'v5.channel.k8s.io');
    expect(head).toMatch(/^HTTP\/1\.1 101 Switching Protocols\r\n/);
    expect(head).toContain(`Sec-WebSocket-Accept: ${webSocketAccept(KEY)}\r\n`);
    expect(head).toContain('Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n');
    expect(head).toContain('Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n');
  });
});

describe('upstreamSpdyRequest', () => {
  it("is kubectl's SPDY POST: same target, the client's other headers, the upstream's credentials, one protocol line each", () => {
    const text = upstreamSpdyRequest(WS_133, 'cluster:6443', '', { Authorization: 'Bearer upstream' }, upstreamSpdyOffer(false)).toString('latin1');
    const lines = text.split('\r\n');
    expect(lines[0]).toBe(`POST ${EXEC} HTTP/1.1`);
    expect(lines).toContain('Host: cluster:6443');
    expect(lines).toContain('Kubectl-Command: kubectl exec');
    expect(lines).toContain('Authorization: Bearer upstream');
    expect(lines).not.toContain('Authorization: Bearer kubewire-token');
    expect(lines.filter((l) => /^X-Stream-Protocol-Version: /.test(l))).toEqual(['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'].map((p) => `X-Stream-Protocol-Version: ${p}`));
    expect(lines.some((l) => /^sec-websocket/i.test(l))).toBe(false);
    expect(text.endsWith('\r\n\r\n')).toBe(true);
    expect(upstreamSpdyOffer(true)).toEqual(['portforward.k8s.io']);
  });
});

describe('checkSpdyAnswer', () => {
  const offer = upstreamSpdyOffer(false);
  it("accepts what client-go accepts, with no protocol header meaning v1", () => {
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n'), offer)).toEqual({ kind: 'accepted', protocol: 'v4.channel.k8s.io' });
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n'), offer)).toEqual({ kind: 'accepted', protocol: 'channel.k8s.io' });
  });

  it('a refusal is passed on; a 101 client-go would reject says why', () => {
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), offer)).toEqual({ kind: 'refused', status: 400 });
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'), offer)).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('not SPDY/3.1') });
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n\r\n'), offer)).toMatchObject({ kind: 'unusable', problem: 'the 101 has no Connection: Upgrade' });
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v5.channel.k8s.io\r\n\r\n'), offer)).toMatchObject({ kind: 'unusable' });
    // Port-forward needs its protocol named.
    expect(checkSpdyAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n\r\n'), upstreamSpdyOffer(true))).toMatchObject({ kind: 'unusable' });
  });
});
