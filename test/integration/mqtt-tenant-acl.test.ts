import { expect } from 'chai';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Bus, TransportPermissionError, type Envelope } from '../../core/index.js';
import { MqttTransport } from '../../transports/mqtt/index.js';
import { missingPrerequisite } from '../helpers/brokers.js';
import { freePort } from '../helpers/nats-server-process.js';
import { MOSQUITTO, ownMosquitto, type OwnMosquitto } from '../helpers/own-mosquitto.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

/** Each tenant's user may read and write only its own topics and its dead letters, as SECURITY.md recommends. */
const ACL = ['acme', 'globex'].map((t) => `user ${t}\ntopic readwrite ${t}/#\ntopic readwrite dlq/${t}/#\n`).join('\n');

describe('mqtt - tenant subject spaces under Mosquitto ACLs', function () {
  this.timeout(20_000);
  let broker: OwnMosquitto;
  const buses: Bus[] = [];

  before(async function () {
    if (!existsSync(MOSQUITTO)) missingPrerequisite(this, `${MOSQUITTO} is missing (this suite starts its own Mosquitto with users and ACLs)`);
    const port = await freePort();
    broker = ownMosquitto({ port, users: { acme: 'acme-secret', globex: 'globex-secret' } });
    const aclFile = join(broker.dir, 'acl');
    writeFileSync(aclFile, ACL, { mode: 0o644 });
    writeFileSync(join(broker.dir, 'mosquitto.conf'), `acl_file ${aclFile}\n`, { flag: 'a' });
    await broker.start();
  });
  after(async () => { await broker?.dispose(); });
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  // MQTT 5 and QoS 1: the broker answers a refused publish with reason code 0x87 (at QoS 0, or in 3.1.1, it drops it silently).
  const busOf = (tenant: string) => {
    const transport = new MqttTransport({ url: `mqtt://127.0.0.1:${broker.port}`, protocolVersion: 5, qos: 1, username: tenant, password: `${tenant}-secret`, logger: silentLogger });
    const bus = new Bus({ service: `${tenant}-${buses.length}@test`, transport, metrics: false, logger: silentLogger, tenantSubjects: {} });
    buses.push(bus);
    return bus;
  };

  it('mqtt tenants - a publish into the other\'s space is refused with TransportPermissionError; its own space works', async () => {
    const acme = busOf('acme');
    const globex = busOf('globex');
    const got: Envelope[] = [];
    await globex.subscribe('globex.orders', (m) => { got.push(m); });
    const refused = await acme.publish('globex.orders', 'forged', { headers: { tenant: 'globex' } }).then(() => undefined, (e: unknown) => e);
    expect(refused).to.be.instanceOf(TransportPermissionError);
    expect((refused as TransportPermissionError).details).to.include({ operation: 'publish', subject: 'globex/orders' });
    await globex.publish('globex.orders', 'own', { headers: { tenant: 'globex' } });
    await waitFor(() => got.length >= 1, { what: 'globex receives its own order' });
    expect(got.map((m) => m.data)).to.deep.equal(['own']);
    expect(got[0]!.tenant).to.equal('globex');
  });

  it('mqtt tenants - a subscription reaching into the other\'s space is accepted by Mosquitto 2.0 but delivers nothing from it', async () => {
    const acme = busOf('acme');
    const globex = busOf('globex');
    const seen: string[] = [];
    // Mosquitto's ACL file checks reads per message, not at SUBSCRIBE: the SUBACK grants `#`.
    await acme.subscribe('>', (m, ctx) => { seen.push(`${ctx.subject} ${String(m.data)}`); });
    await globex.publish('globex.orders', 'secret', { headers: { tenant: 'globex' } });
    // Globex's publish was acknowledged, so had Mosquitto routed it to acme it would arrive ahead of acme's own marker.
    await acme.publish('acme.marker', 'marker', { headers: { tenant: 'acme' } });
    await waitFor(() => seen.length >= 1, { what: 'acme\'s marker' });
    expect(seen).to.deep.equal(['acme.marker marker']);
  });
});
