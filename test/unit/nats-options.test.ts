import { expect } from 'chai';
import { natsOptionsFromUrl, resolveNatsOptions } from '../../transports/nats/index.js';

describe('nats options', () => {
  it('nats options - a server with a query is refused: the constructor would ignore ?jetstream=1', () => {
    expect(() => resolveNatsOptions({ servers: 'nats://127.0.0.1:4222?jetstream=1&stream=S' })).to.throw(/carries a query.*transportFromUrl/)
      .with.property('code', 'SB_ERR_OPTIONS_INVALID');
    expect(() => resolveNatsOptions(natsOptionsFromUrl(new URL('nats://127.0.0.1:4222?jetstream=1&stream=S')))).not.to.throw();
  });

  it('nats options - reads core and JetStream settings from a URL', () => {
    expect(natsOptionsFromUrl(new URL('nats://127.0.0.1:4222'))).to.deep.equal({ servers: ['nats://127.0.0.1:4222'] });
    const o = natsOptionsFromUrl(new URL('nats://bob:s%40cret@h1:4333?jetstream=1&stream=ORDERS&subjects=orders.>,dlq.orders.>&retention=workqueue&replicas=3&ackWaitMs=5000&servers=h2:4222'));
    expect(o).to.deep.equal({
      servers: ['nats://h1:4333', 'nats://h2:4222'], user: 'bob', pass: 's@cret',
      jetstream: { stream: 'ORDERS', subjects: ['orders.>', 'dlq.orders.>'], retention: 'workqueue', replicas: 3, ackWaitMs: 5000 },
    });
    expect(natsOptionsFromUrl(new URL('nats://tok3n@h?tls=1'))).to.deep.equal({ servers: ['nats://h:4222'], token: 'tok3n', tls: true });
  });

  it('nats options - rejects bad values naming the field', () => {
    const field = (f: () => unknown) => { try { f(); } catch (e) { return [(e as { code: string }).code, (e as { details: { field: string } }).details.field]; } return undefined; };
    expect(field(() => natsOptionsFromUrl(new URL('nats://h?jetstream=1')))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'stream']);
    expect(field(() => natsOptionsFromUrl(new URL('nats://h?jetstream=maybe')))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'jetstream']);
    expect(field(() => resolveNatsOptions({ jetstream: { stream: 'a.b' } }))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'jetstream.stream']);
    expect(field(() => resolveNatsOptions({ jetstream: { stream: 'S', retention: 'forever' as 'limits' } }))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'jetstream.retention']);
    expect(field(() => resolveNatsOptions({ maxBufferedPublishes: 0 }))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'maxBufferedPublishes']);
    expect(field(() => resolveNatsOptions({ user: 'u' }))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'pass']);
  });
});
