/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [functions=40]`: where a server's CPU went,
 * from a V8 CPU profile that `npm run bench -- --profile` wrote. Only the samples from the first
 * call to the last count (start-up, module loading and transpiling would otherwise dominate a
 * short run); the share of each source (a package, a Node internal module, one of our files, GC,
 * idle) and of each function's own time is printed, as bench/README.md quotes them.
 */
import { readFileSync } from "node:fs";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
}

/** A sample whose stack holds one of these belongs to a call (HTTP/2 or HTTP/1.1 request). */
const CALL_FRAMES = /^(onSessionHeaders|parserOnHeadersComplete)$/;

function sourceOf(url: string, functionName: string): string {
  if (url === "") return functionName === "" ? "(native)" : `(${functionName})`;
  if (url.includes("node_modules/")) {
    const [scope = "", name = ""] = (url.split("node_modules/").pop() ?? "").split("/");
    return scope.startsWith("@") ? `${scope}/${name}` : scope;
  }
  if (url.startsWith("node:")) return url;
  return `ours:${url.replace(/.*\/(src|bench)\//, "$1/")}`;
}

function top(counts: Map<string, number>, total: number, limit: number): string {
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([key, count]) => `${((100 * count) / total).toFixed(1).padStart(5)}% ${key}`)
    .join("\n");
}

function summarize(profile: Profile, functionsShown: number): string {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const inCall = (id: number): boolean => {
    for (let at: number | undefined = id; at !== undefined; at = parentOf.get(at)) {
      if (CALL_FRAMES.test(byId.get(at)?.callFrame.functionName ?? "")) return true;
    }
    return false;
  };
  const first = profile.samples.findIndex(inCall);
  const last = profile.samples.length - 1 - [...profile.samples].reverse().findIndex(inCall);
  const samples = first < 0 ? [] : profile.samples.slice(first, last + 1);
  const bySource = new Map<string, number>();
  const byFunction = new Map<string, number>();
  for (const id of samples) {
    const frame = byId.get(id)?.callFrame;
    if (frame === undefined) continue;
    const source = sourceOf(frame.url, frame.functionName);
    bySource.set(source, (bySource.get(source) ?? 0) + 1);
    const where = frame.url.replace(/.*node_modules\//, "").replace(/.*\/(src|bench)\//, "$1/");
    const name = `${frame.functionName === "" ? "(anonymous)" : frame.functionName} ${where}:${frame.lineNumber}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + 1);
  }
  const total = Math.max(1, samples.length);
  return [
    `${samples.length} samples from the first call to the last (of ${profile.samples.length})`,
    "-- by source",
    top(bySource, total, 30),
    "-- by function (own time)",
    top(byFunction, total, functionsShown),
  ].join("\n");
}

const [file, shown = "40"] = process.argv.slice(2);
if (file === undefined) {
  process.stderr.write("usage: npx tsx bench/profile-summary.ts <file.cpuprofile> [functions=40]\n");
  process.exit(2);
}
process.stdout.write(`${summarize(JSON.parse(readFileSync(file, "utf8")) as Profile, Number(shown))}\n`);
