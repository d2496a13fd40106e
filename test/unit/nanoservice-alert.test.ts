import { expect } from 'chai';
import fc from 'fast-check';
import { Bus, OptionsInvalidError, type Envelope } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import {
  AlertEvaluator, createAlertService, Hysteresis, runNanoservice, SnapshotInvalidError, type AlertRule, type AlertTransition,
} from '../../nanoservices/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const overheat: AlertRule = { name: 'overheat', kind: 'threshold', field: 'temperature', raise: { value: 80, forReadings: 3 }, resolve: { value: 75, forReadings: 3 } };

/** Feeds values (ts = index * 1000, id = `m<index>`) and returns `index:type:causationIds` per transition. */
function run(ev: AlertEvaluator, series: number[], key = 'd1'): string[] {
  const out: string[] = [];
  series.forEach((v, i) => {
    for (const t of ev.evaluate(key, i * 1000, `m${i}`, [v])) out.push(`${i}:${t.type}:${t.causationIds.join(',')}`);
  });
  return out;
}

describe('nanoservice alert', () => {
  describe('rules', () => {
    it('hysteresis - raises after N readings above, once, and resolves after M readings at or below the lower level, once', () => {
      const ev = new AlertEvaluator([overheat]);
      //             0   1   2   3   4   5   6   7   8   9  10  11  12  13  14  15
      const series = [81, 82, 79, 81, 82, 83, 90, 78, 79, 74, 75, 76, 70, 71, 75, 60];
      expect(run(ev, series)).to.deep.equal(['5:raised:m3,m4,m5', '14:resolved:m12,m13,m14']);
      expect(ev.isRaised('d1', 'overheat')).to.equal(false);
    });

    it('hysteresis - a value hovering between the levels neither raises again nor resolves', () => {
      const ev = new AlertEvaluator([overheat]);
      const series = [81, 81, 81, ...Array.from({ length: 50 }, (_, i) => (i % 2 ? 80.5 : 76))];
      expect(run(ev, series)).to.deep.equal(['2:raised:m0,m1,m2']);
    });

    it('hysteresis - transitions alternate raised, resolved, raised … for any series (property)', () => {
      fc.assert(fc.property(fc.array(fc.integer({ min: 60, max: 100 }), { maxLength: 200 }), fc.integer({ min: 1, max: 4 }), fc.integer({ min: 1, max: 4 }), (series, n, m) => {
        const ev = new AlertEvaluator([{ ...overheat, raise: { value: 80, forReadings: n }, resolve: { value: 75, forReadings: m } }]);
        const types = run(ev, series).map((s) => s.split(':')[1]);
        types.forEach((t, i) => expect(t).to.equal(i % 2 === 0 ? 'raised' : 'resolved'));
      }), { numRuns: 500 });
    });

    it('threshold - held for a duration of event time', () => {
      const ev = new AlertEvaluator([{ name: 'hot', kind: 'threshold', field: 't', raise: { value: 80, forMs: 10_000 } }]);
      expect(ev.evaluate('k', 0, 'a', [81])).to.deep.equal([]);
      expect(ev.evaluate('k', 5_000, 'b', [82])).to.deep.equal([]);
      const [t] = ev.evaluate('k', 10_000, 'c', [83]);
      expect(t).to.deep.include({ type: 'raised', rule: 'hot', key: 'k', value: 83, threshold: 80, readings: 3, since: 0, at: 10_000, causationIds: ['a', 'b', 'c'] });
      const [r] = ev.evaluate('k', 11_000, 'd', [80]);
      expect(r).to.deep.include({ type: 'resolved', threshold: 80, raisedAt: 10_000, causationIds: ['d'] });
    });

    it('threshold - direction below raises under the level and resolves at or above the upper one', () => {
      const ev = new AlertEvaluator([{ name: 'freeze', kind: 'threshold', field: 't', direction: 'below', raise: { value: 0 }, resolve: { value: 3 } }]);
      expect(run(ev, [5, 0, -1, 2, 3, -5])).to.deep.equal(['2:raised:m2', '4:resolved:m4', '5:raised:m5']);
    });

    it('rate - change per second between consecutive readings, out-of-order readings ignored', () => {
      const ev = new AlertEvaluator([{ name: 'spike', kind: 'rate', field: 't', raise: { value: 5 }, resolve: { value: 1 } }]);
      expect(ev.evaluate('k', 0, 'a', [20])).to.deep.equal([]);
      expect(ev.evaluate('k', 1000, 'b', [22])).to.deep.equal([]);
      expect(ev.evaluate('k', 500, 'late', [90]), 'older than the baseline').to.deep.equal([]);
      const [t] = ev.evaluate('k', 2000, 'c', [32]);
      expect(t).to.deep.include({ type: 'raised', kind: 'rate', value: 10, threshold: 5 });
      expect(ev.evaluate('k', 4000, 'd', [33])[0]).to.deep.include({ type: 'resolved', value: 0.5 });
      const abs = new AlertEvaluator([{ name: 'drop', kind: 'rate', field: 't', absolute: true, raise: { value: 5 } }]);
      expect(run(abs, [30, 20])).to.deep.equal(['1:raised:m1']);
    });

    it('zscore - flags a value far from the rolling mean after enough samples, then resolves', () => {
      const ev = new AlertEvaluator([{ name: 'odd', kind: 'zscore', field: 't', window: 20, minSamples: 10, raise: { value: 3 }, resolve: { value: 2 } }]);
      const normal = Array.from({ length: 30 }, (_, i) => 20 + (i % 3) - 1);
      expect(run(ev, [40, ...Array.from({ length: 8 }, () => 20)]), 'too few samples to judge').to.deep.equal([]);
      const ev2 = new AlertEvaluator(ev.rules as AlertRule[]);
      const res = run(ev2, [...normal, 40, 20]);
      expect(res).to.deep.equal(['30:raised:m30', '31:resolved:m31']);
      const flat = new AlertEvaluator(ev.rules as AlertRule[]);
      expect(run(flat, [...Array.from({ length: 10 }, () => 5), 5.1]), 'a flat history makes any change an anomaly').to.deep.equal(['10:raised:m10']);
    });

    it('rules - keys and rules keep separate state', () => {
      const ev = new AlertEvaluator([overheat, { name: 'warm', kind: 'threshold', field: 'temperature', raise: { value: 70 } }]);
      const a = ev.evaluate('a', 0, 'x', [85, 85]);
      expect(a.map((t) => t.rule)).to.deep.equal(['warm']);
      ev.evaluate('b', 0, 'y', [85, 85]);
      ev.evaluate('a', 1, 'z', [85, 85]);
      expect(ev.evaluate('a', 2, 'w', [85, 85]).map((t) => `${t.key}:${t.rule}`)).to.deep.equal(['a:overheat']);
    });

    it('hysteresis - causation ids are bounded', () => {
      const h = new Hysteresis('above', { value: 0, forReadings: 30, forMs: 0 }, { value: 0, forReadings: 1, forMs: 0 }, 5);
      let t;
      for (let i = 0; i < 30; i++) t = h.observe(1, i, `m${i}`);
      expect(t!.ids).to.deep.equal(['m25', 'm26', 'm27', 'm28', 'm29']);
      expect(t!.readings).to.equal(30);
    });

    it('snapshot - prefix, snapshot through JSON, restore into a fresh evaluator, suffix: the transitions of one uninterrupted evaluator (property)', () => {
      const rulesArb = fc.record({
        n: fc.integer({ min: 1, max: 3 }), m: fc.integer({ min: 1, max: 3 }), forMs: fc.integer({ min: 0, max: 3000 }),
        absolute: fc.boolean(), window: fc.integer({ min: 2, max: 6 }), minSamples: fc.integer({ min: 2, max: 6 }),
      }).map(({ n, m, forMs, absolute, window, minSamples }): AlertRule[] => [
        { name: 'hot', kind: 'threshold', field: 'a', raise: { value: 60, forReadings: n, forMs }, resolve: { value: 40, forReadings: m } },
        { name: 'cold', kind: 'threshold', field: 'a', direction: 'below', raise: { value: 20, forReadings: m }, resolve: { value: 30, forReadings: n, forMs } },
        { name: 'jump', kind: 'rate', field: 'b', absolute, perMs: 1000, raise: { value: 20, forReadings: n }, resolve: { value: 5, forReadings: m } },
        { name: 'odd', kind: 'zscore', field: 'c', window, minSamples: Math.min(window, minSamples), raise: { value: 1.5, forReadings: n }, resolve: { value: 1, forReadings: m } },
      ]);
      const value = fc.option(fc.double({ min: 0, max: 100, noNaN: true }).map((v) => v + 0), { nil: undefined }); // + 0: no -0, which JSON cannot keep
      const reading = fc.record({ key: fc.constantFrom('k1', 'k2', 'k3'), dt: fc.integer({ min: -500, max: 2000 }), a: value, b: value, c: value });
      fc.assert(fc.property(rulesArb, fc.array(reading, { maxLength: 120 }), fc.nat(), fc.integer({ min: 1, max: 4 }), (rules, readings, cut, maxIds) => {
        const split = cut % (readings.length + 1);
        let ts = 1_700_000_000_000;
        const steps = readings.map((r, i) => ({ key: r.key, ts: ts += r.dt, id: `m${i}`, values: [r.a, r.a, r.b, r.c] }));
        const feed = (ev: AlertEvaluator, from: number, to: number, into: AlertTransition[]) => {
          for (const s of steps.slice(from, to)) into.push(...ev.evaluate(s.key, s.ts, s.id, s.values));
        };
        const whole = new AlertEvaluator(rules, maxIds);
        const expected: AlertTransition[] = [];
        feed(whole, 0, steps.length, expected);
        const first = new AlertEvaluator(rules, maxIds);
        const got: AlertTransition[] = [];
        feed(first, 0, split, got);
        const second = new AlertEvaluator(rules, maxIds);
        second.restore(JSON.parse(JSON.stringify(first.snapshot())));
        feed(second, split, steps.length, got);
        expect(got).to.deep.equal(expected);
        expect(second.snapshot()).to.deep.equal(whole.snapshot());
      }), { numRuns: 400 });
    });

    it('snapshot - a snapshot it cannot read fails with SnapshotInvalidError naming the field, and the state stays', () => {
      const ev = new AlertEvaluator([overheat]);
      run(ev, [81, 82, 83]);
      const good = JSON.parse(JSON.stringify(ev.snapshot()));
      const cases: Array<[unknown, string]> = [
        [null, '(root)'],
        [{ ...good, v: 2 }, 'v'],
        [{ ...good, rules: [{ name: 'overheat', kind: 'median' }] }, 'rules[0].kind'],
        [{ ...good, keys: [{ key: 'd1', states: [] }] }, 'keys[0].states'],
        [{ ...good, keys: [{ key: 'd1', states: [{ ...good.keys[0].states[0], raisedAt: undefined }] }] }, 'keys[0].states[0].raisedAt'],
        [{ ...good, keys: [{ key: 'd1', states: [{ ...good.keys[0].states[0], streak: -1 }] }] }, 'keys[0].states[0].streak'],
        [{ ...good, keys: [good.keys[0], good.keys[0]] }, 'keys[1].key'],
      ];
      for (const [snapshot, field] of cases) {
        expect(() => ev.restore(snapshot), field).to.throw(SnapshotInvalidError).with.property('code', 'SB_ERR_SNAPSHOT_INVALID');
        expect(() => ev.restore(snapshot), field).to.throw(SnapshotInvalidError).with.nested.property('details.field', field);
      }
      expect(ev.isRaised('d1', 'overheat'), 'a failed restore changes nothing').to.equal(true);
      expect(ev.snapshot()).to.deep.equal(good);
    });

    it('snapshot - states follow their rules by name; a new rule, or one whose kind changed, starts fresh', () => {
      const warm: AlertRule = { name: 'warm', kind: 'threshold', field: 'temperature', raise: { value: 70 } };
      const before = new AlertEvaluator([warm, overheat]);
      for (let i = 0; i < 3; i++) before.evaluate('d1', i, `m${i}`, [85, 85]);
      expect(before.isRaised('d1', 'overheat') && before.isRaised('d1', 'warm')).to.equal(true);
      const after = new AlertEvaluator([overheat, { ...warm, kind: 'rate' }, { ...warm, name: 'new' }]);
      after.restore(JSON.parse(JSON.stringify(before.snapshot())));
      expect([after.isRaised('d1', 'overheat'), after.isRaised('d1', 'warm'), after.isRaised('d1', 'new')]).to.deep.equal([true, false, false]);
      // overheat resolves after three cool readings, as it would have on the first evaluator.
      const resolved = [0, 1, 2].flatMap((i) => after.evaluate('d1', 10 + i, `c${i}`, [70, 70, 70]).filter((t) => t.rule === 'overheat'));
      expect(resolved.map((t) => [t.type, t.raisedAt])).to.deep.equal([['resolved', 2]]);
    });

    it('rules - NaN and infinite values are skipped like absent ones', () => {
      const ev = new AlertEvaluator([overheat]);
      expect(run(ev, [81, 82, NaN, Infinity, 83])).to.deep.equal(['4:raised:m0,m1,m4']);
      expect(() => JSON.parse(JSON.stringify(ev.snapshot()))).to.not.throw();
    });

    it('rules - invalid rules fail with the field named', () => {
      const cases: Array<[unknown, string]> = [
        [[], 'rules'],
        [[{ ...overheat, resolve: { value: 85 } }], 'rules[0].resolve.value'],
        [[overheat, overheat], 'rules[1].name'],
        [[{ ...overheat, kind: 'median' }], 'rules[0].kind'],
        [[{ ...overheat, raise: { value: 'hot' } }], 'rules[0].raise.value'],
        [[{ ...overheat, raise: { value: 80, forReadings: 0 } }], 'rules[0].raise.forReadings'],
        [[{ name: 'z', kind: 'zscore', field: 't', window: 1, raise: { value: 3 } }], 'rules[0].window'],
        [[{ ...overheat, direction: 'up' }], 'rules[0].direction'],
      ];
      for (const [rules, field] of cases) expect(() => new AlertEvaluator(rules as AlertRule[]), field).to.throw(OptionsInvalidError).with.nested.property('details.field', field);
    });
  });

  describe('service', () => {
    let bus: Bus;
    let alerts: Envelope[];
    let subjects: string[];
    beforeEach(async () => {
      bus = new Bus({ service: 'alert@t1', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
      alerts = []; subjects = [];
      await bus.subscribe('alerts.>', (m, ctx) => { alerts.push(m); subjects.push(ctx.subject); });
    });
    afterEach(() => bus.stop());

    it('alert - publishes alert.raised once and alert.resolved once to the subject template, with the causing ids', async () => {
      await runNanoservice(bus, createAlertService({ input: 'sensor.valid.>', keyField: 'deviceId', output: 'alerts.{deviceId}', rules: [{ ...overheat, severity: 'critical' }] }));
      const ids: string[] = [];
      for (const [i, t] of [81, 82, 83, 84, 70, 71, 72, 73].entries()) {
        const e = await bus.publish('sensor.valid.d-7', { deviceId: 'd-7', ts: i * 1000, temperature: t }, { type: 'sensor.reading', partitionKey: 'd-7' });
        ids.push(e.id);
      }
      await waitFor(() => alerts.length === 2, { what: 'alerts.length === 2' });
      expect(alerts.map((a) => [a.type, a.partitionkey])).to.deep.equal([['alert.raised', 'd-7'], ['alert.resolved', 'd-7']]);
      expect(subjects).to.deep.equal(['alerts.d-7', 'alerts.d-7']);
      expect(alerts[0]!.data).to.deep.equal({
        alertId: 'overheat:d-7:2000', rule: 'overheat', key: 'd-7', kind: 'threshold', severity: 'critical', value: 83, threshold: 80,
        message: 'temperature above 80 for 3 readings', raisedAt: 2000, since: 0,
        deviceId: 'd-7', causationIds: ids.slice(0, 3), field: 'temperature', direction: 'above', readings: 3,
      });
      expect(alerts[0]!.causationid).to.equal(ids[2]);
      expect(alerts[0]!.causationids).to.equal(ids.slice(0, 3).join(','));
      expect(alerts[1]!.data).to.deep.include({ alertId: 'overheat:d-7:2000', rule: 'overheat', key: 'd-7', value: 72, raisedAt: 2000, resolvedAt: 6000, durationMs: 4000, deviceId: 'd-7', threshold: 75 });
      expect((alerts[1]!.data as { causationIds: string[] }).causationIds).to.deep.equal(ids.slice(4, 7));
      expect(alerts[1]!.causationids).to.equal(ids.slice(4, 7).join(','));
      await waitFor(() => bus.metrics.totals().has('alert@t1:sensor.reading?deviceId=d-7&rule=overheat threshold resolved'), { what: 'bus.metrics.totals().has(\'alert@t1:sensor.reading?deviceId=d-7&rule=overheat threshold resolved\')' });
      const totals = bus.metrics.totals();
      expect(totals.get('alert@t1:sensor.reading?deviceId=d-7&rule=overheat threshold raised')?.count).to.equal(1);
      expect(totals.get('alert@t1:sensor.reading?deviceId=d-7 received evaluated')?.count).to.equal(8);
    });

    it('alert - extended data adds the key under its own name, the causing ids and the rule details', async () => {
      await runNanoservice(bus, createAlertService({ input: 'in.>', keyField: 'deviceId', extendedData: true, rules: [{ name: 'hot', kind: 'threshold', field: 'temperature', raise: { value: 80 } }] }));
      const e = await bus.publish('in.x', { deviceId: 'x', ts: 5, temperature: 90 }, { partitionKey: 'x' });
      await waitFor(() => alerts.length === 1, { what: 'alerts.length === 1' });
      expect(alerts[0]!.data).to.deep.include({ deviceId: 'x', key: 'x', causationIds: [e.id], field: 'temperature', direction: 'above', readings: 1 });
      expect(subjects, 'default subject template alerts.{key}').to.deep.equal(['alerts.x']);
    });

    it('alert - an episode gets the same event ids on any instance, also when a takeover replays it from a checkpoint', async () => {
      const temps = [81, 82, 83, 84, 70, 71, 72, 73];
      const buses: Bus[] = [];
      const instance = async (from: number, to: number, restore?: unknown) => {
        const b = new Bus({ service: 'alert@other', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
        buses.push(b);
        const got: Envelope[] = [];
        await b.subscribe('alerts.>', (m) => { got.push(m); });
        const svc = createAlertService({ input: 'sensor.valid.>', keyField: 'deviceId', rules: [overheat] });
        if (restore !== undefined) svc.state.restore(JSON.parse(JSON.stringify(restore)));
        await runNanoservice(b, svc);
        const evaluated = () => b.metrics.totals().get('alert@other:sensor.reading?deviceId=d-7 received evaluated')?.count ?? 0;
        for (let i = from; i < to; i++) {
          await b.publish('sensor.valid.d-7', { deviceId: 'd-7', ts: i * 1000, temperature: temps[i] }, { id: `reading-${i}`, type: 'sensor.reading', partitionKey: 'd-7' });
          await waitFor(() => evaluated() === i - from + 1, { what: `reading ${i} evaluated` });
        }
        return { got, svc };
      };
      try {
        const whole = await instance(0, temps.length);
        expect(whole.got.map((a) => a.type)).to.deep.equal(['alert.raised', 'alert.resolved']);
        const [raisedId, resolvedId] = whole.got.map((a) => a.id);
        expect(raisedId).to.not.equal(resolvedId);

        // The first owner checkpoints after two readings, raises on the third, then dies.
        const first = await instance(0, 2);
        const checkpoint = first.svc.state.snapshot();
        const firstRest = await instance(2, 4, checkpoint);
        // The next owner restores that checkpoint and replays from its position (the same input messages).
        const taker = await instance(2, temps.length, checkpoint);
        expect(firstRest.got.map((a) => a.id)).to.deep.equal([raisedId]);
        expect(taker.got.map((a) => [a.type, a.id])).to.deep.equal([['alert.raised', raisedId], ['alert.resolved', resolvedId]]);
        expect(taker.got.map((a) => a.data)).to.deep.equal(whole.got.map((a) => a.data));
      } finally {
        for (const b of buses) await b.stop();
      }
    });

    it('alert - config errors name the field', () => {
      expect(() => createAlertService({ input: 'in', rules: [overheat], output: 'alerts.{' })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'output');
      expect(() => createAlertService({ input: 'in', rules: [{ ...overheat, field: 'a..b' }] })).to.throw(OptionsInvalidError).with.nested.property('details.field', 'rules[0].field');
    });
  });
});
