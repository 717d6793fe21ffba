/**
 * SPDY bytes a bridge wrote, as one line per frame for playbook tests: `SYN_STREAM 1
 * streamtype=error`, `SYN_REPLY 1` (`with headers` unless the block is empty), `DATA 5 "hi"`,
 * `DATA 5 FIN`, `RST 3 5`, `GOAWAY 7 0`, `PING 1`. One inflate context, as the receiver has.
 */
import { SpdyFrameDecoder } from '../../src/codec/spdy-frame.js';
import { SpdyHeaderBlockInflater } from '../../src/codec/spdy-header-block.js';

export function spdyLines(bytes: Buffer): string[] {
  const out: string[] = [];
  const inflater = new SpdyHeaderBlockInflater();
  const data = new Map<number, Buffer[]>();
  new SpdyFrameDecoder({
    control: (f) => {
      if (f.type === 'SYN_STREAM') {
        const h = inflater.inflate(f.headerBlock);
        out.push(`SYN_STREAM ${f.streamId} ${h.ok ? h.headers.map(([k, v]) => `${k}=${v.join(',')}`).join(' ') : 'bad block'}`);
      } else if (f.type === 'SYN_REPLY') {
        const h = inflater.inflate(f.headerBlock);
        out.push(`SYN_REPLY ${f.streamId}${h.ok && h.headers.length === 0 ? '' : ' with headers'}`);
      } else if (f.type === 'RST_STREAM') out.push(`RST ${f.streamId} ${f.statusCode}`);
      else if (f.type === 'GOAWAY') out.push(`GOAWAY ${f.lastGoodStreamId} ${f.statusCode}`);
      else if (f.type === 'PING') out.push(`PING ${f.pingId}`);
      else out.push(f.type);
    },
    dataFrame: (h) => data.set(h.streamId, []),
    data: (s) => data.get(s.frame.streamId)!.push(s.data),
    dataEnd: (h) => {
      const payload = Buffer.concat(data.get(h.streamId)!);
      if (payload.length) out.push(`DATA ${h.streamId} ${JSON.stringify(payload.length > 200 ? `${payload.length} bytes` : payload.toString('latin1'))}`);
      if (h.fin) out.push(`DATA ${h.streamId} FIN`);
    },
    anomaly: (a) => out.push(`anomaly ${a.code}`),
  }).push(bytes);
  return out;
}
