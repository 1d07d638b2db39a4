/**
 * Runs the real service as a child process (`node --import tsx src/main.ts`), as an operator
 * does, so that tests can SIGKILL it at any instant and start it again on the same database.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** How long a start may take before the test gives up: tsx compiles on the fly. */
const READY_TIMEOUT_MS = 30_000;

/** A free loopback port, chosen once so that restarts reuse the same address. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}

export class ChildServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private stderr = "";

  constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Starts the service and resolves once GET /healthz answers 200. */
  async start(): Promise<void> {
    this.stderr = "";
    const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        LEDGER_HOST: "127.0.0.1",
        LEDGER_PORT: String(this.port),
        LEDGER_LOG_LEVEL: "warn",
        ...this.env,
      },
      stdio: ["ignore", "ignore", "pipe"],
    });
    this.child = child;
    child.stderr?.on("data", (chunk: Buffer) => (this.stderr = (this.stderr + chunk.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => child.once("exit", () => resolve()));
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null)
        throw new Error(`the service exited with ${child.exitCode} at start: ${this.stderr}`);
      try {
        const response = await fetch(`http://${this.address}/healthz`);
        if (response.status === 200) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.kill();
    throw new Error(`the service was not ready within ${READY_TIMEOUT_MS} ms: ${this.stderr}`);
  }

  /** SIGKILL: no shutdown code runs, as in a crash or an OOM kill. */
  async kill(): Promise<void> {
    this.child?.kill("SIGKILL");
    await this.exited;
  }

  /** SIGTERM and wait: the graceful path; resolves with the exit code. */
  async stop(): Promise<number | null> {
    const child = this.child;
    if (child === undefined || child.exitCode !== null) return child?.exitCode ?? null;
    child.kill("SIGTERM");
    await this.exited;
    return child.exitCode;
  }

  /** The service's process id while it runs, e.g. to read its memory from /proc. */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  /** Resolves with the exit code once the service exits by itself, or null after `timeoutMs`. */
  async waitForExit(timeoutMs: number): Promise<number | null> {
    const child = this.child;
    if (child === undefined) return null;
    await Promise.race([this.exited, new Promise((resolve) => setTimeout(resolve, timeoutMs))]);
    return child.exitCode;
  }

  get lastStderr(): string {
    return this.stderr;
  }
}
