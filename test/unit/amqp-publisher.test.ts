import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { Channel } from 'amqplib';
import { ChannelPublisher } from '../../transports/amqp/publisher.js';
import { nextTurn } from '../helpers/wait.js';

/** A stand-in for an amqplib channel: records publishes; the test plays the broker's confirms. */
class FakeChannel extends EventEmitter {
  sent: string[] = [];
  closed = false;
  full = false;
  publish(_exchange: string, routingKey: string): boolean {
    if (this.closed) { const e = new Error('Channel closed'); e.name = 'IllegalOperationError'; throw e; }
    this.sent.push(routingKey);
    return !this.full;
  }
  ack(deliveryTag: number, multiple = false) { this.emit('ack', { deliveryTag, multiple }); }
  nack(deliveryTag: number, multiple = false) { this.emit('nack', { deliveryTag, multiple, requeue: false }); }
  close() { this.closed = true; this.emit('close'); }
}

const asChannel = (c: FakeChannel) => c as unknown as Channel;
const body = Buffer.from('x');

describe('amqp publisher', () => {
  it('amqp publisher - resolves a publish only when the broker confirmed it (multiple acks too)', async () => {
    const p = new ChannelPublisher(true, 10);
    const ch = new FakeChannel();
    p.attach(asChannel(ch));
    const done: number[] = [];
    const sends = [0, 1, 2].map((i) => p.send('ex', `k${i}`, body, {}).then(() => done.push(i)));
    await nextTurn();
    expect(done).to.deep.equal([]);
    ch.ack(2, true);
    await nextTurn();
    expect(done).to.deep.equal([0, 1]);
    ch.ack(3);
    await Promise.all(sends);
    expect(p.pending).to.equal(0);
  });

  it('amqp publisher - holds sends beyond the window until confirms make room', async () => {
    const p = new ChannelPublisher(true, 2);
    const ch = new FakeChannel();
    p.attach(asChannel(ch));
    const sends = [0, 1, 2, 3].map((i) => p.send('ex', `k${i}`, body, {}));
    await nextTurn();
    expect(ch.sent).to.deep.equal(['k0', 'k1']);
    ch.ack(1);
    await nextTurn();
    expect(ch.sent).to.deep.equal(['k0', 'k1', 'k2']);
    ch.ack(4, true);
    await nextTurn();
    ch.ack(4, true);
    await Promise.all(sends);
    expect(ch.sent).to.deep.equal(['k0', 'k1', 'k2', 'k3']);
  });

  it('amqp publisher - re-sends unconfirmed messages in order on the next channel', async () => {
    const p = new ChannelPublisher(true, 100);
    const first = new FakeChannel();
    p.attach(asChannel(first));
    const sends = [0, 1, 2, 3].map((i) => p.send('ex', `k${i}`, body, {}));
    first.ack(1);
    first.close();
    p.detach(asChannel(first));
    const during = p.send('ex', 'k4', body, {});
    const second = new FakeChannel();
    p.attach(asChannel(second));
    expect(second.sent).to.deep.equal(['k1', 'k2', 'k3', 'k4']);
    second.ack(4, true);
    await Promise.all([...sends, during]);
    expect(p.pending).to.equal(0);
  });

  it('amqp publisher - re-sends a nacked message, then fails it after repeated nacks', async () => {
    const p = new ChannelPublisher(true, 10);
    const ch = new FakeChannel();
    p.attach(asChannel(ch));
    const send = p.send('ex', 'k', body, {});
    for (let tag = 1; tag <= 4; tag++) ch.nack(tag);
    const err = await send.then(() => null, (e) => e);
    expect(ch.sent.length).to.equal(4);
    expect(err?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
  });

  it('amqp publisher - fast mode resolves when written and waits for drain when the buffer is full', async () => {
    const p = new ChannelPublisher(false, 10);
    const ch = new FakeChannel();
    p.attach(asChannel(ch));
    await p.send('ex', 'a', body, {});
    ch.full = true;
    let drained = false;
    const waiting = p.send('ex', 'b', body, {}).then(() => { drained = true; });
    await nextTurn();
    expect(drained).to.equal(false);
    ch.emit('drain');
    await waiting;
    expect(ch.sent).to.deep.equal(['a', 'b']);
  });

  it('amqp publisher - fail() rejects what is outstanding and every later send', async () => {
    const p = new ChannelPublisher(true, 10);
    const pending = p.send('ex', 'k', body, {});
    p.fail(Object.assign(new Error('gone'), { code: 'X' }));
    expect((await pending.then(() => null, (e) => e))?.code).to.equal('X');
    expect((await p.send('ex', 'k', body, {}).then(() => null, (e) => e))?.code).to.equal('X');
  });
});
