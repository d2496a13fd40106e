import { expect } from 'chai';
import fc from 'fast-check';
import { Bus, OptionsInvalidError, type Envelope } from '../../core/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import {
  createAggregateService, MemoryCheckpointStore, percentile, runNanoservice, SnapshotInvalidError, WindowAggregator, windowStarts,
  type AggregateConfig, type WindowAggregatorOptions, type WindowResult, type WindowSpec,
} from '../../nanoservices/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const tumbling5s: WindowSpec = { kind: 'tumbling', sizeMs: 5000 };
const make = (o: Partial<WindowAggregatorOptions> = {}) => new WindowAggregator({ window: tumbling5s, fields: ['t'], ...o });

describe('nanoservice aggregate', () => {
  describe('windows', () => {
    it('window - assigns exactly the windows that contain the event time (property)', () => {
      fc.assert(fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 50 }), fc.integer({ min: -500, max: 500 }), fc.boolean(), (size, slideRaw, ts, sliding) => {
        const slide = Math.min(slideRaw, size);
        const spec: WindowSpec = sliding ? { kind: 'sliding', sizeMs: size, slideMs: slide } : { kind: 'tumbling', sizeMs: size };
        const step = sliding ? slide : size;
        const expected: number[] = [];
        for (let s = ts - size - step; s <= ts + step; s++) if (((s % step) + step) % step === 0 && s <= ts && ts < s + size) expected.push(s);
        const got = windowStarts(spec, ts, []).sort((a, b) => a - b);
        expect(got).to.deep.equal(expected);
        if (!sliding) expect(got).to.have.length(1);
      }), { numRuns: 3000 });
    });

    it('window - tumbling windows emit count, sum, min, max, avg, p50 and p95 when the watermark passes their end', () => {
      const agg = make();
      for (const [ts, t] of [[1000, 20], [2000, 22], [3000, 30], [4999, 21]] as const) expect(agg.add('d1', ts, [t], 0).emitted).to.deep.equal([]);
      const { status, emitted } = agg.add('d1', 5000, [25], 0, 'id-5');
      expect(status).to.equal('accepted');
      expect(emitted).to.have.length(1);
      expect(emitted[0]).to.deep.include({ key: 'd1', windowStart: 0, windowEnd: 5000, count: 4, late: 0, revision: 0 });
      expect(emitted[0]!.fields.t).to.deep.equal({ count: 4, sum: 93, min: 20, max: 30, avg: 23.25, p50: 21, p95: 30 });
      expect(agg.openWindows).to.equal(1);
    });

    it('window - out-of-order events within the watermark delay land in their window', () => {
      const agg = make({ watermarkDelayMs: 2000 });
      agg.add('d1', 1000, [1], 0);
      expect(agg.add('d1', 6000, [2], 0).emitted, 'watermark 4000 keeps [0,5000) open').to.deep.equal([]);
      expect(agg.add('d1', 4500, [3], 0).status).to.equal('accepted');
      const { emitted } = agg.add('d1', 7500, [4], 0);
      expect(emitted.map((w) => [w.windowStart, w.count, w.fields.t!.sum])).to.deep.equal([[0, 2, 4]]);
    });

    it('window - late events are rejected once every window they belong to was emitted', () => {
      const agg = make();
      agg.add('d1', 1000, [1], 0);
      agg.add('d1', 5000, [1], 0);
      expect(agg.add('d1', 4999, [1], 0)).to.deep.equal({ status: 'late-rejected', emitted: [] });
      expect(agg.add('d1', 5001, [1], 0).status, 'the open window still takes out-of-order events').to.equal('accepted');
      expect(agg.watermarkOf('d1')).to.equal(5001);
    });

    it('window - with late merge, a late event within the allowed lateness re-emits its window as a new revision', () => {
      const agg = make({ late: 'merge', allowedLatenessMs: 5000 });
      agg.add('d1', 1000, [10], 0);
      expect(agg.add('d1', 6000, [0], 0).emitted[0]).to.deep.include({ windowStart: 0, count: 1, revision: 0 });
      const merged = agg.add('d1', 2000, [30], 0, 'late-1');
      expect(merged.status).to.equal('late-merged');
      expect(merged.emitted[0]).to.deep.include({ windowStart: 0, count: 2, late: 1, revision: 1, causationId: 'late-1' });
      expect(merged.emitted[0]!.fields.t).to.include({ min: 10, max: 30, avg: 20 });
      agg.add('d1', 10_000, [0], 0); // watermark reaches 0 + 5000 + 5000: [0,5000) is forgotten
      expect(agg.add('d1', 3000, [1], 0).status).to.equal('late-rejected');
    });

    it('window - sliding windows hold an event in every window that covers it', () => {
      const agg = make({ window: { kind: 'sliding', sizeMs: 10, slideMs: 5 } });
      agg.add('k', 12, [1], 0);
      agg.add('k', 14, [2], 0);
      const first = agg.add('k', 15, [4], 0).emitted;
      expect(first.map((w) => [w.windowStart, w.windowEnd, w.count])).to.deep.equal([[5, 15, 2]]);
      const next = agg.add('k', 31, [8], 0).emitted;
      expect(next.map((w) => [w.windowStart, w.count, w.fields.t!.sum])).to.deep.equal([[10, 3, 7], [15, 1, 4]]);
    });

    it('window - keys keep their own watermarks', () => {
      const agg = make();
      agg.add('a', 1000, [1], 0);
      agg.add('b', 1000, [1], 0);
      expect(agg.add('a', 9000, [1], 0).emitted.map((w) => w.key)).to.deep.equal(['a']);
      expect(agg.add('b', 2000, [1], 0).status, 'b is not late because a moved on').to.equal('accepted');
    });

    it('window - missing field values are skipped, the event still counts', () => {
      const agg = new WindowAggregator({ window: tumbling5s, fields: ['t', 'h'], stats: ['count', 'avg'] });
      agg.add('k', 1, [20, undefined], 0);
      agg.add('k', 2, [undefined, 50], 0);
      const [w] = agg.add('k', 6000, [0, 0], 0).emitted;
      expect(w!.count).to.equal(2);
      expect(w!.fields).to.deep.equal({ t: { count: 1, avg: 20 }, h: { count: 1, avg: 50 } });
    });

    it('window - idle keys close their windows by the wall clock', () => {
      const agg = make({ idleTimeoutMs: 5000 });
      agg.add('d1', 1_000_000, [1], 10_000);
      expect(agg.advanceIdle(14_999)).to.deep.equal([]);
      const closed = agg.advanceIdle(15_000);
      expect(closed.map((w) => [w.key, w.windowStart, w.count])).to.deep.equal([['d1', 1_000_000, 1]]);
      expect(agg.openWindows).to.equal(0);
      expect(agg.add('d1', 1_004_000, [1], 15_001).status, 'the clock moved the watermark past it').to.equal('late-rejected');
    });

    it('window - every accepted event is counted in exactly one emitted tumbling window (property)', () => {
      const event = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 0, max: 20_000 }));
      fc.assert(fc.property(fc.array(event, { maxLength: 60 }), fc.integer({ min: 0, max: 3000 }), (events, delay) => {
        const agg = make({ watermarkDelayMs: delay });
        let accepted = 0; let emittedCount = 0;
        for (const [k, ts] of events) {
          const r = agg.add(k, ts, [1], 0);
          if (r.status === 'accepted') accepted++;
          for (const w of r.emitted) emittedCount += w.count;
        }
        for (const k of ['a', 'b', 'c']) for (const w of agg.add(k, 1e9, [1], 0).emitted) emittedCount += w.count;
        expect(emittedCount).to.equal(accepted);
      }), { numRuns: 500 });
    });

    it('window - no open window is ever left behind its key\'s watermark, also across a restore (property)', () => {
      const spec = fc.oneof(fc.constant<WindowSpec>({ kind: 'tumbling', sizeMs: 1000 }), fc.constant<WindowSpec>({ kind: 'sliding', sizeMs: 1000, slideMs: 250 }));
      const event = fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 10_000 }), fc.boolean());
      fc.assert(fc.property(spec, fc.array(event, { maxLength: 50 }), fc.integer({ min: 0, max: 1500 }), fc.boolean(), (window, events, delay, merge) => {
        const options: Partial<WindowAggregatorOptions> = { window, watermarkDelayMs: delay, ...(merge ? { late: 'merge', allowedLatenessMs: 2000 } : {}) };
        let agg = make(options);
        const emitted = new Map<string, number[]>();
        for (const [k, ts, restart] of events) {
          if (restart) { const next = make(options); next.restore(JSON.parse(JSON.stringify(agg.snapshot()))); agg = next; }
          for (const w of agg.add(k, ts, [1], 0).emitted) if (w.revision === 0) emitted.set(k, [...(emitted.get(k) ?? []), w.windowStart]);
          for (const key of agg.snapshot().keys) {
            for (const w of key.open) expect(w.end, `${key.key} [${w.start}, ${w.end}) open at watermark ${key.watermark}`).to.be.greaterThan(key.watermark ?? -Infinity);
          }
        }
        for (const starts of emitted.values()) expect(starts, 'each window once, oldest first').to.deep.equal([...new Set(starts)].sort((x, y) => x - y));
      }), { numRuns: 500 });
    });

    it('window - idleKeys and advanceIdleKey, a key at a time, close what advanceIdle closes at once (property)', () => {
      const step = fc.oneof(
        fc.record({ kind: fc.constant('event' as const), key: fc.constantFrom('a', 'b', 'c', 'd'), ts: fc.integer({ min: 0, max: 30_000 }), wall: fc.integer({ min: 0, max: 4000 }) }),
        fc.record({ kind: fc.constant('tick' as const), wall: fc.integer({ min: 0, max: 8000 }) }),
      );
      fc.assert(fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const options: Partial<WindowAggregatorOptions> = { idleTimeoutMs: 3000, keyRetentionMs: 6000, late: 'merge', allowedLatenessMs: 1000 };
        const whole = make(options);
        const byKey = make(options);
        let wall = 0;
        for (const s of steps) {
          wall += s.wall;
          if (s.kind === 'event') {
            expect(byKey.add(s.key, s.ts, [1], wall)).to.deep.equal(whole.add(s.key, s.ts, [1], wall));
            continue;
          }
          const one: unknown[] = [];
          for (const key of byKey.idleKeys(wall)) one.push(...byKey.advanceIdleKey(key, wall));
          expect(one).to.deep.equal(whole.advanceIdle(wall));
          expect(byKey.snapshot()).to.deep.equal(whole.snapshot());
        }
      }), { numRuns: 300 });
    });

    it('window - a snapshot restores open windows, watermarks and retained windows exactly (through JSON)', () => {
      const options: Partial<WindowAggregatorOptions> = { late: 'merge', allowedLatenessMs: 5000 };
      const a = make(options);
      a.add('d1', 1000, [1], 0); a.add('d1', 6000, [2], 0); a.add('d2', 300, [3], 0);
      const b = make(options);
      b.restore(JSON.parse(JSON.stringify(a.snapshot())));
      expect(b.snapshot()).to.deep.equal(a.snapshot());
      expect(b.add('d1', 2000, [4], 0).emitted[0]).to.deep.include({ revision: 1, count: 2 });
      expect(b.add('d2', 9000, [5], 0).emitted[0]).to.deep.include({ key: 'd2', count: 1 });
      expect(() => b.restore({ v: 2 })).to.throw(SnapshotInvalidError).with.property('code', 'SB_ERR_SNAPSHOT_INVALID');
    });

    it('window - prefix, snapshot through JSON, restore into a fresh aggregator, suffix: the windows of one uninterrupted aggregator (property)', () => {
      const spec = fc.oneof(fc.constant<WindowSpec>({ kind: 'tumbling', sizeMs: 1000 }), fc.constant<WindowSpec>({ kind: 'sliding', sizeMs: 1000, slideMs: 250 }));
      const options = fc.record({ window: spec, delay: fc.integer({ min: 0, max: 1500 }), merge: fc.boolean(), lateness: fc.integer({ min: 0, max: 3000 }), percentiles: fc.boolean() });
      const value = fc.option(fc.double({ min: -50, max: 50, noNaN: true }).map((v) => v + 0), { nil: undefined }); // + 0: no -0, which JSON cannot keep
      const step = fc.oneof(
        { weight: 5, arbitrary: fc.record({ kind: fc.constant('event' as const), key: fc.constantFrom('a', 'b', 'c'), dt: fc.integer({ min: -2000, max: 1500 }), t: value, h: value, wall: fc.integer({ min: 0, max: 1500 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant('tick' as const), wall: fc.integer({ min: 0, max: 4000 }) }) },
      );
      fc.assert(fc.property(options, fc.array(step, { maxLength: 80 }), fc.nat(), (o, steps, cut) => {
        const make2 = () => new WindowAggregator({
          window: o.window, fields: ['t', 'h'], stats: o.percentiles ? undefined : ['count', 'sum', 'min', 'max', 'avg'], watermarkDelayMs: o.delay,
          idleTimeoutMs: 2000, keyRetentionMs: 5000, ...(o.merge ? { late: 'merge', allowedLatenessMs: o.lateness } : {}),
        });
        const split = cut % (steps.length + 1);
        let ts = 10_000; let wall = 0;
        const timed = steps.map((s, i) => ({ ...s, wall: wall += s.wall, ...(s.kind === 'event' ? { ts: ts += s.dt, id: `e${i}` } : {}) }));
        const feed = (agg: WindowAggregator, from: number, to: number, into: Array<string | WindowResult>) => {
          for (const s of timed.slice(from, to)) {
            if (s.kind === 'tick') { into.push(...agg.advanceIdle(s.wall)); continue; }
            const r = agg.add(s.key, s.ts!, [s.t, s.h], s.wall, s.id);
            into.push(r.status, ...r.emitted);
          }
        };
        const whole = make2();
        const expected: Array<string | WindowResult> = [];
        feed(whole, 0, timed.length, expected);
        const first = make2();
        const got: Array<string | WindowResult> = [];
        feed(first, 0, split, got);
        const second = make2();
        second.restore(JSON.parse(JSON.stringify(first.snapshot())));
        feed(second, split, timed.length, got);
        expect(got).to.deep.equal(expected);
        expect(second.snapshot()).to.deep.equal(whole.snapshot());
      }), { numRuns: 500 });
    });

    it('window - a snapshot it cannot read fails with SnapshotInvalidError naming the field, and the state stays', () => {
      const a = make({ late: 'merge', allowedLatenessMs: 5000 });
      a.add('d1', 1000, [1], 0); a.add('d1', 6000, [2], 0);
      const good = JSON.parse(JSON.stringify(a.snapshot()));
      const open = good.keys[0].open[0];
      const cases: Array<[unknown, string]> = [
        [undefined, '(root)'],
        [{ ...good, v: 2 }, 'v'],
        [{ v: 1, keys: {} }, 'keys'],
        [{ v: 1, keys: [{ ...good.keys[0], open: [{ ...open, fields: [...open.fields, open.fields[0]] }] }] }, 'keys[0].open[0].fields'],
        [{ v: 1, keys: [{ ...good.keys[0], closed: [{ ...open, count: 'two' }] }] }, 'keys[0].closed[0].count'],
        [{ v: 1, keys: [{ ...good.keys[0], watermark: 'late' }] }, 'keys[0].watermark'],
        [{ v: 1, keys: [good.keys[0], good.keys[0]] }, 'keys[1].key'],
      ];
      for (const [snapshot, field] of cases) expect(() => a.restore(snapshot), field).to.throw(SnapshotInvalidError).with.nested.property('details.field', field);
      expect(a.snapshot(), 'a failed restore changes nothing').to.deep.equal(good);
    });

    it('window - a snapshot is a copy: later events do not change it', () => {
      const a = make();
      a.add('d1', 1000, [1], 0);
      const snap = a.snapshot();
      const text = JSON.stringify(snap);
      a.add('d1', 2000, [5], 0);
      expect(JSON.stringify(snap)).to.equal(text);
    });

    it('percentile - nearest rank on sorted values', () => {
      expect(percentile([5], 50)).to.equal(5);
      expect(percentile([1, 2, 3, 4], 50)).to.equal(2);
      expect(percentile([1, 2, 3, 4], 95)).to.equal(4);
      const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
      expect([percentile(hundred, 50), percentile(hundred, 95)]).to.deep.equal([50, 95]);
    });
  });

  describe('service', () => {
    let broker: MemoryBroker;
    let bus: Bus;
    let out: Envelope[];
    let dlq: Envelope[];
    beforeEach(async () => {
      broker = new MemoryBroker();
      bus = new Bus({ service: 'aggregate@t1', transport: new MemoryTransport({ broker }), metrics: false, logger: silentLogger });
      out = []; dlq = [];
      await bus.subscribe('sensor.aggregate.>', (m) => { out.push(m); });
      await bus.subscribe('dlq.>', (m) => { dlq.push(m); });
    });
    afterEach(() => bus.stop());
    const send = (deviceId: string, ts: number, temperature: number) =>
      bus.publish(`sensor.reading.${deviceId}`, { deviceId, ts, temperature }, { type: 'sensor.reading', partitionKey: deviceId });

    it('aggregate - emits sensor.aggregate caused by the event that closed the window, dead-letters late events', async () => {
      const running = await runNanoservice(bus, createAggregateService({
        name: `agg-${Math.random().toString(36).slice(2)}`, input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, checkpoint: false, tickIntervalMs: 0,
      }));
      await send('d1', 1000, 20);
      await send('d1', 2000, 24);
      const closer = await send('d1', 5500, 30);
      await send('d1', 1500, 99);
      await waitFor(() => out.length === 1 && dlq.length === 1, { what: 'out.length === 1 && dlq.length === 1' });
      await running.stop();
      expect(out[0]).to.include({ type: 'sensor.aggregate', partitionkey: 'd1', causationid: closer.id, dataschema: 'urn:signalbus:contract:sensor.aggregate:1.0.0' });
      expect(out[0]!.revision).to.equal(undefined);
      expect(out[0]!.data).to.deep.equal({
        key: 'd1', metric: 'temperature', window: { kind: 'tumbling', start: 0, end: 5000, sizeMs: 5000 },
        count: 2, sum: 44, min: 20, max: 24, avg: 22, p50: 20, p95: 24,
      });
      expect(dlq[0]).to.include({ dlqreason: 'SB_ERR_AGGREGATE_LATE', dlqattempts: '1' });
      const totals = bus.metrics.totals();
      expect(totals.get('aggregate@t1:sensor.reading?deviceId=d1 received accepted')?.count).to.equal(3);
      expect(totals.get('aggregate@t1:sensor.aggregate?deviceId=d1 windowclosed emitted')?.count).to.equal(1);
      expect(totals.get('aggregate@t1:sensor.reading?deviceId=d1 late deadlettered')?.count).to.equal(1);
    });

    it('aggregate - the standard sensor.aggregate 1.0.0 always carries the stats its contract requires', async () => {
      const running = await runNanoservice(bus, createAggregateService({
        input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, stats: ['count', 'max', 'p95'], checkpoint: false, tickIntervalMs: 0,
      }));
      await send('d1', 1000, 20);
      await send('d1', 2000, 24);
      await send('d1', 5500, 30);
      await waitFor(() => out.length === 1, { what: 'out.length === 1' });
      await running.stop();
      expect(out[0]!.data).to.deep.equal({
        key: 'd1', metric: 'temperature', window: { kind: 'tumbling', start: 0, end: 5000, sizeMs: 5000 },
        count: 2, sum: 44, min: 20, max: 24, avg: 22, p95: 24,
      });
      expect(dlq).to.have.length(0);
    });

    it('aggregate - a late event within the allowed lateness is merged and re-emitted when configured', async () => {
      await runNanoservice(bus, createAggregateService({
        input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, late: 'merge', allowedLatenessMs: 10_000, checkpoint: false, tickIntervalMs: 0,
      }));
      await send('d1', 1000, 20);
      await send('d1', 5500, 30);
      await send('d1', 1500, 40);
      await waitFor(() => out.length === 2 && bus.metrics.totals().has('aggregate@t1:sensor.aggregate?deviceId=d1 windowrevised emitted'), { what: 'out.length === 2 && bus.metrics.totals().has(\'aggregate@t1:sensor.aggregate?deviceId=d1 windowrevised emitted\')' });
      expect(out.map((m) => (m.data as { count: number }).count)).to.deep.equal([1, 2]);
      expect(out[1]!.revision, 'a re-emission says which revision it is').to.equal('1');
      expect((out[1]!.data as { late: number }).late).to.equal(1);
      expect(bus.metrics.totals().get('aggregate@t1:sensor.reading?deviceId=d1 late merged')?.count).to.equal(1);
      expect(bus.metrics.totals().get('aggregate@t1:sensor.aggregate?deviceId=d1 windowrevised emitted')?.count).to.equal(1);
    });

    it('aggregate - the timer closes an idle key\'s windows by the injected clock', async () => {
      let clock = 1_000_000;
      const svc = createAggregateService({ input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, idleTimeoutMs: 5000, tickIntervalMs: 0, checkpoint: false, now: () => clock });
      const running = await runNanoservice(bus, svc);
      const last = await send('d9', 700_000, 20);
      await waitFor(() => svc.aggregator.openWindows === 1, { what: 'svc.aggregator.openWindows === 1' });
      await svc.tick();
      expect(out).to.have.length(0);
      clock += 5000;
      await svc.tick();
      await waitFor(() => out.length === 1, { what: 'out.length === 1' });
      expect(out[0]).to.include({ partitionkey: 'd9', causationid: last.id, correlationid: last.id });
      expect(out[0]!.data).to.deep.include({ key: 'd9', count: 1 });
      expect((out[0]!.data as { window: { start: number } }).window.start).to.equal(700_000);
      await running.stop();
    });

    it('aggregate - many keys idle at once are closed a slice at a time, each key\'s windows in order, none lost', async () => {
      let clock = 1_000_000;
      const svc = createAggregateService({ input: 'sensor.reading.>', fields: ['temperature'], window: { kind: 'sliding', sizeMs: 5000, slideMs: 2500 }, idleTimeoutMs: 5000, tickIntervalMs: 0, checkpoint: false, now: () => clock });
      await runNanoservice(bus, svc);
      const keys = Array.from({ length: 40 }, (_, i) => `idle-${i}`);
      for (const k of keys) await send(k, 700_000, 20);
      await waitFor(() => svc.aggregator.openWindows === keys.length * 2, { what: 'svc.aggregator.openWindows === keys.length * 2' });
      clock += 5000;
      let outAtFirstTurn: number | undefined;
      setImmediate(() => { outAtFirstTurn = out.length; });
      await svc.tick();
      await waitFor(() => out.length === keys.length * 2, { what: 'out.length === keys.length * 2' });
      expect(outAtFirstTurn, 'the event loop had a turn while the windows went out').to.be.within(1, keys.length * 2 - 1);
      for (const k of keys) {
        const starts = out.filter((m) => m.partitionkey === k).map((m) => (m.data as { window: { start: number } }).window.start);
        expect(starts, k).to.deep.equal([697_500, 700_000]);
      }
      expect(svc.aggregator.openWindows).to.equal(0);
    });

    it('aggregate - one event that closes many windows emits every one of them, oldest first', async () => {
      await runNanoservice(bus, createAggregateService({
        input: 'sensor.reading.>', fields: ['temperature'], window: { kind: 'sliding', sizeMs: 100, slideMs: 1 }, stats: ['count'], checkpoint: false, tickIntervalMs: 0,
      }));
      await send('d1', 1000, 20);
      const closer = await send('d1', 5000, 21);
      await waitFor(() => out.length === 100, { what: 'out.length === 100' });
      const starts = out.map((m) => (m.data as { window: { start: number } }).window.start);
      expect(starts).to.deep.equal(Array.from({ length: 100 }, (_, i) => 901 + i));
      expect(out.every((m) => m.causationid === closer.id)).to.equal(true);
    });

    it('aggregate - window state survives a restart through the checkpoint store', async () => {
      const store = new MemoryCheckpointStore();
      const config = { name: 'agg-restart', input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, checkpointStore: store, tickIntervalMs: 0 };
      const first = createAggregateService(config);
      const running = await runNanoservice(bus, first);
      await send('d1', 1000, 10);
      await send('d1', 2000, 20);
      await running.stop();
      expect(await store.load('agg-restart')).to.have.property('keys').with.length(1);

      const second = createAggregateService(config);
      await runNanoservice(bus, second);
      expect(second.aggregator.openWindows).to.equal(1);
      await send('d1', 6000, 30);
      await waitFor(() => out.length === 1, { what: 'out.length === 1' });
      expect(out[0]!.data).to.deep.include({ count: 2, avg: 15 });
    });

    it('aggregate - a window gets the same id on any instance and by either closing path; each metric and revision its own', async () => {
      const clock = { t: 1_000_000 };
      const config: AggregateConfig = {
        input: 'sensor.reading.>', fields: ['temperature', 'humidity'], window: tumbling5s, late: 'merge', allowedLatenessMs: 10_000,
        idleTimeoutMs: 5000, checkpoint: false, tickIntervalMs: 0, now: () => clock.t,
      };
      const reading = (b: Bus, ts: number, temperature: number) =>
        b.publish('sensor.reading.d1', { deviceId: 'd1', ts, temperature, humidity: 50 }, { type: 'sensor.reading', partitionKey: 'd1' });
      const byWindow = (list: Envelope[]) => new Map(list.map((m) => {
        const d = m.data as { metric: string; window: { start: number } };
        return [`${d.metric}@${d.window.start}#${m.revision ?? '0'}`, m] as const;
      }));

      // This instance closes [0, 5000) with the next event, then merges a late one (revision 1).
      await runNanoservice(bus, createAggregateService(config));
      await reading(bus, 1000, 20);
      await reading(bus, 5500, 30);
      await reading(bus, 1500, 40);
      await waitFor(() => out.length === 4, { what: 'two metrics, two revisions' });

      // A second instance, fresh, on its own broker: the clock closes [0, 5000), then the same late event.
      const other = new Bus({ service: 'aggregate@t2', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
      try {
        const otherOut: Envelope[] = [];
        await other.subscribe('sensor.aggregate.>', (m) => { otherOut.push(m); });
        const svc = createAggregateService(config);
        await runNanoservice(other, svc);
        await reading(other, 1000, 20);
        await waitFor(() => svc.aggregator.openWindows === 1, { what: 'the first reading taken' });
        clock.t += 5000;
        await svc.tick();
        await waitFor(() => otherOut.length === 2, { what: 'the window closed by the clock' });
        await reading(other, 1500, 40);
        await waitFor(() => otherOut.length === 4, { what: 'the late revision' });

        const mine = byWindow(out);
        const theirs = byWindow(otherOut);
        expect([...mine.keys()].sort()).to.deep.equal(['humidity@0#0', 'humidity@0#1', 'temperature@0#0', 'temperature@0#1']);
        for (const [k, m] of mine) {
          expect(theirs.get(k)?.id, k).to.equal(m.id);
          expect(theirs.get(k)?.data, k).to.deep.equal(m.data);
        }
        expect(new Set(out.map((m) => m.id)).size, 'every metric and revision has its own id').to.equal(4);
      } finally {
        await other.stop();
      }
    });

    it('aggregate - state restores the windows on another instance; a restore before start wins over the checkpoint store', async () => {
      const store = new MemoryCheckpointStore();
      const config: AggregateConfig = { name: 'agg-state', input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, checkpointStore: store, tickIntervalMs: 0 };
      await store.save('agg-state', { v: 1, keys: [] }); // an older checkpoint, with nothing open
      const first = createAggregateService({ ...config, checkpoint: false });
      first.aggregator.add('d1', 1000, [10], Date.now(), 'x');
      first.aggregator.add('d1', 2000, [20], Date.now(), 'y');
      const second = createAggregateService(config);
      second.state.restore(JSON.parse(JSON.stringify(first.state.snapshot())));
      await runNanoservice(bus, second);
      expect(second.aggregator.openWindows).to.equal(1);
      await send('d1', 6000, 30);
      await waitFor(() => out.length === 1, { what: 'out.length === 1' });
      expect(out[0]!.data).to.deep.include({ count: 2, avg: 15 });
    });

    it('aggregate - a checkpoint from another configuration is left out with a warning, and the service starts', async () => {
      const store = new MemoryCheckpointStore();
      const two = createAggregateService({ name: 'agg-cfg', input: 'x.>', fields: ['temperature', 'humidity'], window: tumbling5s, checkpoint: false, tickIntervalMs: 0 });
      two.aggregator.add('d1', 1000, [10, 40], Date.now(), 'x');
      await store.save('agg-cfg', two.state.snapshot());
      const warnings: string[] = [];
      const logged = { ...bus.logger, warn: (msg: string) => { warnings.push(msg); } };
      const one = createAggregateService({ name: 'agg-cfg', input: 'sensor.reading.>', fields: ['temperature'], window: tumbling5s, checkpointStore: store, tickIntervalMs: 0 });
      await one.start({ ...bus, logger: logged } as unknown as Bus);
      expect(one.aggregator.openWindows).to.equal(0);
      expect(warnings.join()).to.match(/does not fit this configuration/);
      await one.stop();
    });

    it('aggregate - events without a key or event time are dead-lettered as invalid', async () => {
      await runNanoservice(bus, createAggregateService({ input: 'sensor.reading.>', keyField: 'deviceId', fields: ['temperature'], window: tumbling5s, checkpoint: false, tickIntervalMs: 0 }));
      await bus.publish('sensor.reading.x', { ts: 1, temperature: 1 });
      await bus.publish('sensor.reading.x', { deviceId: 'x', ts: 'yesterday', temperature: 1 });
      await waitFor(() => dlq.length === 2, { what: 'dlq.length === 2' });
      expect(dlq.map((m) => m.dlqreason)).to.deep.equal(['SB_ERR_CONTRACT_INVALID', 'SB_ERR_CONTRACT_INVALID']);
    });

    it('aggregate - config errors name the field', () => {
      const base = { input: 'in', fields: ['t'], window: tumbling5s };
      const cases: Array<[object, string]> = [
        [{ window: { kind: 'hopping', sizeMs: 5 } }, 'window.kind'],
        [{ window: { kind: 'sliding', sizeMs: 5, slideMs: 10 } }, 'window.slideMs'],
        [{ window: { kind: 'tumbling', sizeMs: 0 } }, 'window.sizeMs'],
        [{ fields: [] }, 'fields'],
        [{ stats: ['median'] }, 'stats'],
        [{ late: 'drop' }, 'late'],
        [{ watermarkDelayMs: -1 }, 'watermarkDelayMs'],
        [{ timeField: '' }, 'timeField'],
      ];
      for (const [over, field] of cases) expect(() => createAggregateService({ ...base, ...over } as never), field).to.throw(OptionsInvalidError).with.nested.property('details.field', field);
    });
  });
});
