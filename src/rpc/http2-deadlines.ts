/**
 * Deadlines for HTTP/2 sessions and streams that connect-node serves (TLS, or cleartext with
 * LEDGER_GRPC_SERVER=connect). Node's HTTP/2 server has no headers or request timeout of its
 * own, and its session timeout counts any frame (a PING) as activity, so these count what matters:
 * time without an open stream, and time for a request's body to arrive.
 */
import { constants, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from "node:http2";

/**
 * Sends GOAWAY once the session has had no open stream for `idleTimeoutMs` (including a session
 * whose first HEADERS never completes), and destroys it if the peer does not close after that.
 */
export function guardHttp2Session(session: Http2Session, idleTimeoutMs: number, onStalled: () => void): void {
  let openStreams = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      onStalled();
      session.close();
      // close() waits for the peer; a peer that stalls gets one more idle period.
      setTimeout(() => session.destroy(), idleTimeoutMs).unref();
    }, idleTimeoutMs);
    timer.unref();
  };
  arm();
  session.on("stream", (stream: { once(event: "close", listener: () => void): void }) => {
    openStreams += 1;
    clearTimeout(timer);
    stream.once("close", () => {
      openStreams -= 1;
      if (openStreams === 0 && !session.closed && !session.destroyed) arm();
    });
  });
  session.once("close", () => clearTimeout(timer));
}

/**
 * Resets a stream whose request body has not fully arrived `requestTimeoutMs` after its headers
 * (answering 408 first when nothing was sent yet). A handler that is still working on a complete
 * request is left alone: that is the caller's deadline to enforce, not ours.
 */
export function guardHttp2Stream(
  request: Http2ServerRequest,
  response: Http2ServerResponse,
  requestTimeoutMs: number,
  onStalled: () => void,
): void {
  const stream = request.stream;
  const timer = setTimeout(() => {
    const bodyComplete = stream.destroyed || stream.closed || stream.state.remoteClose === 1;
    if (bodyComplete) return;
    onStalled();
    if (!response.headersSent) {
      response.writeHead(408).end();
    }
    stream.close(constants.NGHTTP2_CANCEL);
  }, requestTimeoutMs);
  timer.unref();
  stream.once("close", () => clearTimeout(timer));
}
