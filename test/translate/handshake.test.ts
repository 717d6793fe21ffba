/**
 * The handshakes of a SPDY→WebSocket translation, and the `--translate` flag: which upgrades
 * are translated, the protocol the client is given (never one it did not offer), the request
 * that goes upstream, the checks on the upstream's answer, and the usage error for a mode
 * that does not exist.
 */
import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Http1HeadDecoder, type HttpHead } from '../../src/codec/http1-head.js';
import { webSocketAccept } from '../../src/session/handshake.js';
import { checkUpstreamAnswer, negotiateClientProtocol, negotiatePortForward, offeredSpdyProtocols, upstreamWebSocketRequest } from '../../src/translate/handshake.js';
import { translates } from '../../src/translate/mode.js';
import { upstreamSpdyOffer, upstreamSpdyRequest } from '../../src/translate/spdy-handshake.js';
import { upstreamRequestHead } from '../../src/proxy/request-head.js';
import { runCli } from '../support/cli.js';

function request(method: string, url: string, rawHeaders: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return { method, url, rawHeaders, headers, httpVersion: '1.1' } as unknown as IncomingMessage;
}

const EXEC = '/api/v1/namespaces/default/pods/web/exec?command=sh&container=app&stdin=true&stdout=true&tty=true';
/** kubectl 1.33's SPDY exec head, as received (protocol.md B §1). */
const SPDY_133 = request('POST', EXEC, [
  'Host', '127.0.0.1:4443', 'User-Agent', 'kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0', 'Content-Length', '0', 'Authorization', 'Bearer kubewire-token',
  'Connection', 'Upgrade', 'Kubectl-Command', 'kubectl exec', 'Kubectl-Session', 'abc-123', 'Upgrade', 'SPDY/3.1',
  'X-Stream-Protocol-Version', 'v5.channel.k8s.io', 'X-Stream-Protocol-Version', 'v4.channel.k8s.io', 'X-Stream-Protocol-Version', 'v3.channel.k8s.io',
  'X-Stream-Protocol-Version', 'v2.channel.k8s.io', 'X-Stream-Protocol-Version', 'channel.k8s.io',
]);

function responseHead(text: string): HttpHead {
  const r = new Http1HeadDecoder('response').push(Buffer.from(text, 'latin1'));
  if (r.kind !== 'head') throw new Error('not a head');
  return r.head;
}

describe('translates', () => {
  it('takes SPDY exec, attach and port-forward under spdy-to-ws only', () => {
    expect(translates('spdy-to-ws', SPDY_133)).toBe(true);
    expect(translates('spdy-to-ws', request('POST', '/api/v1/namespaces/default/pods/web/attach?stdout=true', ['Upgrade', 'SPDY/3.1']))).toBe(true);
    expect(translates('off', SPDY_133)).toBe(false);
    expect(translates(undefined, SPDY_133)).toBe(false);
    expect(translates('spdy-to-ws', request('POST', '/api/v1/namespaces/default/pods/web/portforward', ['Upgrade', 'SPDY/3.1']))).toBe(true);
    expect(translates('spdy-to-ws', request('POST', '/api/v1/namespaces/default/pods/web/log', ['Upgrade', 'SPDY/3.1']))).toBe(false);
    expect(translates('spdy-to-ws', request('GET', EXEC, ['Upgrade', 'websocket']))).toBe(false);
  });
});

describe('negotiateClientProtocol', () => {
  it("takes the first protocol in the client's order that the kubelet supports: v4 for 1.29+, never v5 when v4 is offered", () => {
    expect(offeredSpdyProtocols(SPDY_133)).toEqual(['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io']);
    expect(negotiateClientProtocol(offeredSpdyProtocols(SPDY_133))).toEqual({ ok: true, protocol: 'v4.channel.k8s.io' });
    // kubectl 1.27 offers no v5, and panics when given it.
    expect(negotiateClientProtocol(['v4.channel.k8s.io', 'v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'])).toEqual({ ok: true, protocol: 'v4.channel.k8s.io' });
    expect(negotiateClientProtocol(['v2.channel.k8s.io', 'channel.k8s.io'])).toEqual({ ok: true, protocol: 'v2.channel.k8s.io' });
    expect(negotiateClientProtocol(['v5.channel.k8s.io'])).toEqual({ ok: true, protocol: 'v5.channel.k8s.io' });
  });

  it("refuses as the kubelet does: 400 without the header, 403 with the lists when nothing matches", () => {
    expect(negotiateClientProtocol([])).toMatchObject({ ok: false, status: 400, body: 'unable to upgrade: X-Stream-Protocol-Version is required\n' });
    expect(negotiateClientProtocol(['v9.bogus'])).toMatchObject({
      ok: false, status: 403,
      body: 'unable to upgrade: unable to negotiate protocol: client supports [v9.bogus], server accepts [v4.channel.k8s.io v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io]\n',
    });
  });
});

describe('negotiatePortForward', () => {
  it('portforward.k8s.io, or the kubelet refusal', () => {
    expect(negotiatePortForward(['portforward.k8s.io'])).toEqual({ ok: true, protocol: 'portforward.k8s.io' });
    expect(negotiatePortForward(['v4.channel.k8s.io'])).toMatchObject({ ok: false, status: 403, headers: { 'X-Accepted-Stream-Protocol-Versions': 'portforward.k8s.io' } });
  });
});

describe('upstreamWebSocketRequest', () => {
  it('refuses an added header value with CR/LF or a character that is not one byte, as the relayed path does', () => {
    // The same rule set as request-head.ts: a credential that could split a header line never goes upstream.
    for (const bad of ['Bearer a\r\nX-Injected: y', 'Bearer a\nb', 'Bearer \u0000', 'Bearer ų']) {
      expect(() => upstreamWebSocketRequest(SPDY_133, 'api', '', { Authorization: bad })).toThrow(/cannot carry/);
      expect(() => upstreamSpdyRequest(SPDY_133, 'api', '', { Authorization: bad }, upstreamSpdyOffer(false))).toThrow(/cannot carry/);
      expect(() => upstreamRequestHead(SPDY_133, 'api', '', { Authorization: bad })).toThrow(/cannot carry/);
    }
    expect(() => upstreamWebSocketRequest(SPDY_133, 'api', '', { 'Bad Name': 'x' })).toThrow(/credential header .* cannot carry/);
    // obs-text given as one Latin-1 character per byte is carried, as on the relayed path.
    const latin1 = Buffer.from('é', 'utf8').toString('latin1');
    expect(upstreamWebSocketRequest(SPDY_133, 'api', '', { 'Impersonate-User': latin1 }).head.includes(Buffer.from('Impersonate-User: é\r\n', 'utf8'))).toBe(true);
    // Several values (Impersonate-Group) are one line each, on both paths.
    expect(upstreamSpdyRequest(SPDY_133, 'api', '', { 'Impersonate-Group': ['a', 'b'] }, upstreamSpdyOffer(false)).toString('latin1')).toContain('\r\nImpersonate-Group: a\r\nImpersonate-Group: b\r\n');
  });

  it("is kubectl's WebSocket GET for the same target, with the client's other headers and the upstream's credentials", () => {
    const { head, key } = upstreamWebSocketRequest(SPDY_133, 'api.example:6443', '/gw/', { Authorization: 'Bearer upstream-token' }, undefined, 'dGhlIHNhbXBsZSBub25jZQ==');
    expect(key).toBe('dGhlIHNhbXBsZSBub25jZQ==');
    expect(head.toString('latin1').split('\r\n')).toEqual([
      `GET /gw${EXEC} HTTP/1.1`,
      'Host: api.example:6443',
      'User-Agent: kubectl/v1.33.1 (linux/amd64) kubernetes/8adc0f0',
      'Kubectl-Command: kubectl exec',
      'Kubectl-Session: abc-123',
      'Authorization: Bearer upstream-token',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Protocol: v5.channel.k8s.io, v4.channel.k8s.io',
      'Sec-WebSocket-Version: 13',
      'Upgrade: websocket',
      '',
      '',
    ]);
  });
});

describe('checkUpstreamAnswer', () => {
  const key = 'dGhlIHNhbXBsZSBub25jZQ==';
  const ok = (protocol: string, accept = webSocketAccept(key)): string =>
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`;

  it('accepts v5 or v4 with the right Accept', () => {
    expect(checkUpstreamAnswer(responseHead(ok('v5.channel.k8s.io')), key)).toEqual({ kind: 'accepted', protocol: 'v5.channel.k8s.io' });
    expect(checkUpstreamAnswer(responseHead(ok('v4.channel.k8s.io')), key)).toEqual({ kind: 'accepted', protocol: 'v4.channel.k8s.io' });
  });

  it('a refusal is passed on; a 101 kubectl would reject is unusable', () => {
    expect(checkUpstreamAnswer(responseHead('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n'), key)).toEqual({ kind: 'refused', status: 400 });
    expect(checkUpstreamAnswer(responseHead(ok('v99.bogus.k8s.io')), key)).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('v99.bogus.k8s.io') });
    expect(checkUpstreamAnswer(responseHead(ok('v5.channel.k8s.io', 'wrong=')), key)).toMatchObject({ kind: 'unusable', problem: expect.stringContaining('Sec-WebSocket-Accept') });
    expect(checkUpstreamAnswer(responseHead('HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\nConnection: Upgrade\r\n\r\n'), key)).toMatchObject({ kind: 'unusable' });
  });
});

describe('--translate', () => {
  it('an unknown mode is a usage error (exit 2) that lists the modes', () => {
    const r = runCli(['run', '--translate', 'ws-backwards', '--', 'true']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("argument 'ws-backwards' is invalid");
    expect(r.stderr).toContain('off, spdy-to-ws');
  });
});
