/**
 * The bare TLS relay the proxy benchmark compares kubewire with: TLS in from the client, TLS out
 * to the API server, the bytes piped both ways and nothing else. Any proxy that terminates TLS
 * on both legs, as kubewire must (kubectl sends its token only over TLS), pays at least this
 * much, so it is the floor for "one extra TLS hop"; what kubewire costs beyond it is the
 * observer (decoding, events, the log).
 *
 * Usage: node bench/tls-relay.js --upstream HOST:PORT --cert FILE --key FILE --ca FILE
 *        [--listen 127.0.0.1:0]
 * --cert/--key: what the relay presents to the client; --ca: what the upstream's certificate
 * must chain to. Prints `listening on HOST:PORT` once it accepts connections; exits on SIGTERM
 * or SIGINT.
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    listen: { type: 'string', default: '127.0.0.1:0' },
    upstream: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    ca: { type: 'string' },
  },
});
for (const name of ['upstream', 'cert', 'key', 'ca']) {
  if (!values[name]) {
    console.error(`tls-relay: --${name} is required`);
    process.exit(2);
  }
}
const hostPort = (s) => {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
};
const listen = hostPort(values.listen);
const upstream = hostPort(values.upstream);
const ca = readFileSync(values.ca);

// Nagle off on both legs, as kubewire and the API server have it: a keystroke is one small
// write, and a relay that held it back for coalescing would measure the kernel, not the hop.
const server = tls.createServer({ cert: readFileSync(values.cert), key: readFileSync(values.key) }, (client) => {
  client.setNoDelay(true);
  const server = tls.connect({ host: upstream.host, port: upstream.port, ca });
  server.setNoDelay(true);
  const close = () => {
    client.destroy();
    server.destroy();
  };
  client.on('error', close);
  server.on('error', close);
  client.pipe(server).pipe(client);
});
server.on('tlsClientError', () => {});
server.listen(listen.port, listen.host, () => {
  const a = server.address();
  console.log(`listening on ${a.address}:${a.port}`);
});
// close() waits for open connections: one left open must not keep the relay alive.
const stop = () => {
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 1000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
