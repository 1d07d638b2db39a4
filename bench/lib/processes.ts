/**
 * Starts the benchmark's processes. On Linux with `taskset`, servers run on core 0 and the
 * driver on core 1 (with two cores: one each), so neither takes CPU from the other; elsewhere
 * the operating system places them.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

const BENCH_DIR = fileURLToPath(new URL("..", import.meta.url));
const HAS_TASKSET = process.platform === "linux" && spawnSync("taskset", ["-V"]).status === 0;
export const CORES = availableParallelism();

/** Which core each role is pinned to, or null when pinning is off. */
export const PINNING =
  HAS_TASKSET && CORES >= 2 && !process.argv.includes("--no-pin") ? { server: 0, driver: 1 } : null;

export interface Started<T> {
  readonly child: ChildProcess;
  readonly first: Promise<T>;
}

/** Runs bench/<script> under Node with tsx, on `core` when pinning is on; `first` is its first IPC message. */
export function startScript<T>(
  script: string,
  args: readonly string[],
  options: { core: number | undefined; env?: Record<string, string>; nodeFlags?: readonly string[]; stdoutFd?: number },
): Started<T> {
  const nodeArgs = [...(options.nodeFlags ?? []), "--import", "tsx", `${BENCH_DIR}${script}`, ...args];
  const [command, commandArgs] =
    PINNING !== null && options.core !== undefined
      ? ["taskset", ["-c", String(options.core), process.execPath, ...nodeArgs]]
      : [process.execPath, nodeArgs];
  const child = spawn(command, commandArgs, {
    // Logs go nowhere (or to a file, for runs whose access log is tallied): a pipe would make
    // this process spend CPU reading them.
    stdio: ["ignore", options.stdoutFd ?? "ignore", "inherit", "ipc"],
    env: { ...process.env, ...options.env },
  });
  const first = new Promise<T>((resolve, reject) => {
    child.once("message", (message) => resolve(message as T));
    child.once("exit", (code) => reject(new Error(`${script} exited with code ${code} before answering`)));
  });
  return { child, first };
}

/** Asks a child to stop and waits for it to exit, killing it after `timeoutMs`. */
export async function stopChild(child: ChildProcess, message: string | undefined, timeoutMs = 20_000): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  if (message !== undefined && child.connected) child.send(message);
  else child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  await exited;
  clearTimeout(timer);
}
