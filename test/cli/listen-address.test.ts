import { describe, expect, it } from 'vitest';
import { parseListen } from '../../src/cli/listen-address.js';
import { CliError } from '../../src/io/errors.js';

describe('parseListen', () => {
  it('reads HOST:PORT, [IPv6]:PORT and a bare port', () => {
    expect(parseListen('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0, loopback: true });
    expect(parseListen('[::1]:8443')).toEqual({ host: '::1', port: 8443, loopback: true });
    expect(parseListen('8443')).toEqual({ host: '127.0.0.1', port: 8443, loopback: true });
    expect(parseListen('0.0.0.0:6443').loopback).toBe(false);
  });

  it('gives a usage error (exit 2) for a host without a port, not a lookup of a mangled host', () => {
    for (const spec of ['127.0.0.1', 'localhost', '[::1]', '127.0.0.1:', ':']) {
      let err: unknown;
      try {
        parseListen(spec);
      } catch (e) {
        err = e;
      }
      expect(err, spec).toBeInstanceOf(CliError);
      expect((err as CliError).exitCode, spec).toBe(2);
      expect((err as CliError).message, spec).toMatch(/expected HOST:PORT/);
    }
  });
});
