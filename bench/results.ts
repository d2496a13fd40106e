import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Scenario, ScenarioResult } from './harness.js';

const HEADER = '| scenario | msg/s | p50 µs | p99 µs | raw msg/s | raw p50 µs | raw p99 µs | ratio | command | date |\n|---|---:|---:|---:|---:|---:|---:|---:|---|---|';

/** A row written before the raw p50/p99 columns: two empty cells after `raw msg/s`. */
function withRawLatencyCells(row: string): string {
  const cells = row.split(' | ');
  if (cells.length !== 8) return row;
  cells.splice(5, 0, '', '');
  return cells.join(' | ');
}

/** Replaces the rows of the scenarios just run in RESULTS.md's table, keeping the others. */
export function recordResults(path: string, results: ScenarioResult[], scenarios: Scenario[], command: string): void {
  const rows = new Map<string, string>();
  const descriptions = new Map<string, string>();
  let notes = '';
  if (existsSync(path)) {
    const old = readFileSync(path, 'utf8');
    // Hand-written findings under "## Notes" survive every rewrite.
    const at = old.indexOf('\n## Notes');
    if (at >= 0) notes = old.slice(at);
    for (const line of (at >= 0 ? old.slice(0, at) : old).split('\n')) {
      const m = /^\| (\S+) \| [\d.]+ \|/.exec(line);
      if (m) rows.set(m[1]!, withRawLatencyCells(line));
      const d = /^- `(\S+)`: (.*)$/.exec(line);
      if (d) descriptions.set(d[1]!, d[2]!);
    }
  }
  const date = new Date().toISOString().slice(0, 10);
  for (const r of results) {
    const cell = (v: number | undefined) => (v === undefined ? '' : String(v));
    rows.set(r.name, `| ${r.name} | ${r.msgs_per_s} | ${cell(r.p50_us)} | ${cell(r.p99_us)} | ${cell(r.raw_msgs_per_s)} | ${cell(r.raw_p50_us)} | ${cell(r.raw_p99_us)} | ${cell(r.ratio)} | \`${command}\` | ${date} |`);
  }
  for (const s of scenarios) descriptions.set(s.name, s.description);
  const names = [...rows.keys()].sort();
  const text = `# Benchmark results

Measured on this project's machine (${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}),
brokers on loopback. Every broker scenario runs the raw client library and signalbus in the same
process run with the same ~200-byte JSON payload and the same in-flight window; \`ratio\` is
signalbus / raw, and \`raw p50/p99\` are the raw side's (or the peer's) latencies. Raw and
signalbus run as alternating pairs (3 unless \`--pairs\` says otherwise) and the row is the pair
with the median ratio: run-to-run spread on this machine is up to 35%, so compare within a row.
Each row names the command that produced it; re-run it to refresh the row. Each scenario runs
in a process of its own (\`--in-process\` runs them all in one).

${HEADER}
${names.map((n) => rows.get(n)).join('\n')}

## Scenarios

${names.map((n) => `- \`${n}\`: ${descriptions.get(n) ?? ''}`).join('\n')}
${notes}`;
  writeFileSync(path, text);
}
