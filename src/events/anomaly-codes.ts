/**
 * The stable codes of decode anomalies, part of the event schema (`$defs.AnomalyCode` in
 * event.schema.json): an `anomaly` event names one of these, and diagnosis, the TUI and `jq`
 * users key on them. They live with the schema so the event contract depends on nothing above
 * it; the decoders in src/codec that raise them import them from here.
 */
export const AnomalyCode = {
  /** The bytes before the first CRLF do not form an HTTP/1.x start line. */
  HttpNotHttp: 'KW_HTTP_NOT_HTTP',
  /** The head grew past MAX_HTTP_HEAD_BYTES without ending. */
  HttpHeadTooLarge: 'KW_HTTP_HEAD_TOO_LARGE',
  /** A header line without a colon, or other head syntax the decoder had to skip. */
  HttpBadHeader: 'KW_HTTP_BAD_HEADER',
  /** Chunked transfer coding that does not parse. */
  HttpBadChunk: 'KW_HTTP_BAD_CHUNK',
  /** The direction ended in the middle of a head, body, frame or message. */
  Truncated: 'KW_TRUNCATED',
  /** Client bytes after an upgrade request exceeded the pending bound before the answer came. */
  PendingOverflow: 'KW_PENDING_OVERFLOW',
  /** The server ended without answering an upgrade request, and client bytes had followed it. */
  UnansweredBytes: 'KW_UNANSWERED_BYTES',
  /** Bytes seen after a direction was closed by its protocol (after a close frame or GOAWAY). */
  DataAfterClose: 'KW_DATA_AFTER_CLOSE',

  /** RFC 6455 §5.2: opcodes 3-7 and 0xB-0xF are reserved. */
  WsReservedOpcode: 'KW_WS_RESERVED_OPCODE',
  /** RFC 6455 §5.2: RSV1-3 set without a negotiated extension. */
  WsRsvBits: 'KW_WS_RSV_BITS',
  /** RFC 6455 §5.5: control frames carry at most 125 bytes and are never fragmented. */
  WsBadControlFrame: 'KW_WS_BAD_CONTROL_FRAME',
  /** RFC 6455 §5.2: a 64-bit length with the top bit set, or beyond 2^53. */
  WsBadLength: 'KW_WS_BAD_LENGTH',
  /** RFC 6455 §5.1: client frames must be masked, server frames must not. */
  WsMaskDirection: 'KW_WS_MASK_DIRECTION',
  /** RFC 6455 §5.4: a continuation with no message open, or a new message while one is open. */
  WsBadFragmentation: 'KW_WS_BAD_FRAGMENTATION',
  /** RFC 6455 §5.5.1: a close payload of 1 byte, or a code outside the allowed ranges. */
  WsBadClose: 'KW_WS_BAD_CLOSE',

  /** k8s channel protocols: a message for a channel the protocol does not define. */
  ChannelUnknown: 'KW_CHANNEL_UNKNOWN',
  /** base64.channel.k8s.io: a text payload that is not base64, or a channel digit out of range. */
  ChannelBadBase64: 'KW_CHANNEL_BAD_BASE64',
  /** v5 close signal that is not exactly [0xFF, channel]. */
  ChannelBadClose: 'KW_CHANNEL_BAD_CLOSE',
  /** A resize message that is not a TerminalSize JSON stream. */
  ChannelBadResize: 'KW_CHANNEL_BAD_RESIZE',
  /** A status longer than MAX_STATUS_BYTES. */
  StatusTooLarge: 'KW_STATUS_TOO_LARGE',
  /** A binary message in a base64 (text) channel protocol (text in a binary one is what servers accept and python-kubernetes sends). */
  ChannelBadMessageType: 'KW_CHANNEL_BAD_MESSAGE_TYPE',

  /** SPDY/3 §2.2: a control frame whose version is not 3. */
  SpdyBadVersion: 'KW_SPDY_BAD_VERSION',
  /** SPDY/3 §2.6: a control frame type this decoder does not know. */
  SpdyUnknownFrame: 'KW_SPDY_UNKNOWN_FRAME',
  /** A control frame whose length does not fit its type, or over MAX_SPDY_CONTROL_FRAME_BYTES. */
  SpdyBadFrameLength: 'KW_SPDY_BAD_FRAME_LENGTH',
  /** SPDY/3 §2.6.10: the header block does not inflate with the SPDY/3 dictionary. */
  SpdyZlib: 'KW_SPDY_ZLIB',
  /** The header block inflated past MAX_SPDY_HEADER_BLOCK_BYTES (a zlib bomb). */
  SpdyHeaderBomb: 'KW_SPDY_HEADER_BOMB',
  /** SPDY/3 §2.6.10: the inflated block does not parse as count/length/name/length/value. */
  SpdyBadHeaderBlock: 'KW_SPDY_BAD_HEADER_BLOCK',
  /** DATA or a reply for a stream that was never opened. */
  SpdyUnknownStream: 'KW_SPDY_UNKNOWN_STREAM',
  /** SYN_STREAM with an id that is not higher than the last one, or of the wrong parity. */
  SpdyBadStreamId: 'KW_SPDY_BAD_STREAM_ID',

  /** Legacy WebSocket port-forward: the first message of a channel is not the 2-byte port. */
  PortForwardBadPortPrefix: 'KW_PF_BAD_PORT_PREFIX',
  /** Tunnel: a text message inside SPDY/3.1+portforward.k8s.io (the server rejects those). */
  TunnelTextMessage: 'KW_TUNNEL_TEXT_MESSAGE',
} as const;

export type AnomalyCode = (typeof AnomalyCode)[keyof typeof AnomalyCode];
