/**
 * Ways to make the ledger's disk full, for the disk-fault tests.
 *
 * The real fault is a full filesystem: a small tmpfs mounted for the test, filled with a ballast
 * file, then freed by deleting it. Mounting needs root and a kernel that allows it, which CI
 * containers often do not; there the equivalent fault is SQLite's `max_page_count`, which makes
 * SQLite answer SQLITE_FULL exactly as it does on a full disk (the same error code through the
 * same code path in the store), freed by raising the limit. The page limit always runs; the
 * tmpfs variant runs too wherever mounting works.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Database } from "better-sqlite3";

export interface DiskFault {
  readonly name: string;
  /** Where the database file must live for the fault to reach it. */
  readonly dbPath: string;
  /** Makes the disk full, given the service's connection. */
  fill(db: Database): void;
  /** Frees space again, as an operator would. */
  free(db: Database): void;
  cleanup(): void;
}

// Room for the database and a full WAL (SQLite checkpoints at 1000 pages, 4 MiB): a smaller
// disk would fill again from ordinary use as soon as the ballast is gone.
const TMPFS_SIZE = "16m";
const BALLAST_CHUNK_BYTES = 16 * 1024;

/** A tmpfs mounted on a fresh folder, or undefined where this machine does not allow mounting. */
export function tryTmpfsFault(): DiskFault | undefined {
  const mountPoint = mkdtempSync(join(tmpdir(), "ledger-tmpfs-"));
  const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_SIZE}`, "tmpfs", mountPoint], {
    encoding: "utf8",
  });
  if (mounted.status !== 0) {
    rmSync(mountPoint, { recursive: true, force: true });
    return undefined;
  }
  const ballast = join(mountPoint, "ballast");
  return {
    name: `a ${TMPFS_SIZE} tmpfs filled by a ballast file`,
    dbPath: join(mountPoint, "db", "ledger.db"),
    fill() {
      const fd = openSync(ballast, "w");
      try {
        const chunk = Buffer.alloc(BALLAST_CHUNK_BYTES, 0x55);
        for (;;) writeSync(fd, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
      } finally {
        closeSync(fd);
      }
    },
    free() {
      unlinkSync(ballast);
    },
    cleanup() {
      spawnSync("umount", ["-l", mountPoint]);
      rmSync(mountPoint, { recursive: true, force: true });
    },
  };
}

/** SQLite's page limit, set on the service's own connection: works everywhere, needs no privilege. */
export function pageLimitFault(): DiskFault {
  const dir = mkdtempSync(join(tmpdir(), "ledger-pagelimit-"));
  mkdirSync(join(dir, "db"));
  return {
    name: "SQLite max_page_count at the current size",
    dbPath: join(dir, "db", "ledger.db"),
    fill(db) {
      const pages = Number(db.pragma("page_count", { simple: true }));
      db.pragma(`max_page_count = ${pages}`);
    },
    free(db) {
      db.pragma("max_page_count = 4294967294");
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
