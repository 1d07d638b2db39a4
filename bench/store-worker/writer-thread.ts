/**
 * Prototype only: the writer on its own worker thread. The main thread posts one message per
 * batch (user ids and a transferred BigInt64Array of amounts); the answer comes back the same way.
 */
import { parentPort, workerData } from "node:worker_threads";
import { openWriter } from "./writer-core.js";

interface BatchMessage {
  readonly id: number;
  readonly userIds: string[];
  readonly amounts: BigInt64Array;
}

const writer = openWriter((workerData as { filename: string }).filename);
parentPort?.postMessage("ready");
parentPort?.on("message", (message: BatchMessage | "close") => {
  if (message === "close") {
    writer.close();
    parentPort?.close();
    return;
  }
  const results = writer.apply(message.userIds, message.amounts);
  parentPort?.postMessage({ id: message.id, results }, [results.buffer as ArrayBuffer]);
});
