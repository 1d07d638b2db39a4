// Runs `npm ci` when node_modules is missing or older than the lockfile, so that `npm start` and
// `npm test` work as the first commands on a fresh clone. Exits without work otherwise.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const marker = "node_modules/.package-lock.json";
const stale = !existsSync(marker) || statSync(marker).mtimeMs < statSync("package-lock.json").mtimeMs;
if (stale) {
  console.error("installing dependencies from package-lock.json (npm ci)…");
  execSync("npm ci --no-audit --no-fund", { stdio: "inherit" });
}
