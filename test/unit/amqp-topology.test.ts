import { expect } from 'chai';
import { OptionsInvalidError } from '../../core/index.js';
import { groupQueueArguments, groupQueueDeclareError, groupQueueName, retryTier, topologyNames } from '../../transports/amqp/index.js';

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

  it('amqp topology - group queue arguments per queue type and single active consumer', () => {
    const names = topologyNames('sb');
    const s = { group: 'g', pattern: 'a.*' };
    // Classic is exactly what earlier versions declared, so their queues stay equivalent.
    expect(groupQueueArguments(names, s)).to.deep.equal({ 'x-dead-letter-exchange': 'sb.dlx' });
    expect(groupQueueArguments(names, { ...s, queueType: 'classic', groupQueueExpiresMs: 60_000 })).to.deep.equal({ 'x-dead-letter-exchange': 'sb.dlx', 'x-expires': 60_000 });
    expect(groupQueueArguments(names, { ...s, queueType: 'quorum' })).to.deep.equal({ 'x-dead-letter-exchange': 'sb.dlx', 'x-queue-type': 'quorum' });
    expect(groupQueueArguments(names, { ...s, queueType: 'quorum', singleActiveConsumer: true, deliveryLimit: 20, groupQueueExpiresMs: 5000 })).to.deep.equal({
      'x-dead-letter-exchange': 'sb.dlx', 'x-expires': 5000, 'x-queue-type': 'quorum', 'x-delivery-limit': 20, 'x-single-active-consumer': true,
    });
    expect(groupQueueArguments(names, { ...s, singleActiveConsumer: true })).to.deep.equal({ 'x-dead-letter-exchange': 'sb.dlx', 'x-single-active-consumer': true });
    // Nothing a quorum queue refuses.
    expect(groupQueueArguments(names, { ...s, queueType: 'quorum', singleActiveConsumer: true, deliveryLimit: 3 })).to.not.have.any.keys('x-max-priority', 'x-overflow');
  });

  it('amqp topology - PRECONDITION_FAILED on a group queue names the argument, the option and the way out', () => {
    const brokerError = (text: string) => Object.assign(new Error(`Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - ${text}"`), { code: 406 });
    const e = groupQueueDeclareError(brokerError("inequivalent arg 'x-queue-type' for queue 'g.a' in vhost 'prod': received the value 'quorum' of type 'longstr' but current is none"),
      'g.a', { 'x-dead-letter-exchange': 'sb.dlx', 'x-queue-type': 'quorum' });
    expect(e).to.be.instanceOf(OptionsInvalidError);
    expect(e!.details).to.deep.include({ field: 'queueType', queue: 'g.a', argument: 'x-queue-type' });
    expect(e!.message).to.include('x-queue-type').and.include('"quorum"').and.include("rabbitmqctl delete_queue -p 'prod' 'g.a'").and.include('another group name');
    const sac = groupQueueDeclareError(brokerError("inequivalent arg 'x-single-active-consumer' for queue 'g.a' in vhost '/': received none but current is the value 'true' of type 'bool'"),
      'g.a', { 'x-dead-letter-exchange': 'sb.dlx' });
    expect(sac!.details).to.deep.include({ field: 'singleActiveConsumer', argument: 'x-single-active-consumer' });
    expect(sac!.message).to.include('declares none');
    expect(groupQueueDeclareError(brokerError("inequivalent arg 'x-expires' for queue 'g.a' in vhost '/'"), 'g.a', {})!.details?.field).to.equal('groupQueueExpiresMs');
    expect(groupQueueDeclareError(brokerError("inequivalent arg 'durable' for queue 'g.a' in vhost '/'"), 'g.a', {})!.details?.field).to.equal('group');
    expect(groupQueueDeclareError(Object.assign(new Error('NOT_FOUND'), { code: 404 }), 'g.a', {})).to.equal(undefined);
    expect(groupQueueDeclareError(new Error('socket closed'), 'g.a', {})).to.equal(undefined);
  });
});
