import { expect } from 'chai';
import fc from 'fast-check';
import { compilePattern } from '../../core/index.js';
import { natsConnectionOptionsOf, withPartitionSubjects } from '../../cli/pipeline/scaled-runtime.js';
import { followerConflicts, outputPattern, patternsOverlap, planScale } from '../../cli/pipeline/scale-plan.js';

const token = fc.constantFrom('a', 'b', 'c');
const patternToken = fc.constantFrom('a', 'b', 'c', '*');
const pattern = fc.tuple(fc.array(patternToken, { minLength: 1, maxLength: 4 }), fc.boolean())
  .map(([tokens, tail]) => (tail ? [...tokens, '>'] : tokens).join('.'));

describe('scale plan: which inputs travel partitioned', () => {
  it('patternsOverlap agrees with matching every small subject (property)', () => {
    const subjects: string[] = [];
    const grow = (prefix: string[], depth: number) => {
      if (prefix.length > 0) subjects.push(prefix.join('.'));
      if (depth === 0) return;
      for (const t of ['a', 'b', 'c']) grow([...prefix, t], depth - 1);
    };
    grow([], 6);
    fc.assert(fc.property(pattern, pattern, (a, b) => {
      const ma = compilePattern(a);
      const mb = compilePattern(b);
      const both = subjects.some((s) => ma(s) && mb(s));
      expect(patternsOverlap(a, b)).to.equal(both);
      expect(patternsOverlap(b, a)).to.equal(both);
    }), { numRuns: 300 });
    void token;
  });

  it('the IoT pipeline: device input is not partitioned, the stages fed inside are', () => {
    const plan = planScale([
      { kind: 'ingest', config: { input: 'devices.*.telemetry', output: 'sensor.reading.{deviceId}' } },
      { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: {} } },
      { kind: 'aggregate', config: { input: 'sensor.valid.>', output: 'aggregates.{deviceId}' } },
      { kind: 'alert', config: { input: 'sensor.valid.>', output: 'alerts.{deviceId}' } },
    ]);
    expect(plan.services.map((s) => [s.name, s.partitioned])).to.deep.equal([['ingest', false], ['filter', true], ['aggregate', true], ['alert', true]]);
    expect(plan.partitionedSubjects).to.deep.equal(['sensor.reading.>', 'sensor.valid.>']);
    const mapped = planScale([{ kind: 'ingest', config: { input: 'devices.*.telemetry', output: 'sensor.reading.{deviceId}' } }], ['devices.*.telemetry']);
    expect(mapped.services[0]!.partitioned, 'an input the server partitions').to.equal(true);
    expect(mapped.partitionedSubjects).to.deep.equal(['devices.*.telemetry']);
    expect(outputPattern({ kind: 'alert', config: { input: 'x' } })).to.equal('alerts.*');
    expect(outputPattern({ kind: 'filter', config: { input: 'x', output: 'a.dev-{id}.b' } })).to.equal('a.*.b');
    expect(outputPattern({ kind: 'filter', config: { input: 'x', output: 'sensor.valid.{data.deviceId}' } }), 'a placeholder path is one token').to.equal('sensor.valid.*');
  });

  it('scale plan - a sink never partitions a subject: partitioned beside its siblings, plain elsewhere', () => {
    const stages = [
      { kind: 'ingest', config: { input: 'devices.*.telemetry', output: 'sensor.reading.{deviceId}' } },
      { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: {} } },
      { kind: 'aggregate', config: { input: 'sensor.valid.>', output: 'aggregates.{deviceId}' } },
      { kind: 'alert', config: { input: 'sensor.valid.>', output: 'alerts.{deviceId}' } },
    ];
    const sink = (name: string, input: string) => ({ kind: 'sink', name, config: { input, url: 'postgres://x/y' } });
    const plan = planScale([...stages, sink('store-readings', 'sensor.reading.>'), sink('store-aggregates', 'aggregates.>'), sink('store-alerts', 'alerts.>'), sink('store-devices', 'devices.*.telemetry')]);
    expect(plan.services.slice(4).map((s) => [s.name, s.partitioned])).to.deep.equal([
      ['store-readings', true], ['store-aggregates', false], ['store-alerts', false], ['store-devices', false],
    ]);
    expect(plan.partitionedSubjects, 'the outputs outside consumers read stay plain').to.deep.equal(['sensor.reading.>', 'sensor.valid.>']);
    // Without the sinks the same subjects travel partitioned: the sinks change nothing.
    expect(planScale(stages).partitionedSubjects).to.deep.equal(plan.partitionedSubjects);
    // A sink's own input is never partitioned by a sink: nothing outputs into sinks, and a sink outputs nothing.
    const alone = planScale([sink('a', 'x.>'), sink('b', 'x.>')]);
    expect(alone.services.map((s) => s.partitioned)).to.deep.equal([false, false]);
    // An input the server partitions (a NATS mapping) is partitioned for a sink too.
    const mapped = planScale([stages[0]!, sink('store-raw', 'devices.*.telemetry')], ['devices.*.telemetry']);
    expect(mapped.services.map((s) => s.partitioned)).to.deep.equal([true, true]);
  });

  it('scale plan - a sink overlapping a partitioned subject without equalling it is refused, naming it', () => {
    const services = [
      { kind: 'ingest', config: { input: 'devices.*.telemetry', output: 'sensor.reading.{deviceId}' } },
      { kind: 'filter', config: { input: 'sensor.reading.>', output: 'sensor.valid.{data.deviceId}', where: {} } },
      { kind: 'alert', config: { input: 'sensor.valid.>', output: 'alerts.{deviceId}' } },
      { kind: 'sink', name: 'store-all', config: { input: 'sensor.>', url: 'postgres://x/y' } },
      { kind: 'sink', name: 'store-d7', config: { input: 'sensor.reading.d7', url: 'postgres://x/y' } },
    ];
    expect(followerConflicts(services)).to.deep.equal([
      { index: 3, name: 'store-all', input: 'sensor.>', overlaps: ['sensor.reading.>', 'sensor.valid.>'] },
      { index: 4, name: 'store-d7', input: 'sensor.reading.d7', overlaps: ['sensor.reading.>'] },
    ]);
    try {
      planScale(services);
      expect.fail('a sink that would miss partitioned events was planned');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect(String((err as Error).message)).to.contain('sink store-all reads sensor.>').and.to.contain('sensor.reading.>, sensor.valid.>');
      expect((err as { details?: unknown }).details).to.deep.include({ service: 'store-all', input: 'sensor.>' });
    }
    expect(followerConflicts(services.slice(0, 3)), 'no sink, no conflict').to.deep.equal([]);
  });

  it('adds part.> to a JetStream stream\'s subjects and reads server lists', () => {
    const url = withPartitionSubjects('nats://h:1,h:2?jetstream=1&stream=S&subjects=devices.>,alerts.>', ['sensor.valid.>', 'sensor.reading.>']);
    expect(url.startsWith('nats://h:1,h:2?')).to.equal(true);
    expect(new URLSearchParams(url.split('?')[1]).get('subjects')).to.equal('devices.>,alerts.>,part.*.sensor.valid.>,part.*.sensor.reading.>');
    expect(withPartitionSubjects('nats://h:1?subjects=a.>', ['a.>'])).to.equal('nats://h:1?subjects=a.>');
    expect(withPartitionSubjects('mqtt://h:1?jetstream=1&subjects=a', ['a'])).to.equal('mqtt://h:1?jetstream=1&subjects=a');
  });

  it('connects the coordination as the transport does: every server of the list, credentials as options', async () => {
    const o = await natsConnectionOptionsOf('nats://u:p%40ss@127.0.0.1:14222,127.0.0.1:14223?jetstream=1&stream=S&subjects=a.>&replicas=3&servers=h3:4222');
    expect(o.servers).to.deep.equal(['nats://127.0.0.1:14222', 'nats://127.0.0.1:14223', 'nats://h3:4222']);
    expect([o.user, o.pass]).to.deep.equal(['u', 'p@ss']);
    expect(JSON.stringify(o.servers)).not.to.contain('p@ss');
    const token = await natsConnectionOptionsOf('nats://127.0.0.1:4222?token=s3cret');
    expect(token.token).to.equal('s3cret');
    try {
      await natsConnectionOptionsOf('amqp://u:p@h:5672');
      expect.fail('an amqp URL was taken for NATS');
    } catch (err) {
      expect((err as { code?: string }).code).to.equal('SB_ERR_OPTIONS_INVALID');
      expect(String(err)).not.to.contain('u:p');
    }
  });
});
