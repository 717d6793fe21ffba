/**
 * An identity as request header lines: control characters refused, values as UTF-8 bytes on
 * both ways upstream (the upgrade tunnel's request head and Node's HTTP client), extra keys
 * percent-encoded as client-go does, and an identity that cannot be sent refused with a 403.
 */
import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { SessionUser } from '../../src/events/types.js';
import { GatewayAdmission, impersonating } from '../../src/gateway/gateway-admission.js';
import { controlCharacterIn, headerKeyEscape } from '../../src/gateway/identity-headers.js';
import { upstreamRequestHead } from '../../src/proxy/request-head.js';
import type { Upstream } from '../../src/proxy/upstream.js';

const user = (over: Partial<SessionUser>): SessionUser => ({ username: 'alice', uid: null, groups: ['system:authenticated'], extra: {}, source: 'TokenReview', ...over });

function fakeReq(rawHeaders: string[]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (let i = 0; i < rawHeaders.length; i += 2) headers[rawHeaders[i]!.toLowerCase()] = rawHeaders[i + 1]!;
  return { method: 'GET', url: '/api/v1/pods', httpVersion: '1.1', rawHeaders, headers, socket: {} } as unknown as IncomingMessage;
}

describe('identity header values', () => {
  it('finds control characters in any part of an identity', () => {
    expect(controlCharacterIn(user({}))).toBeNull();
    expect(controlCharacterIn(user({ username: 'a\r\nImpersonate-User: admin' }))).toBe('the user name');
    expect(controlCharacterIn(user({ groups: ['ok', 'x\n'] }))).toBe('a group');
    expect(controlCharacterIn(user({ uid: 'u\u0000' }))).toBe('the uid');
    expect(controlCharacterIn(user({ extra: { 'k\u0085': ['v'] } }))).toBe('an extra key');
    expect(controlCharacterIn(user({ extra: { scopes: ['v\r'] } }))).toBe('the extra "scopes"');
  });

  it('percent-encodes extra keys as client-go headerKeyEscape does', () => {
    expect(headerKeyEscape('scopes')).toBe('scopes');
    expect(headerKeyEscape('example.org/foo bar')).toBe('example.org%2Ffoo%20bar');
    expect(headerKeyEscape('a%b(c)')).toBe('a%25b%28c%29');
    expect(headerKeyEscape('ü')).toBe('%C3%BC');
  });

  it('sends U+0173 as its UTF-8 bytes in the tunnel head, never folded to "s"', () => {
    const creds = impersonating(user({ username: 'jürgen', groups: ['ųystem:masters'], extra: { 'x/y': ['ü'] } }))({ Authorization: 'Bearer own' });
    const head = upstreamRequestHead(fakeReq(['Host', 'gw']), 'api:6443', '', creds);
    expect(head.includes(Buffer.from('Impersonate-Group: ųystem:masters\r\n', 'utf8'))).toBe(true);
    expect(head.includes(Buffer.from('Impersonate-User: jürgen\r\n', 'utf8'))).toBe(true);
    expect(head.includes(Buffer.from('Impersonate-Extra-x%2Fy: ü\r\n', 'utf8'))).toBe(true);
    expect(head.includes(Buffer.from('system:masters', 'latin1'))).toBe(false);
  });

  it('sends the same bytes through Node\'s HTTP client (the plain path)', async () => {
    const server = createServer((req, res) => {
      const raw = req.rawHeaders;
      const i = raw.findIndex((h) => h.toLowerCase() === 'impersonate-group');
      res.end(Buffer.from(raw[i + 1]!, 'latin1'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    try {
      const creds = impersonating(user({ groups: ['ųystem:masters'] }))({});
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, headers: creds as Record<string, string> }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (d: Buffer) => parts.push(d));
          res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
        });
        req.on('error', reject);
        req.end();
      });
      expect(body).toBe('ųystem:masters');
    } finally {
      server.close();
    }
  });

  it('refuses a credential value a header line cannot carry, instead of writing it', () => {
    expect(() => upstreamRequestHead(fakeReq(['Host', 'gw']), 'api', '', { 'Impersonate-User': 'a\r\nX: y' })).toThrow(/cannot carry/);
    expect(() => upstreamRequestHead(fakeReq(['Host', 'gw']), 'api', '', { 'Impersonate-User': 'ų' })).toThrow(/cannot carry/);
  });

  it('adds close to Connection only when asked (gateway), and keeps the rest byte-exact', () => {
    const req = fakeReq(['Host', 'gw', 'Connection', 'Upgrade', 'Upgrade', 'websocket']);
    expect(upstreamRequestHead(req, 'api', '', {}).toString('latin1')).toContain('\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n');
    expect(upstreamRequestHead(req, 'api', '', {}, true).toString('latin1')).toContain('\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\n');
  });

  it('answers a TokenReview identity with a control character 403, not with a request upstream', async () => {
    const upstream = {} as Upstream;
    const admission = new GatewayAdmission({ mode: 'impersonate', upstream });
    // The review itself is what answers the identity: replaced here by a fixed one.
    (admission as unknown as { lookup: () => Promise<unknown> }).lookup = async () => ({ ok: true, user: user({ groups: ['dev\r\nImpersonate-User: admin'] }) });
    const a = await admission.admit(fakeReq(['Authorization', 'Bearer t']));
    expect(a.ok).toBe(false);
    if (!a.ok) {
      expect(a.status).toBe(403);
      expect(JSON.parse(a.body).message).toMatch(/a group holds a control character/);
    }
  });
});
