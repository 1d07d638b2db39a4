/**
 * Reads GET /metrics as Prometheus would, with a strict parser of the text exposition format
 * (version 0.0.4): it throws on any line Prometheus would refuse and on what it would
 * silently misread (a family split in two, a sample before its TYPE, a duplicated series,
 * histogram buckets that are not cumulative or whose +Inf bucket differs from _count).
 *
 * Written here because the npm parser we looked at (parse-prometheus-text-format 1.1.1) drops
 * the labels, _sum and _count of labelled histograms, which is what these tests read.
 */

export type MetricType = "counter" | "gauge" | "histogram" | "summary" | "untyped";

export interface Sample {
  /** The sample's own name: for a histogram, `<family>_bucket`, `_sum` or `_count`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Family {
  readonly name: string;
  help: string | undefined;
  type: MetricType;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES: readonly MetricType[] = ["counter", "gauge", "histogram", "summary", "untyped"];
const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: [""],
  gauge: [""],
  untyped: [""],
  histogram: ["_bucket", "_sum", "_count"],
  summary: ["", "_sum", "_count"],
};

/** Parses a whole exposition; throws with the line number on the first violation. */
export function parseExposition(text: string): Map<string, Family> {
  if (text !== "" && !text.endsWith("\n")) throw new Error("the exposition must end with a newline");
  const families = new Map<string, Family>();
  let current: Family | undefined;
  const seen = new Set<string>();
  const familyOf = (name: string): Family => {
    if (current?.name === name) return current;
    if (families.has(name)) throw new Error(`metric family ${name} is split in two`);
    current = { name, help: undefined, type: "untyped", samples: [] };
    families.set(name, current);
    return current;
  };
  text.split("\n").forEach((line, index) => {
    const where = `line ${index + 1} (${JSON.stringify(line)})`;
    if (line.trim() === "") return;
    const meta = /^#\s*(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
    if (meta !== null) {
      const [, keyword, name = "", rest = ""] = meta;
      if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      const family = familyOf(name);
      if (keyword === "HELP") {
        if (family.help !== undefined) throw new Error(`${where}: a second HELP`);
        family.help = rest;
      } else {
        if (!TYPES.includes(rest as MetricType)) throw new Error(`${where}: unknown type`);
        if (family.samples.length > 0 || family.type !== "untyped")
          throw new Error(`${where}: TYPE after samples or twice`);
        family.type = rest as MetricType;
      }
      return;
    }
    if (line.startsWith("#")) return;
    const sample = parseSample(line, where);
    const family = current !== undefined && sampleBelongs(current, sample.name) ? current : familyOf(sample.name);
    if (!sampleBelongs(family, sample.name))
      throw new Error(`${where}: ${sample.name} is not a sample name of ${family.type} ${family.name}`);
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicated series`);
    seen.add(key);
    if (family.type === "counter" && !(sample.value >= 0)) throw new Error(`${where}: a counter below zero`);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === "histogram") checkHistogram(family);
  return families;
}

function sampleBelongs(family: Family, sampleName: string): boolean {
  return SUFFIXES[family.type].some((suffix) => sampleName === `${family.name}${suffix}`);
}

function parseSample(line: string, where: string): Sample {
  const name = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)?.[0];
  if (name === undefined) throw new Error(`${where}: no metric name`);
  let position = name.length;
  const labels: Record<string, string> = {};
  if (line[position] === "{") {
    position += 1;
    for (;;) {
      if (line[position] === "}") break;
      const label = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"/.exec(line.slice(position));
      if (label === null) throw new Error(`${where}: bad label at column ${position + 1}`);
      const [whole, labelName = "", raw = ""] = label;
      if (!LABEL_NAME.test(labelName) || labelName.startsWith("__"))
        throw new Error(`${where}: reserved or bad label name`);
      if (labelName in labels) throw new Error(`${where}: label ${labelName} twice`);
      labels[labelName] = raw.replace(/\\(.)/g, (_, escaped: string) => (escaped === "n" ? "\n" : escaped));
      position += whole.length;
      if (line[position] === ",") position += 1;
      else if (line[position] !== "}") throw new Error(`${where}: expected , or } at column ${position + 1}`);
    }
    position += 1;
  }
  const rest = /^ ([^ ]+)(?: (-?\d+))?$/.exec(line.slice(position));
  if (rest === null) throw new Error(`${where}: expected " <value> [timestamp]"`);
  return { name, labels, value: parseValue(rest[1] ?? "", where) };
}

/** As Prometheus reads values (Go's ParseFloat): Inf and NaN in any case, e.g. prom-client's "Nan". */
function parseValue(raw: string, where: string): number {
  if (/^\+?inf(inity)?$/i.test(raw)) return Number.POSITIVE_INFINITY;
  if (/^-inf(inity)?$/i.test(raw)) return Number.NEGATIVE_INFINITY;
  if (/^nan$/i.test(raw)) return Number.NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) throw new Error(`${where}: bad value ${raw}`);
  return Number(raw);
}

/** Per series: buckets cumulative in `le` order, a +Inf bucket equal to _count, and a _sum. */
function checkHistogram(family: Family): void {
  const series = new Map<string, { buckets: [number, number][]; sum?: number; count?: number }>();
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const entry = series.get(key) ?? { buckets: [] };
    series.set(key, entry);
    if (sample.name.endsWith("_bucket")) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`);
      entry.buckets.push([parseValue(le, family.name), sample.value]);
    } else if (le !== undefined) {
      throw new Error(`${family.name}: le on ${sample.name}`);
    } else if (sample.name.endsWith("_sum")) {
      entry.sum = sample.value;
    } else {
      entry.count = sample.value;
    }
  }
  for (const [key, { buckets, sum, count }] of series) {
    const sorted = [...buckets].sort(([a], [b]) => a - b);
    for (let index = 1; index < sorted.length; index += 1) {
      if ((sorted[index]?.[1] ?? 0) < (sorted[index - 1]?.[1] ?? 0))
        throw new Error(`${family.name}${key}: buckets not cumulative`);
    }
    const infinite = sorted.at(-1);
    if (infinite?.[0] !== Number.POSITIVE_INFINITY) throw new Error(`${family.name}${key}: no +Inf bucket`);
    if (count === undefined || sum === undefined) throw new Error(`${family.name}${key}: _sum or _count missing`);
    if (infinite[1] !== count)
      throw new Error(`${family.name}${key}: +Inf bucket ${infinite[1]} differs from _count ${count}`);
  }
}

export class Scrape {
  readonly families: ReadonlyMap<string, Family>;

  constructor(readonly text: string) {
    this.families = parseExposition(text);
  }

  family(name: string): Family {
    const family = this.families.get(name);
    if (family === undefined) throw new Error(`no metric family ${name}`);
    return family;
  }

  /** The sample named `sampleName` (default: the family's own name) whose labels include `labels`. */
  sample(family: string, labels: Record<string, string> = {}, sampleName = family): Sample | undefined {
    return this.family(family).samples.find(
      (sample) =>
        sample.name === sampleName && Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
    );
  }

  /** A counter's or gauge's value; 0 when the labelled series does not exist yet. */
  value(family: string, labels: Record<string, string> = {}): number {
    return this.sample(family, labels)?.value ?? 0;
  }

  /** A histogram's count of observations; 0 when the labelled series does not exist yet. */
  count(family: string, labels: Record<string, string> = {}): number {
    return this.sample(family, labels, `${family}_count`)?.value ?? 0;
  }

  /** A histogram's sum of observations; 0 when the labelled series does not exist yet. */
  sum(family: string, labels: Record<string, string> = {}): number {
    return this.sample(family, labels, `${family}_sum`)?.value ?? 0;
  }
}

/** GET /metrics, failing unless it answers 200 in the text format. */
export async function scrape(baseUrl: string, headers: Record<string, string> = {}): Promise<Scrape> {
  const response = await fetch(`${baseUrl}/metrics`, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`GET /metrics answered ${response.status}: ${text}`);
  if (!(response.headers.get("content-type") ?? "").startsWith("text/plain; version=0.0.4")) {
    throw new Error(`GET /metrics answered content-type ${response.headers.get("content-type")}`);
  }
  return new Scrape(text);
}
