import { isIP } from 'node:net';
import { CliError } from '../io/errors.js';

export interface ListenAddress {
  host: string;
  port: number;
  loopback: boolean;
}

/** `127.0.0.1:0`, `[::1]:8443`, `localhost:6443`, or a bare port. */
export function parseListen(spec: string): ListenAddress {
  // Either a bare port or HOST:PORT; a host alone (`127.0.0.1`) must not read as `127.0.0.` and port 1.
  const m = /^(?:(?:\[([^\]]+)\]|([^:[\]]+)):)?(\d+)$/.exec(spec.trim());
  if (!m) throw new CliError('KW_ERR_BAD_LISTEN', `--listen ${spec}: expected HOST:PORT, for example 127.0.0.1:0 or [::1]:8443`);
  const host = m[1] ?? m[2] ?? '127.0.0.1';
  const port = Number(m[3]);
  if (port > 65535) throw new CliError('KW_ERR_BAD_LISTEN', `--listen ${spec}: port ${port} is out of range`);
  if (m[1] && isIP(m[1]) !== 6) throw new CliError('KW_ERR_BAD_LISTEN', `--listen ${spec}: ${m[1]} is not an IPv6 address`);
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return { host, port, loopback };
}
