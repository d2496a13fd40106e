import { expect } from 'chai';
import { createLogger, type InboundMessage } from '../../core/index.js';
import { MqttTransport } from '../../transports/mqtt/index.js';

/** What the transport calls on its connection in these tests; no broker is involved. */
const fakeConnection = { subscribe: async () => {}, unsubscribe: async () => {}, end: async () => {} };
type Internals = { main: unknown; onPublish(conn: unknown, packet: { topic: string; payload: Buffer; qos: 0; messageId: number }): unknown };

describe('mqtt transport - dropped payloads that are not CloudEvents', () => {
  const realNow = Date.now;
  let now = 0;
  let warnings: Array<Record<string, unknown>>;
  let handled: InboundMessage[];
  let transport: MqttTransport;
  let internals: Internals;

  const devicePayload = (topic: string) => internals.onPublish(fakeConnection, { topic, payload: Buffer.from('{"temperature":21.5}'), qos: 0, messageId: 0 });

  beforeEach(async () => {
    now = 1_700_000_000_000;
    Date.now = () => now;
    warnings = [];
    handled = [];
    const logger = createLogger({ level: 'warn', write: (line) => { warnings.push(JSON.parse(line) as Record<string, unknown>); } });
    transport = new MqttTransport({ url: 'mqtt://127.0.0.1:1', logger });
    internals = transport as unknown as Internals;
    internals.main = fakeConnection;
    await transport.subscribe('dropwarn.devices.*.telemetry', (m) => { handled.push(m); }, { maxInFlight: 64 });
  });

  afterEach(async () => {
    Date.now = realNow;
    await transport.close();
  });

  it('mqtt - 1000 device payloads on a subscription without raw log one warning, and none reaches the handler', () => {
    for (let i = 0; i < 1000; i++) devicePayload('dropwarn/devices/d1/telemetry');
    expect(handled).to.have.length(0);
    expect(warnings).to.have.length(1);
    expect(warnings[0]).to.include({ level: 'warn', subject: 'dropwarn.devices.d1.telemetry', pattern: 'dropwarn.devices.*.telemetry', dropped: 1 });
  });

  it('mqtt - after the interval the next dropped payload logs how many were dropped since the last warning', () => {
    for (let i = 0; i < 1000; i++) devicePayload('dropwarn/devices/d1/telemetry');
    now += 9_999;
    devicePayload('dropwarn/devices/d2/telemetry');
    expect(warnings, 'still within the interval').to.have.length(1);
    now += 1;
    devicePayload('dropwarn/devices/d3/telemetry');
    expect(warnings).to.have.length(2);
    expect(warnings[1]).to.include({ subject: 'dropwarn.devices.d3.telemetry', pattern: 'dropwarn.devices.*.telemetry', dropped: 1001 });
    devicePayload('dropwarn/devices/d3/telemetry');
    expect(warnings, 'the count starts again').to.have.length(2);
  });

  it('mqtt - each subscription pattern gets its own first warning', async () => {
    await transport.subscribe('dropwarn.other.>', (m) => { handled.push(m); }, { maxInFlight: 64 });
    devicePayload('dropwarn/devices/d1/telemetry');
    devicePayload('dropwarn/other/x');
    devicePayload('dropwarn/other/y');
    expect(warnings.map((w) => [w.pattern, w.dropped])).to.deep.equal([['dropwarn.devices.*.telemetry', 1], ['dropwarn.other.>', 1]]);
  });
});
