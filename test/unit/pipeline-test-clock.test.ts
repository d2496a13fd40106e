import { expect } from 'chai';
import { validatePipeline } from '../../cli/pipeline/load.js';
import { PipelineHarness } from '../../cli/pipeline-test/harness.js';
import { DEFAULT_START_TS, type TestCase } from '../../cli/pipeline-test/test-file.js';
import { VirtualClock } from '../../cli/pipeline-test/virtual-clock.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';
import { silentLogger } from '../helpers/silent-logger.js';

const pipeline = validatePipeline({
  name: 'clocked', transports: { mqtt: 'mqtt://127.0.0.1:1' }, routes: [{ pattern: 'devices.>', transport: 'mqtt' }],
  services: [
    { kind: 'ingest', config: { input: 'devices.*.telemetry', subjectTokens: { deviceId: 1 }, output: 'sensor.reading.{deviceId}'} },
    { kind: 'aggregate', config: { input: 'sensor.reading.>', keyField: 'deviceId', fields: ['temperature'], window: { kind: 'tumbling', sizeMs: 5000 }, idleTimeoutMs: 60_000 } },
    { kind: 'sink', name: 'store', config: { input: 'sensor.>', url: 'postgres://nobody@127.0.0.1:1/none' } },
  ],
}, nanoserviceConfigSchemas, 'clocked.json');

const reading = (at: number) => ({ subject: 'devices.d1.telemetry', data: { temperature: 20, humidity: 40 }, at });

describe('pipeline test clock', function () {
  this.timeout(10_000);
  const harness = new PipelineHarness(pipeline, { logger: silentLogger });

  it('pipeline test - the virtual clock moves only forward, and only when told', () => {
    const clock = new VirtualClock(1000);
    expect(clock.advance(500)).to.equal(1500);
    expect(clock.advanceTo(1200)).to.equal(false);
    expect(clock.advanceTo(2000)).to.equal(true);
    const now = clock.now; // handed over as a function
    expect(now()).to.equal(2000);
    expect(() => clock.advance(-1)).to.throw(RangeError);
  });

  it('pipeline test - an idle window closes only once the clock advanced past the idle timeout, with no real waiting', async () => {
    const began = Date.now();
    const before = await harness.run({ name: 'a', input: [reading(1000), { advance: 59_000 }] } as TestCase);
    expect(before.outputs.filter((o) => o.subject.startsWith('sensor.aggregate.'))).to.have.length(0);
    const after = await harness.run({ name: 'b', input: [reading(1000), { advance: 59_000 }], advance: 1000 } as TestCase);
    const aggregates = after.outputs.filter((o) => o.subject.startsWith('sensor.aggregate.'));
    expect(aggregates.map((o) => (o.envelope.data as { window: { start: number } }).window.start)).to.deep.equal([DEFAULT_START_TS]);
    expect(after.endedAt).to.equal(DEFAULT_START_TS + 61_000);
    expect(Date.now() - began).to.be.below(5000); // two minutes of virtual time
  });

  it('pipeline test - inputs are not outputs; the clock moves to each input\'s event time and closes idle windows on the way', async () => {
    const other = { subject: 'devices.d2.telemetry', data: { temperature: 1, humidity: 1 }, ts: 2_000_000_070_000 };
    const run = await harness.run({ name: 'c', startTs: 2_000_000_000_000, input: [reading(0), other] } as TestCase);
    expect(run.outputs.filter((o) => o.subject.startsWith('devices.'))).to.deep.equal([]);
    // d2's reading does not move d1's watermark: only the clock, moved to 70 s by d2's event time, closes d1's window.
    const closed = run.outputs.filter((o) => o.subject.startsWith('sensor.aggregate.')).map((o) => [o.subject, (o.envelope.data as { window: { start: number } }).window.start]);
    expect(closed).to.deep.equal([['sensor.aggregate.d1', 2_000_000_000_000]]);
    expect(run.endedAt).to.equal(2_000_000_070_000);
  });

  it('pipeline test - each case starts on fresh services; the sink is left out with a note', async () => {
    await harness.run({ name: 'd', input: [reading(1000)] } as TestCase);
    const second = await harness.run({ name: 'e', input: [reading(6000)] } as TestCase);
    // With the first case's window still open, 6000 would have closed it.
    expect(second.outputs.filter((o) => o.subject.startsWith('sensor.aggregate.'))).to.have.length(0);
    expect(harness.notes.join('\n')).to.match(/store \(sink\) is not run/);
  });
});
