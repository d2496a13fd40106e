import { expect } from 'chai';
import { groupQueueName, retryTier, topologyNames } from '../../transports/amqp/index.js';

describe('amqp topology', () => {
  it('amqp topology - names exchange-scoped objects after the exchange', () => {
    expect(topologyNames('signalbus')).to.deep.equal({
      exchange: 'signalbus', retryExchange: 'signalbus.retry', deadLetterExchange: 'signalbus.dlx', deadLetterQueue: 'signalbus.dlq',
    });
  });

  it('amqp topology - a group queue is <group>.<pattern>, hashed when over 255 bytes', () => {
    expect(groupQueueName('billing', 'orders.*.created')).to.equal('billing.orders.*.created');
    const long = groupQueueName('g'.repeat(150), `${'p'.repeat(150)}.>`);
    expect(Buffer.byteLength(long)).to.be.at.most(255);
    expect(long).to.match(/^g+\.p+~[0-9a-f]{16}$/);
    expect(groupQueueName('g'.repeat(150), `${'p'.repeat(150)}.x`)).to.not.equal(long);
  });

  it('amqp topology - rounds retry delays to the nearest tier on a log scale', () => {
    expect(retryTier(0)).to.equal(10);
    expect(retryTier(7)).to.equal(10);
    expect(retryTier(14)).to.equal(10);
    expect(retryTier(18)).to.equal(25);
    expect(retryTier(1200)).to.equal(1000);
    expect(retryTier(30_000)).to.equal(30_000);
    expect(retryTier(10 * 3_600_000)).to.equal(3_600_000);
  });
});
