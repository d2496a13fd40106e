import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import type { InboundMessage, Transport } from '../../core/index.js';
import { transportFromUrl } from '../../transports/index.js';
import { startEmbeddedBroker, type EmbeddedBroker } from '../../transports/mqtt/index.js';
import { requireBroker } from '../helpers/brokers.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two subscriptions with one pattern on one MQTT transport (the demo's web console and a
 * `curl -N …/v1/stream/alerts.%3E` both subscribe `alerts.>` through the demo's gateway): mqtt.js
 * sends a filter its connection holds only once, which made the second subscribe fail.
 */
describe('mqtt - subscriptions sharing a filter', function () {
  this.timeout(30_000);
  let transport: Transport | undefined;
  let broker: EmbeddedBroker | undefined;
  afterEach(async () => { await transport?.close(); await broker?.stop(); transport = undefined; broker = undefined; });

  async function sharedFilter(url: string): Promise<void> {
    transport = await transportFromUrl(url);
    await transport.connect();
    const prefix = `same${randomUUID().slice(0, 8)}`;
    const first: string[] = []; const second: string[] = [];
    const record = (into: string[]) => (m: InboundMessage) => { into.push(m.envelope.id); m.ack(); };
    const a = await transport.subscribe(`${prefix}.>`, record(first), { maxInFlight: 100 });
    const b = await transport.subscribe(`${prefix}.>`, record(second), { maxInFlight: 100 });
    const publish = (id: string) => transport!.publish(`${prefix}.x`, { specversion: '1.0', id, source: 'urn:test', type: 't', datacontenttype: 'application/json', data: new TextEncoder().encode('{}') });
    await publish('one');
    await waitFor(() => first.includes('one') && second.includes('one'), { timeoutMs: 5000, what: () => `both subscriptions to get it (${first} / ${second})` });
    // The broker's subscription stays while another local subscription shares it.
    await a.unsubscribe();
    await publish('two');
    await waitFor(() => second.includes('two'), { timeoutMs: 5000, what: 'the remaining subscription to get the next' });
    expect(first).to.deep.equal(['one']);
    await b.unsubscribe();
  }

  it('mqtt - a second subscription to the same pattern gets every message too, and keeps getting them when the first ends (MQTT 5, Mosquitto)', async function () {
    await requireBroker(this, 'mosquitto');
    await sharedFilter('mqtt://127.0.0.1:1883');
  });

  it('mqtt - the same with MQTT 3.1.1 on the embedded broker', async () => {
    broker = await startEmbeddedBroker({ port: 0 });
    await sharedFilter(broker.url);
  });
});
