/**
 * What the first bytes of a connection say it speaks. An HTTP/2 client opens with a fixed
 * 24-byte preface followed by its SETTINGS frame (RFC 9113 §3.4); no HTTP/1.1 method starts with
 * "PRI ". The listener waits for the whole preface and that SETTINGS frame before handing an
 * HTTP/2 connection on, so a client that stops part-way is still inside the listener's own
 * deadline rather than inside a session that would wait for it forever.
 */

const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const FRAME_HEADER_BYTES = 9;
const SETTINGS_FRAME_TYPE = 0x4;
/** Each setting is 6 bytes and there are few; a larger first SETTINGS frame is not a real client. */
const FIRST_SETTINGS_BYTES_MAX = 16 * 6;

export type FirstBytes = "need_more" | "http1" | "http2" | "invalid";

/** The connection's protocol from the bytes received so far. */
export function classifyFirstBytes(head: Buffer): FirstBytes {
  const compared = Math.min(head.length, HTTP2_PREFACE.length);
  const prefaceSoFar = HTTP2_PREFACE.subarray(0, compared);
  if (!head.subarray(0, Math.min(compared, 4)).equals(prefaceSoFar.subarray(0, Math.min(compared, 4)))) return "http1";
  if (head.length < 4) return "need_more";
  if (!head.subarray(0, compared).equals(prefaceSoFar)) return "invalid";
  if (head.length < HTTP2_PREFACE.length + FRAME_HEADER_BYTES) return "need_more";
  const frame = head.subarray(HTTP2_PREFACE.length);
  const length = frame.readUIntBE(0, 3);
  const type = frame[3];
  const flags = frame[4];
  const streamId = frame.readUInt32BE(5) & 0x7fffffff;
  if (
    type !== SETTINGS_FRAME_TYPE ||
    flags !== 0 ||
    streamId !== 0 ||
    length % 6 !== 0 ||
    length > FIRST_SETTINGS_BYTES_MAX
  ) {
    return "invalid";
  }
  return head.length < HTTP2_PREFACE.length + FRAME_HEADER_BYTES + length ? "need_more" : "http2";
}
