/**
 * Refuses to run on a Node.js older than the ledger supports, with a message instead of a crash.
 *
 * better-sqlite3 13 (the release that is safe on Node 24) needs Node 22 or newer and segfaults on
 * older ones when the first database opens. Entry points import this module first, so that it
 * is evaluated before any module that opens a database. `npm start` and `npm test` provide a
 * supported Node by themselves (scripts/ensure-installed.mjs); this catches direct runs such as
 * `node dist/src/main.js` on an old system Node.
 */
export const NODE_MAJOR_MIN = 22;

const major = Number.parseInt(process.versions.node.split(".")[0] ?? "0", 10);
if (major < NODE_MAJOR_MIN) {
  console.error(
    `ledger needs Node.js ${NODE_MAJOR_MIN} or newer; this is ${process.version}. ` +
      "Run it through `npm start` (which provides a supported Node from the npm registry) or install Node 22 or 24.",
  );
  process.exit(2);
}
