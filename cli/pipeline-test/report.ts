import type { TestRun } from './runner.js';

/** The human report: one line per case, the diff under each failing one, a total. */
export function formatReport(run: TestRun): string {
  const lines: string[] = [];
  for (const note of run.notes) lines.push(`note: ${note}`);
  for (const r of run.results) {
    lines.push(`${r.passed ? 'ok  ' : 'FAIL'} ${r.name} (${r.durationMs.toFixed(0)} ms)`);
    if (r.error) lines.push(`     error: ${r.error}`);
    for (const f of r.failures) {
      lines.push(`     ${f.where}: ${f.summary}`);
      for (const d of f.details) lines.push(`       ${d}`);
    }
  }
  const failed = run.results.filter((r) => !r.passed).length;
  lines.push(`${run.results.length - failed} passed, ${failed} failed (${run.pipeline})`);
  return `${lines.join('\n')}\n`;
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** XML text: escaped, and without the control characters XML 1.0 cannot hold at all. */
function xml(s: string): string {
  return s.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '').replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/**
 * A JUnit XML report (the dialect Jenkins, GitLab and GitHub test reporters read): one testsuite
 * per test file, one testcase per case, a failure element with the diff for each failing one.
 */
export function formatJunit(run: TestRun): string {
  const byFile = new Map<string, TestRun['results']>();
  for (const r of run.results) (byFile.get(r.file) ?? byFile.set(r.file, []).get(r.file)!).push(r);
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  const total = run.results.length;
  const failures = run.results.filter((r) => !r.passed && !r.error).length;
  const errors = run.results.filter((r) => r.error).length;
  const time = run.results.reduce((t, r) => t + r.durationMs, 0);
  out.push(`<testsuites name="signalbus test ${xml(run.pipeline)}" tests="${total}" failures="${failures}" errors="${errors}" time="${seconds(time)}">`);
  for (const [file, results] of byFile) {
    const f = results.filter((r) => !r.passed && !r.error).length;
    const e = results.filter((r) => r.error).length;
    out.push(`  <testsuite name="${xml(file)}" tests="${results.length}" failures="${f}" errors="${e}" time="${seconds(results.reduce((t, r) => t + r.durationMs, 0))}">`);
    for (const r of results) {
      const open = `    <testcase classname="${xml(file)}" name="${xml(r.name)}" time="${seconds(r.durationMs)}"`;
      if (r.passed) { out.push(`${open}/>`); continue; }
      out.push(`${open}>`);
      if (r.error) out.push(`      <error message="${xml(r.error)}"/>`);
      for (const fl of r.failures) {
        out.push(`      <failure message="${xml(`${fl.where}: ${fl.summary}`)}" type="${xml(fl.where)}">${xml(fl.details.join('\n'))}</failure>`);
      }
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  }
  out.push('</testsuites>');
  return `${out.join('\n')}\n`;
}
