/**
 * Bounds shared by every decoder. Everything a decoder holds is capped by one of these, so a
 * hostile or broken peer can cost kubewire at most a few of them per connection direction.
 */

/**
 * Payload is reported in segments that end at a frame or message end, or at a multiple of this
 * many bytes from the start of the frame. Segment edges therefore never depend on how TCP cut
 * the stream, which keeps the event log identical for any chunking, and a 16 MiB frame is
 * reported as it streams while at most this much of it is held.
 */
export const PAYLOAD_SEGMENT_BYTES = 64 * 1024;

/** An HTTP/1.1 head (start line and headers) longer than this is an anomaly. */
export const MAX_HTTP_HEAD_BYTES = 64 * 1024;

/** Body bytes of a refused upgrade or plain response kept for the event; the size is always counted. */
export const MAX_HTTP_BODY_CAPTURE_BYTES = 64 * 1024;

/** A SPDY control frame is parsed whole; kubectl's are tens of bytes. Larger is an anomaly. */
export const MAX_SPDY_CONTROL_FRAME_BYTES = 1024 * 1024;

/** Inflated size of one SPDY header block. More is treated as a zlib bomb. */
export const MAX_SPDY_HEADER_BLOCK_BYTES = 256 * 1024;

/** Text kept from a status or port-forward error stream (kubelet statuses are well under 4 KiB). */
export const MAX_STATUS_BYTES = 64 * 1024;

/** Pending resize JSON that has not closed yet. TerminalSize JSON is ~30 bytes. */
export const MAX_RESIZE_JSON_BYTES = 4 * 1024;

/**
 * Client bytes that arrive after an upgrade request and before its answer are held until the
 * answer says how to read them. kubectl sends nothing in that window; this bounds a peer that does.
 */
export const MAX_PENDING_BEFORE_RESPONSE_BYTES = 8 * 1024 * 1024;
