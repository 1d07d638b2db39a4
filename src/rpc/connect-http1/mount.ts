/**
 * Puts the lean unary path (./unary-handler.ts) in front of connect-node for HTTP/1.1: each
 * request it declines goes to connect-node untouched.
 */
import type { ServerResponse } from "node:http";
import type { Handler } from "../listener.js";
import { createLeanUnaryHandler, type LeanUnaryOptions } from "./unary-handler.js";

export function withLeanUnary(connectHandler: Handler, options: LeanUnaryOptions): Handler {
  const lean = createLeanUnaryHandler(options);
  return (request, response) => {
    // HTTP/2 requests (connect-node's own HTTP/2 server) are not the lean path's to take.
    if ("stream" in request || !lean(request, response as ServerResponse)) connectHandler(request, response);
  };
}
