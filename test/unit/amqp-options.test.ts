import { expect } from 'chai';
import { OptionsInvalidError, transportFromUrl } from '../../core/index.js';
import { AmqpTransport, connectTarget, amqpOptionsFromUrl, resolveAmqpOptions } from '../../transports/amqp/index.js';

const fieldOf = (fn: () => unknown): string | undefined => {
  try { fn(); } catch (e) { expect(e).to.be.instanceOf(OptionsInvalidError); return (e as OptionsInvalidError).details?.field as string; }
  throw new Error('expected OptionsInvalidError');
};

describe('amqp options', () => {
  it('amqp options - a url carrying signalbus parameters is refused (the constructor would ignore ?durable=1); amqplib\'s own pass', () => {
    expect(() => resolveAmqpOptions({ url: 'amqp://guest:guest@127.0.0.1:5672?durable=1&heartbeat=5' })).to.throw(/\?durable, \?heartbeat.*transportFromUrl/)
      .with.property('code', 'SB_ERR_OPTIONS_INVALID');
    expect(() => resolveAmqpOptions({ url: 'amqp://guest:guest@127.0.0.1:5672?frameMax=131072' })).not.to.throw();
    expect(() => resolveAmqpOptions(amqpOptionsFromUrl(new URL('amqp://guest:guest@127.0.0.1:5672?durable=1&frameMax=131072')))).not.to.throw();
  });

  it('amqp options - fills defaults (fast mode, exchange signalbus, window 1000)', () => {
    const o = resolveAmqpOptions({ url: 'amqp://127.0.0.1' });
    expect(o).to.include({ exchange: 'signalbus', durable: false, maxUnconfirmed: 1000, heartbeatSeconds: 10, deadLetterBinding: 'dlq.#' });
    expect(o.reconnect.maxAttempts).to.equal(Number.POSITIVE_INFINITY);
  });

  it('amqp options - rejects bad values naming the field', () => {
    expect(fieldOf(() => resolveAmqpOptions({ url: 'http://x' }))).to.equal('url');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', maxUnconfirmed: 0 }))).to.equal('maxUnconfirmed');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', exchange: 'amq.topic' }))).to.equal('exchange');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', heartbeatSeconds: -1 }))).to.equal('heartbeatSeconds');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', reconnect: { jitter: 2 } }))).to.equal('reconnect.jitter');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', groupQueueExpiresMs: 1.5 }))).to.equal('groupQueueExpiresMs');
    expect(fieldOf(() => amqpOptionsFromUrl(new URL('amqp://x?durable=maybe')))).to.equal('durable');
  });

  it('amqp options - reads durable mode and the rest from the URL and strips them from it', () => {
    const o = amqpOptionsFromUrl(new URL('amqp://u:p@h:5673/v?durable=1&exchange=events&maxUnconfirmed=50&heartbeat=5&groupQueueExpiresMs=60000&frameMax=8192'));
    expect(o).to.include({ durable: true, exchange: 'events', maxUnconfirmed: 50, heartbeatSeconds: 5, groupQueueExpiresMs: 60000 });
    expect(o.url).to.equal('amqp://u:p@h:5673/v?frameMax=8192');
  });

  it('amqp options - percent-decodes credentials and vhost, masks the password, defaults ports by scheme', () => {
    const t = connectTarget('amqp://us%40er:p%3Ass@127.0.0.1/%2F');
    expect(t).to.include({ protocol: 'amqp', port: 5672, username: 'us@er', password: 'p:ss', vhost: '/' });
    expect(t.display).to.not.include('p%3Ass');
    expect(connectTarget('amqps://broker.example').port).to.equal(5671);
    expect(connectTarget('amqp://h/staging').vhost).to.equal('staging');
    expect(connectTarget('amqp://h').vhost).to.equal('/');
  });

  it('amqp options - registers amqp:// and amqps:// with transportFromUrl', async () => {
    await import('../../transports/amqp/index.js');
    const t = await transportFromUrl('amqp://guest:guest@127.0.0.1:5672?durable=1');
    expect(t).to.be.instanceOf(AmqpTransport);
    expect((t as AmqpTransport).durable).to.equal(true);
    expect(t.capabilities).to.include({ requestReply: true, queueGroups: true, durable: true, redelivery: true, encodesData: true, wildcards: true });
    expect(await transportFromUrl('amqps://u:p@broker.example')).to.be.instanceOf(AmqpTransport);
  });

  it('amqp options - queueType, singleActiveConsumer and deliveryLimit: defaults, checks and URL parameters', () => {
    expect(resolveAmqpOptions({ url: 'amqp://x' })).to.include({ queueType: 'classic', singleActiveConsumer: false, deliveryLimit: undefined });
    expect(resolveAmqpOptions({ url: 'amqp://x', durable: true, queueType: 'quorum', singleActiveConsumer: true, deliveryLimit: 20 }))
      .to.include({ queueType: 'quorum', singleActiveConsumer: true, deliveryLimit: 20 });
    expect(resolveAmqpOptions({ url: 'amqp://x', singleActiveConsumer: true })).to.include({ queueType: 'classic', singleActiveConsumer: true });
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', durable: true, queueType: 'stream' as 'quorum' }))).to.equal('queueType');
    // Quorum needs durable mode, refused rather than implied.
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', queueType: 'quorum' }))).to.equal('durable');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', queueType: 'quorum', durable: false }))).to.equal('durable');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', durable: true, deliveryLimit: 5 }))).to.equal('deliveryLimit');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', durable: true, queueType: 'quorum', deliveryLimit: 0 }))).to.equal('deliveryLimit');
    expect(fieldOf(() => resolveAmqpOptions({ url: 'amqp://x', singleActiveConsumer: 'yes' as unknown as boolean }))).to.equal('singleActiveConsumer');

    const o = amqpOptionsFromUrl(new URL('amqp://h/v?durable=1&queueType=quorum&singleActiveConsumer=1&deliveryLimit=20&frameMax=8192'));
    expect(o).to.include({ durable: true, queueType: 'quorum', singleActiveConsumer: true, deliveryLimit: 20 });
    expect(o.url).to.equal('amqp://h/v?frameMax=8192');
    const plain = amqpOptionsFromUrl(new URL('amqp://h'));
    expect(plain).to.not.have.any.keys('queueType', 'singleActiveConsumer', 'deliveryLimit');
    expect(fieldOf(() => amqpOptionsFromUrl(new URL('amqp://h?singleActiveConsumer=maybe')))).to.equal('singleActiveConsumer');
    expect(fieldOf(() => new AmqpTransport(amqpOptionsFromUrl(new URL('amqp://h?queueType=lazy&durable=1'))))).to.equal('queueType');
    expect(fieldOf(() => new AmqpTransport(amqpOptionsFromUrl(new URL('amqp://h?queueType=quorum'))))).to.equal('durable');
    const t = new AmqpTransport(amqpOptionsFromUrl(new URL('amqp://h?durable=1&queueType=quorum&singleActiveConsumer=true')));
    expect(t).to.include({ queueType: 'quorum', singleActiveConsumer: true, deliveryLimit: undefined });
  });
});
