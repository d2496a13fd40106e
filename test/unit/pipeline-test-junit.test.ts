import { expect } from 'chai';
import { formatJunit, formatReport } from '../../cli/pipeline-test/report.js';
import type { TestRun } from '../../cli/pipeline-test/runner.js';

const run: TestRun = {
  pipeline: 'p.json',
  notes: ['store (sink) is not run'],
  results: [
    { file: 'p.test.json', name: 'passes', passed: true, failures: [], durationMs: 12 },
    { file: 'p.test.json', name: 'fails <"&\'>', passed: false, durationMs: 3, failures: [{ where: 'expect[0]', summary: 'wanted exactly 1 output on a.b, got 0', details: ['closest (of 1): a.c x {"v":1}', '  subject: expected a.b, got a.c'] }] },
    { file: 'q.test.json', name: 'errs', passed: false, durationMs: 1, failures: [], error: 'the pipeline did not settle \u0001' },
  ],
};

describe('pipeline test reports', () => {
  it('pipeline test - JUnit XML: a suite per file, a testcase per case, failures with the diff, errors apart, text escaped', () => {
    const xml = formatJunit(run);
    expect(xml).to.match(/^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites name="signalbus test p.json" tests="3" failures="1" errors="1" time="0.016">/);
    expect(xml).to.include('<testsuite name="p.test.json" tests="2" failures="1" errors="0" time="0.015">');
    expect(xml).to.include('<testsuite name="q.test.json" tests="1" failures="0" errors="1"');
    expect(xml).to.include('<testcase classname="p.test.json" name="passes" time="0.012"/>');
    expect(xml).to.include('name="fails &lt;&quot;&amp;&apos;&gt;"');
    expect(xml).to.include('<failure message="expect[0]: wanted exactly 1 output on a.b, got 0" type="expect[0]">closest (of 1): a.c x {&quot;v&quot;:1}\n  subject: expected a.b, got a.c</failure>');
    expect(xml).to.include('<error message="the pipeline did not settle "/>');
    // Every element opened is closed.
    for (const tag of ['testsuites', 'testsuite', 'testcase']) {
      const opened = (xml.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length;
      const closed = (xml.match(new RegExp(`</${tag}>|<${tag} [^>]*/>`, 'g')) ?? []).length;
      expect(closed, tag).to.equal(opened);
    }
  });

  it('pipeline test - the text report: a line per case, the diff under a failing one, notes and a total', () => {
    const text = formatReport(run);
    expect(text.split('\n')).to.include.members([
      'note: store (sink) is not run',
      'ok   passes (12 ms)',
      'FAIL fails <"&\'> (3 ms)',
      '     expect[0]: wanted exactly 1 output on a.b, got 0',
      '         subject: expected a.b, got a.c',
      '1 passed, 2 failed (p.json)',
    ]);
  });
});
