import { expect } from 'chai';
import { Bus, type Envelope } from '../../core/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { send } from '../helpers/http-send.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

describe('http gateway in front of a Bus with tenantSubjects', function () {
  this.timeout(10_000);
  let bus: Bus;
  let gateway: HttpGateway;
  let url: string;
  const got: Envelope[] = [];

  before(async () => {
    bus = new Bus({ service: 'gw@test', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger, tenantSubjects: {} });
    await bus.subscribe('*.orders', (m) => { got.push(m); });
    // An untenanted key is unscoped at the gateway, so only the Bus' check keeps its events out of a tenant's space.
    gateway = new HttpGateway({ bus, auth: { apiKeys: { 'key-acme-0001': 'acme', 'key-operator-01': { principal: 'operator' } } } });
    ({ url } = await gateway.start());
  });
  after(async () => { await gateway?.close(); await bus?.stop(); });

  const post = (key: string, subject: string, tenantHeader?: string) => send(url, 'POST', `/v1/events/${subject}`, {
    'x-api-key': key, 'content-type': 'application/json', 'ce-specversion': '1.0', 'ce-id': `${key}-${subject}`, 'ce-source': 's', 'ce-type': 't',
    ...(tenantHeader ? { 'ce-tenant': tenantHeader } : {}),
  }, '{"n":1}');

  it('gateway tenants - a tenant\'s post lands in its space; one the space does not match is a 403 with SB_ERR_TENANT_MISMATCH', async () => {
    expect((await post('key-acme-0001', 'acme.orders')).status).to.equal(202);
    await waitFor(() => got.length === 1, { what: 'acme\'s order' });
    expect(got[0]!.tenant).to.equal('acme');
    const refused = await post('key-operator-01', 'acme.orders', 'acme');
    expect(refused.status, refused.text).to.equal(403);
    expect(refused.json).to.include({ code: 'SB_ERR_TENANT_MISMATCH', status: 403 });
    expect(got).to.have.length(1);
  });
});
