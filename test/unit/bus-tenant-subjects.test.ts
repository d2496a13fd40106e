import { expect } from 'chai';
import {
  Bus, EnvelopeInvalidError, OptionsInvalidError, RemoteHandlerError, TenantMismatchError, TenantSubjects,
  type Envelope, type InboundHandler, type Transport, type TransportCapabilities,
} from '../../core/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

/** Hands the Bus a payload that is not a CloudEvent, as a device topic delivers it. */
class RawDeliveryTransport implements Transport {
  readonly name = 'raw-delivery';
  readonly capabilities: TransportCapabilities = { requestReply: false, queueGroups: false, durable: false, ordered: true, wildcards: true, redelivery: false, encodesData: false, maxMessageBytes: 1 << 20 };
  private onMessage?: InboundHandler;
  async connect(): Promise<void> {}
  async publish(): Promise<void> {}
  async subscribe(pattern: string, onMessage: InboundHandler) { this.onMessage = onMessage; return { pattern, drain: async () => {}, unsubscribe: async () => {} }; }
  async close(): Promise<void> {}
  deliver(subject: string, tenant?: string): void {
    const envelope: Envelope = { specversion: '1.0', id: `raw-${subject}`, source: '/device', type: 'raw', data: new TextEncoder().encode('{"t":1}') };
    if (tenant !== undefined) envelope.tenant = tenant;
    void this.onMessage!({ subject, envelope, attempt: 1, notCloudEvent: new EnvelopeInvalidError('not a CloudEvent'), ack() {} });
  }
}

describe('Bus tenant subject spaces (tenantSubjects)', () => {
  const buses: Bus[] = [];
  const make = (transport: Transport, extra: Record<string, unknown> = {}) => {
    const b = new Bus({ service: `t${buses.length}@test`, transport, metrics: false, logger: silentLogger, ...extra });
    buses.push(b);
    return b;
  };
  afterEach(async () => { await Promise.all(buses.splice(0).map((b) => b.stop())); });

  it('tenant subjects - reads the tenant of a subject with the default and a fixed-token prefix, dead letters included', () => {
    const plain = new TenantSubjects({}, 'dlq');
    expect(plain.tenantOf('acme.orders.created')).to.equal('acme');
    expect(plain.tenantOf('dlq.acme.orders')).to.equal('acme');
    expect(plain.tenantOf('acme')).to.equal(undefined);
    expect(plain.subjectFor('acme', 'orders.created')).to.equal('acme.orders.created');
    const fixed = new TenantSubjects({ prefix: 't.{tenant}.' }, 'dlq');
    expect(fixed.tenantOf('t.acme.orders')).to.equal('acme');
    expect(fixed.tenantOf('t.acme')).to.equal(undefined);
    expect(fixed.tenantOf('sensor.reading.x')).to.equal(undefined);
    expect(fixed.tenantOf('dlq.t.globex.x')).to.equal('globex');
    expect(fixed.subjectFor('acme', 'orders')).to.equal('t.acme.orders');
    expect(() => fixed.subjectFor('a.b', 'orders')).to.throw(TenantMismatchError);
    expect(fixed.mismatch('t.acme.orders', 'acme')).to.equal(undefined);
    expect(fixed.mismatch('sensor.x', undefined)).to.equal(undefined);
    expect(fixed.mismatch('t.acme.orders', 'globex')?.code).to.equal('SB_ERR_TENANT_MISMATCH');
    expect(fixed.mismatch('t.acme.orders', undefined)?.code).to.equal('SB_ERR_TENANT_MISMATCH');
    expect(fixed.mismatch('sensor.x', 'acme')?.code).to.equal('SB_ERR_TENANT_MISMATCH');
    // A claimed tenant with a dot cannot pass for the token it starts with.
    expect(plain.mismatch('acme.x.orders', 'acme.x')?.code).to.equal('SB_ERR_TENANT_MISMATCH');
  });

  it('tenant subjects - a bad prefix is refused at construction, naming the field', () => {
    for (const prefix of ['{tenant}', 'tenants-{tenant}.', '{tenant}.{tenant}.', 't.*.{tenant}.', 'a..{tenant}.', 't.']) {
      expect(() => make(new MemoryTransport(), { tenantSubjects: { prefix } }), prefix).to.throw(OptionsInvalidError)
        .with.property('details').that.deep.equals({ field: 'tenantSubjects.prefix' });
    }
    expect(() => make(new MemoryTransport(), { tenantSubjects: 'acme' })).to.throw(OptionsInvalidError);
  });

  it('tenant subjects - a delivery whose tenant does not match its space is dead-lettered, settled and never handled', async () => {
    const transport = new MemoryTransport();
    // The client publishes without the option, as any broker client could.
    const client = make(transport);
    const service = make(transport, { tenantSubjects: {} });
    const operator = make(transport);
    const handled: Array<{ subject: string; tenant: string | undefined }> = [];
    await service.subscribe('*.orders', (m, ctx) => { handled.push({ subject: ctx.subject, tenant: m.tenant }); });
    const dead: Envelope[] = [];
    await operator.subscribe('dlq.>', (m) => { dead.push(m); });

    await client.publish('acme.orders', { n: 1 }, { headers: { tenant: 'acme' } });
    await client.publish('acme.orders', { n: 2 }, { headers: { tenant: 'globex' } });
    await client.publish('acme.orders', { n: 3 });
    await client.publish('globex.orders', { n: 4 }, { headers: { tenant: 'globex' } });
    await waitFor(() => handled.length === 2 && dead.length === 2, { what: 'two handled, two dead-lettered' });

    expect(handled).to.deep.equal([{ subject: 'acme.orders', tenant: 'acme' }, { subject: 'globex.orders', tenant: 'globex' }]);
    const byN = new Map(dead.map((d) => [(d.data as { n: number }).n, d]));
    const forged = byN.get(2)!;
    expect(forged.dlqreason).to.equal('SB_ERR_TENANT_MISMATCH');
    expect(forged.dlqsubject).to.equal('acme.orders');
    // The copy stays in acme's space as acme's; the claim is kept for whoever investigates.
    expect(forged.tenant).to.equal('acme');
    expect(forged.dlqtenant).to.equal('globex');
    const untenanted = byN.get(3)!;
    expect(untenanted.dlqreason).to.equal('SB_ERR_TENANT_MISMATCH');
    expect(untenanted.dlqtenant).to.equal(undefined);
    expect(service.countersFor('acme.orders').invalid.count).to.equal(2);
  });

  it('tenant subjects - with a fixed-token prefix, a tenant outside every space is refused and untenanted events there pass', async () => {
    const transport = new MemoryTransport();
    const client = make(transport);
    const service = make(transport, { tenantSubjects: { prefix: 't.{tenant}.' } });
    const handled: string[] = [];
    const dead: Envelope[] = [];
    await service.subscribe('>', (m, ctx) => { if (ctx.subject.startsWith('dlq.')) dead.push(m); else handled.push(`${ctx.subject} ${m.tenant ?? '-'}`); });
    await client.publish('shared.prices', { n: 1 });
    await client.publish('shared.prices', { n: 2 }, { headers: { tenant: 'acme' } });
    await client.publish('t.acme.orders', { n: 3 }, { headers: { tenant: 'acme' } });
    await waitFor(() => handled.length === 2 && dead.length === 1, { what: 'two handled, one dead-lettered' });
    expect(handled).to.deep.equal(['shared.prices -', 't.acme.orders acme']);
    expect(dead[0]!.dlqsubject).to.equal('shared.prices');
    expect(dead[0]!.tenant).to.equal(undefined);
    expect(dead[0]!.dlqtenant).to.equal('acme');
  });

  it('tenant subjects - publishes, handler publishes and requests must match the space of their subject', async () => {
    const transport = new MemoryTransport();
    const bus = make(transport, { tenantSubjects: {} });
    const results: string[] = [];
    await bus.subscribe('acme.orders', async (_m, ctx) => {
      await ctx.publish('acme.billing', { ok: true });
      try { await ctx.publish('globex.billing', { ok: false }); results.push('globex published'); } catch (err) { results.push((err as TenantMismatchError).code); }
    });
    const billed: Array<string | undefined> = [];
    await bus.subscribe('acme.billing', (m) => { billed.push(m.tenant); });

    await expectRejected(bus.publish('acme.orders', {}, { headers: { tenant: 'globex' } }));
    await expectRejected(bus.publish('acme.orders', {}));
    await expectRejected(bus.publishEnvelope('acme.orders', { specversion: '1.0', id: 'e1', source: '/x', type: 't', tenant: 'globex' }));
    await expectRejected(bus.request('acme.ask', {}, { headers: { tenant: 'globex' } }));
    expect(bus.countersFor('acme.orders').rejected.count).to.equal(3);

    await bus.publish('acme.orders', { n: 1 }, { headers: { tenant: 'acme' } });
    await waitFor(() => results.length === 1 && billed.length === 1, { what: 'the handler published' });
    expect(results).to.deep.equal(['SB_ERR_TENANT_MISMATCH']);
    expect(billed).to.deep.equal(['acme']);
  });

  it('tenant subjects - a request whose tenant does not match its space gets an error reply, not the handler', async () => {
    const transport = new MemoryTransport();
    const client = make(transport);
    const service = make(transport, { tenantSubjects: {} });
    let calls = 0;
    await service.subscribe('acme.ask', () => { calls++; return 'answer'; });
    const ok = await client.request('acme.ask', {}, { headers: { tenant: 'acme' } });
    expect(ok.data).to.equal('answer');
    const refused = await client.request('acme.ask', {}, { headers: { tenant: 'globex' } }).then(() => undefined, (err: unknown) => err);
    expect(refused).to.be.instanceOf(RemoteHandlerError);
    expect((refused as RemoteHandlerError).remoteCode).to.equal('SB_ERR_TENANT_MISMATCH');
    expect(calls).to.equal(1);
  });

  it('tenant subjects - a raw payload on a raw subscription takes the tenant of its space, whatever its made-up envelope said', async () => {
    const transport = new RawDeliveryTransport();
    const bus = make(transport, { tenantSubjects: {} });
    const seen: Array<string | undefined> = [];
    await bus.subscribe('>', (m) => { seen.push(m.tenant); }, { raw: true });
    transport.deliver('acme.devices.d1.telemetry', 'globex');
    transport.deliver('telemetry', 'globex');
    await waitFor(() => seen.length === 2, { what: 'both raw payloads handled' });
    expect(seen).to.deep.equal(['acme', undefined]);
  });
});

async function expectRejected(p: Promise<unknown>): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err, 'refused').to.be.instanceOf(TenantMismatchError);
  expect((err as TenantMismatchError).code).to.equal('SB_ERR_TENANT_MISMATCH');
}
