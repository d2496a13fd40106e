import { expect } from 'chai';
import { Bus, KeyedScheduler, type InboundMessage, type Transport } from '../../core/index.js';
import { UNSETTLED_MESSAGE } from '../../core/bus.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

describe('ordering - handler failures', () => {
  it('ordering - a synchronous throw is reported to onError and the next item of the same key still runs', async () => {
    const reported: unknown[] = [];
    const done: number[] = [];
    const boom = new Error('sync');
    const s = new KeyedScheduler<number>((n) => {
      if (n === 1) throw boom;
      done.push(n);
    }, { concurrency: 1, maxPending: 10, onFull: 'wait', onError: (err) => { reported.push(err); } });
    s.push(1, 'k'); s.push(2, 'k'); s.push(3);
    await s.idle();
    expect(reported).to.deep.equal([boom]);
    expect(done).to.deep.equal([2, 3]);
    expect(s.load).to.deep.equal({ running: 0, pending: 0 });
  });

  it('ordering - a rejected handler promise is reported to onError, keyed or not, and the next item still runs', async () => {
    const reported: unknown[] = [];
    const done: number[] = [];
    const s = new KeyedScheduler<number>(async (n) => {
      await null;
      if (n % 2 === 1) throw new Error(`async ${n}`);
      done.push(n);
    }, { concurrency: 1, maxPending: 10, onFull: 'wait', onError: (err) => { reported.push((err as Error).message); } });
    for (const n of [1, 2, 3, 4]) s.push(n, 'k');
    s.push(5); s.push(6);
    await s.idle();
    // Keyed and unkeyed items interleave; only the key's own order is fixed.
    expect(reported).to.have.members(['async 1', 'async 3', 'async 5']);
    expect(reported.indexOf('async 1')).to.be.below(reported.indexOf('async 3'));
    expect(done).to.have.members([2, 4, 6]);
    expect(done.indexOf(2)).to.be.below(done.indexOf(4));
    expect(s.load).to.deep.equal({ running: 0, pending: 0 });
  });

  it('bus - an error that escapes message processing is logged at error level, and later messages are still handled', async () => {
    const broker = new MemoryBroker();
    const memory = new MemoryTransport({ broker });
    // Every ack fails: the try fails, the message is dead-lettered, and the dead-lettering's own ack rejects out of processing.
    const ackLost = new Error('ack lost');
    const transport: Transport = Object.assign(Object.create(memory) as Transport, {
      subscribe: (pattern: string, onMessage: (m: InboundMessage) => void | Promise<void>, options: Parameters<Transport['subscribe']>[2]) =>
        memory.subscribe(pattern, (m) => onMessage({ ...m, ack: () => Promise.reject(ackLost) }), options),
    });
    const logged: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
    const logger = { ...silentLogger, error: (msg: string, fields?: Record<string, unknown>) => { logged.push({ msg, fields }); }, child() { return logger; } };
    const bus = new Bus({ service: 'ordering-errors', transport, metrics: false, logger, retry: { maxAttempts: 1 } });
    const handled: unknown[] = [];
    await bus.subscribe('ordering-errors.acklost', async (m) => { handled.push(m.data); }, { ordered: true });
    await bus.publish('ordering-errors.acklost', 1, { partitionKey: 'k' });
    await bus.publish('ordering-errors.acklost', 2, { partitionKey: 'k' });
    const escaped = () => logged.filter((l) => l.msg === UNSETTLED_MESSAGE);
    await waitFor(() => escaped().length === 2, { timeoutMs: 2000, what: 'two error log lines' });
    expect(escaped()[0]!.fields).to.include({ pattern: 'ordering-errors.acklost' });
    expect(escaped()[0]!.fields!.err, 'the error the ack rejected with').to.equal(ackLost);
    expect(handled).to.deep.equal([1, 2]);
    await bus.stop();
  });
});
