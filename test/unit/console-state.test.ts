import { expect } from 'chai';
import { consolePipeline } from '../../cli/pipeline/console-graph.js';
import { demoPipeline } from '../../cli/commands/demo.js';
import { CONSOLE_LIMITS, ConsoleState, graphOf, subjectsOverlap, type FieldRow } from '../../gateway/console-state.js';
import type { MetricBatch } from '../../core/index.js';

const operator = { principal: 'ops' };
const acme = { principal: 'u', tenant: 'acme' };
const batch = (service: string, fields: Array<[string, number]>, end = Date.now(), intervalMs = 1000): MetricBatch => ({
  service, start: new Date(end - intervalMs).toISOString(), end: new Date(end).toISOString(),
  fields: fields.map(([field, count]) => ({ field, count, sum: count, min: 1, max: 1 })),
});

describe('console state', () => {
  it('console state - metric fields become rows with totals and a per-second rate that falls to 0 once stale', () => {
    const s = new ConsoleState();
    const t = Date.now();
    s.addMetrics(batch('filter', [['filter@e1:sensor.reading?deviceId=s-1 passed forwarded', 10]], t, 2000), undefined, t);
    s.addMetrics(batch('filter', [['filter@e1:sensor.reading?deviceId=s-1 passed forwarded', 4]], t + 2000, 2000), undefined, t + 2000);
    const [row] = s.snapshot(operator, {}, t + 2000).fields;
    expect(row).to.deep.equal({ service: 'filter', container: 'e1', context: 'sensor.reading', query: 'deviceId=s-1', event: 'passed', action: 'forwarded', count: 14, rate: 2 });
    expect(s.snapshot(operator, {}, t + 2000 + 3 * 2000 + 1001).fields[0]!.rate).to.equal(0);
  });

  it('console state - a field that does not parse is skipped, the rest of its batch is kept', () => {
    const s = new ConsoleState();
    s.addMetrics(batch('x', [['not a field', 1], ['x:a.b received delivered', 3]]), undefined);
    expect(s.snapshot(operator, {}).fields.map((f) => f.context)).to.deep.equal(['a.b']);
  });

  it('console state - throughput per service is what it receives per second, its instances added up', () => {
    const s = new ConsoleState();
    const t = Math.floor(Date.now() / 1000) * 1000;
    const [a, b] = ['alert@a:sensor.valid.> received delivered', 'alert@b:sensor.valid.> received delivered'];
    s.addMetrics(batch('alert', [[a, 100], ['alert@a:alerts.> published sent', 7]], t), undefined, t);
    s.addMetrics(batch('alert', [[b, 50]], t + 1000), undefined, t + 1000);
    s.addMetrics(batch('alert', [[a, 120]], t + 2000), undefined, t + 2000);
    const sec = t / 1000;
    expect(s.snapshot(operator, {}, t + 2000).throughput).to.deep.equal({ alert: [[sec, 100], [sec + 1, 150], [sec + 2, 170]] });
    // b stopped reporting: it no longer counts three of its intervals after its last batch.
    s.addMetrics(batch('alert', [[a, 80]], t + 4000), undefined, t + 4000);
    expect(s.snapshot(operator, {}, t + 4000).throughput.alert!.at(-1)).to.deep.equal([sec + 4, 80]);
  });

  it('console state - an alert is active from raised to resolved, then listed as resolved with when it began', () => {
    const s = new ConsoleState();
    s.addAlert('alert.raised', { alertId: 'a1', rule: 'overheat', key: 'sensor-3', deviceId: 'sensor-3', severity: 'critical', value: 84, raisedAt: 2000, since: 1000 }, 'alerts.sensor-3', undefined);
    expect(s.snapshot(operator, {}).alerts.active).to.deep.equal([{ alertId: 'a1', device: 'sensor-3', rule: 'overheat', severity: 'critical', value: 84, since: 1000, subject: 'alerts.sensor-3' }]);
    s.addAlert('alert.resolved', { alertId: 'a1', rule: 'overheat', key: 'sensor-3', value: 74, resolvedAt: 9000 }, 'alerts.sensor-3', undefined);
    const { active, resolved, activeTotal } = s.snapshot(operator, {}).alerts;
    expect([active, activeTotal]).to.deep.equal([[], 0]);
    expect(resolved).to.deep.equal([{ alertId: 'a1', device: 'sensor-3', rule: 'overheat', severity: 'critical', value: 74, since: 1000, subject: 'alerts.sensor-3', resolvedAt: 9000 }]);
  });

  it('console state - dead letters: newest first, bounded, counted by reason', () => {
    const s = new ConsoleState();
    const n = CONSOLE_LIMITS.deadLettersKept * 3;
    for (let i = 0; i < n; i++) s.addDeadLetter('dlq.devices.d.telemetry', { dlqreason: i % 2 ? 'SB_ERR_CODEC_DECODE' : 'SB_ERR_CONTRACT_INVALID', dlqmessage: `m${i}` }, undefined);
    const { recent, byReason, total } = s.snapshot(operator, {}).deadLetters;
    expect(recent).to.have.length(CONSOLE_LIMITS.deadLettersSent);
    expect(recent[0]).to.include({ subject: 'devices.d.telemetry', reason: 'SB_ERR_CODEC_DECODE', message: `m${n - 1}` });
    expect(byReason).to.deep.equal({ SB_ERR_CODEC_DECODE: n / 2, SB_ERR_CONTRACT_INVALID: n / 2 });
    expect(total).to.equal(n);
    expect((s as unknown as { deadLetters: unknown[] }).deadLetters.length).to.be.at.most(CONSOLE_LIMITS.deadLettersKept * 2);
  });

  it('console state - a tenant sees its own alerts and dead letters, no other tenant\'s and no untenanted metrics; an operator sees all', () => {
    const s = new ConsoleState();
    s.addAlert('alert.raised', { alertId: 'a', key: 'acme-1', rule: 'r', value: 1 }, 'alerts.acme-1', 'acme');
    s.addAlert('alert.raised', { alertId: 'a', key: 'globex-1', rule: 'r', value: 1 }, 'alerts.globex-1', 'globex');
    s.addDeadLetter('dlq.x', { dlqreason: 'SB_ERR_A' }, 'acme');
    s.addDeadLetter('dlq.x', { dlqreason: 'SB_ERR_B' }, 'globex');
    s.addMetrics(batch('filter', [['filter:x received delivered', 1]]), undefined);
    const mine = s.snapshot(acme, {});
    expect(mine.alerts.active.map((a) => a.device)).to.deep.equal(['acme-1']);
    expect(mine.deadLetters.byReason).to.deep.equal({ SB_ERR_A: 1 });
    expect([mine.fields, mine.throughput, mine.tenant]).to.deep.equal([[], {}, 'acme']);
    const all = s.snapshot(operator, {});
    expect(all.alerts.active.map((a) => a.device).sort()).to.deep.equal(['acme-1', 'globex-1']);
    expect(all.fields).to.have.length(1);
  });

  it('console state - rows are bounded: the fields idle longest give way, and only the busiest are sent', () => {
    const s = new ConsoleState();
    const t = Date.now();
    for (let i = 0; i <= CONSOLE_LIMITS.fieldRows; i++) s.addMetrics(batch('f', [[`f:c?k=${i} e a`, i + 1]], t + i), undefined, t + i);
    const snap = s.snapshot(operator, {}, t + CONSOLE_LIMITS.fieldRows);
    expect(snap.fieldsTotal).to.be.at.most(CONSOLE_LIMITS.fieldRows);
    expect(snap.fields).to.have.length(CONSOLE_LIMITS.fieldRowsSent);
    expect(snap.fields.some((f) => f.query === 'k=0'), 'the oldest was let go').to.equal(false);
    expect(snap.fields.some((f) => f.query === `k=${CONSOLE_LIMITS.fieldRows}`), 'the busiest is sent').to.equal(true);
  });
});

describe('console pipeline graph', () => {
  it('console pipeline graph - subjects overlap across wildcards and template placeholders', () => {
    expect(subjectsOverlap('sensor.valid.{data.deviceId}', 'sensor.valid.>')).to.equal(true);
    expect(subjectsOverlap('sensor.reading.{deviceId}', 'sensor.reading.>')).to.equal(true);
    expect(subjectsOverlap('alerts.{key}', 'sensor.valid.>')).to.equal(false);
    expect(subjectsOverlap('a.*.c', 'a.b.c')).to.equal(true);
    expect(subjectsOverlap('a.b', 'a.b.c')).to.equal(false);
  });

  it('console pipeline graph - the demo is drawn devices → ingest → filter → aggregate and alert → their outputs, rates from the metric fields', () => {
    const p = consolePipeline(demoPipeline(1883, 8080));
    const fields: FieldRow[] = [
      { service: 'filter', container: 'demo-1', context: 'sensor.reading.>', query: '', event: 'received', action: 'delivered', count: 9, rate: 200 },
      { service: 'alert', container: 'demo-1', context: 'alerts.>', query: '', event: 'published', action: 'sent', count: 3, rate: 1.5 },
    ];
    const g = graphOf(p, fields);
    expect(g.edges.map((e) => [e.from, e.to, e.rate])).to.deep.equal([
      ['subject:devices.*.telemetry', 'ingest', 0],
      ['ingest', 'filter', 200],
      ['filter', 'aggregate', 0],
      ['filter', 'alert', 0],
      ['aggregate', 'subject:sensor.aggregate.{key}', 0],
      ['alert', 'subject:alerts.{deviceId}', 1.5],
    ]);
  });
});
