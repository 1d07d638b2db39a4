// Runs before `npm start` and `npm test`, so that both work as the first commands on a fresh clone:
//
// 1. `npm ci` when node_modules is missing or older than the lockfile.
// 2. A supported Node.js. The ledger needs Node 22 or newer (better-sqlite3 13, the release that is
//    safe on Node 24, requires it; Node 20 reached end of life in April 2026). When the first
//    `node` on PATH is older, this installs the Node named in `.node-version` from the npm
//    registry (the `node-<platform>-<arch>` packages carry the official binaries) and links it as
//    `node_modules/.bin/node`. npm puts that folder first on PATH for every script, so `mocha`,
//    `tsx` and `node dist/src/main.js` then run on it, and the user still types `npm start`.
//    When the user's own Node is new enough, the link is removed again and their Node is used.
//
// Written for any Node the user may have (plain ESM, node: modules only), and it never touches
// better-sqlite3, which crashes on an unsupported Node instead of failing cleanly.
import { execFileSync, execSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync } from "node:fs";
import { delimiter, join, resolve } from "node:path";
import { URL, fileURLToPath } from "node:url";

const NODE_MAJOR_MIN = 22;
const root = fileURLToPath(new URL("..", import.meta.url));
const binFolder = join(root, "node_modules", ".bin");
const link = join(binFolder, "node");
const runtimesFolder = join(root, "node_modules", ".cache", "ledger-node");

function installDependencies() {
  const marker = join(root, "node_modules", ".package-lock.json");
  const lockfile = join(root, "package-lock.json");
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lockfile).mtimeMs) return;
  console.error("installing dependencies from package-lock.json (npm ci)…");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit", cwd: root });
}

/** The first `node` on PATH that is not ours, and its version, or undefined if there is none. */
function ownNode() {
  const folders = (process.env.PATH ?? "").split(delimiter).filter((folder) => folder !== "");
  for (const folder of folders) {
    if (resolve(folder).startsWith(join(root, "node_modules"))) continue;
    const candidate = join(folder, process.platform === "win32" ? "node.exe" : "node");
    if (!existsSync(candidate)) continue;
    try {
      const version = execFileSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
      return { path: candidate, version };
    } catch {
      continue;
    }
  }
  return undefined;
}

function major(version) {
  return Number.parseInt(version.split(".")[0] ?? "0", 10);
}

function isOurLink() {
  try {
    return lstatSync(link).isSymbolicLink() && resolve(binFolder, readlinkSync(link)).startsWith(runtimesFolder);
  } catch {
    return false;
  }
}

/** Installs the pinned Node from the npm registry (once) and returns its binary's path. */
function provisionNode(version) {
  const platform = process.platform === "win32" ? "win" : process.platform;
  const packageName = `node-${platform}-${process.arch}`;
  const prefix = join(runtimesFolder, version);
  const binary = join(prefix, "node_modules", packageName, "bin", "node");
  if (existsSync(binary)) return binary;
  console.error(`installing Node ${version} from the npm registry (${packageName})…`);
  mkdirSync(prefix, { recursive: true });
  execSync(
    `npm install --no-save --no-package-lock --no-audit --no-fund --prefix "${prefix}" ${packageName}@${version}`,
    {
      stdio: "inherit",
      cwd: root,
    },
  );
  if (!existsSync(binary)) throw new Error(`${packageName}@${version} did not provide ${binary}`);
  return binary;
}

function ensureSupportedNode() {
  const found = ownNode();
  if (found !== undefined && major(found.version) >= NODE_MAJOR_MIN) {
    if (isOurLink()) rmSync(link);
    return;
  }
  const pinned = readFileSync(join(root, ".node-version"), "utf8").trim();
  const binary = provisionNode(pinned);
  if (isOurLink() && resolve(binFolder, readlinkSync(link)) === binary) return;
  const seen = found === undefined ? "no node on PATH" : `Node ${found.version} at ${found.path}`;
  console.error(
    `${seen} is older than ${NODE_MAJOR_MIN}: npm scripts will run on Node ${pinned} from the npm registry.`,
  );
  rmSync(link, { force: true });
  mkdirSync(binFolder, { recursive: true });
  symlinkSync(binary, link);
}

installDependencies();
ensureSupportedNode();
