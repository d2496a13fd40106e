import { expect } from 'chai';
import { formatMetricField, parseMetricField } from '../../core/index.js';
import { runCli } from '../helpers/cli-process.js';
import { freePort } from '../helpers/nats-server-process.js';

describe('cli demo output', function () {
  this.timeout(120_000);
  let out = '';
  let httpPort = 0;

  before(async () => {
    httpPort = await freePort();
    // 60 devices: five of them (every eleventh) send broken payloads, enough dead letters to be sampled.
    const r = await runCli(['demo', '--duration', '13s', '--devices', '60', '--mqtt-port', String(await freePort()), '--http-port', String(httpPort)], { timeoutMs: 90_000 });
    expect(r.status, r.stderr).to.equal(0);
    out = r.stdout;
  });

  it('cli - demo lists the console URL first', () => {
    expect(out.split('\n')[0]).to.equal(`console: open http://127.0.0.1:${httpPort}/ in a browser`);
  });

  it('cli - demo shows a rolling top 10 of metric fields by rate, each exactly in the service:context?query event action form', () => {
    const lines = out.split('\n');
    const blocks: string[][] = [];
    lines.forEach((line, i) => {
      if (!line.includes('top metric fields (per second, last 10s):')) return;
      const block: string[] = [];
      for (let j = i + 1; j < lines.length && /^\s+\d+\.\d\/s {2}/.test(lines[j]!); j++) block.push(lines[j]!);
      blocks.push(block);
    });
    expect(blocks.length, out).to.be.at.least(3); // every 5s, and in the final summary
    expect(blocks.every((b) => b.length <= 10)).to.equal(true);
    expect(blocks.some((b) => b.length === 10), out).to.equal(true);
    for (const block of blocks) {
      const rates: number[] = [];
      for (const row of block) {
        const [, rate, field] = /^\s+(\d+\.\d)\/s {2}(.+)$/.exec(row)!;
        rates.push(Number(rate));
        const parsed = parseMetricField(field!); // a typed error if the field is not in the standard form
        expect(parsed.app, field).to.match(/^(ingest|filter|aggregate|alert)$/);
        expect(parsed.container, field).to.equal('demo-1');
        expect(formatMetricField(parsed), 'printed as the service reports it').to.equal(field);
      }
      expect(rates, 'busiest first').to.deep.equal([...rates].sort((a, b) => b - a));
    }
  });

  it('cli - demo says when its dead-letter lines are sampled', () => {
    const dead = out.split('\n').filter((l) => l.startsWith('DEAD'));
    const total = Number(/Final summary[^]*?dead letters (\d+)/.exec(out)![1]);
    expect(total, out).to.be.greaterThan(dead.length);
    expect(dead.slice(0, 4).every((l) => !l.includes('sampled')), 'the first ones in full').to.equal(true);
    expect(dead[4]).to.include('(5 shown; from here on 1 line per 5s, sampled)');
    const sampled = dead.slice(5);
    expect(sampled.length, out).to.be.greaterThan(0);
    for (const line of sampled) expect(line).to.match(/\(sampled: 1 of \d+ since the last line, \d+ in all\)$/);
  });
});
