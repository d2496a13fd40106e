/**
 * What the NATS transport reads off a delivery without nats.js' per-message getters
 * (transports/nats/subscription.ts replyOf, the fixed subject of a pattern without wildcards)
 * must be what those getters say, for every kind of message nats.js parses.
 */
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { connect, headers as natsHeaders, type Msg, type NatsConnection } from 'nats';
import { Bus } from '../../core/index.js';
import { NatsTransport } from '../../transports/nats/index.js';
import { replyOf } from '../../transports/nats/subscription.js';
import { requireBroker } from '../helpers/brokers.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { waitFor } from '../helpers/wait.js';

const NATS = 'nats://127.0.0.1:4222';

describe('nats delivery arguments', function () {
  this.timeout(20_000);
  let nc: NatsConnection;
  let prefix: string;
  before(async function () { await requireBroker(this, 'nats'); });
  beforeEach(async () => { nc = await connect({ servers: NATS }); prefix = `args.${randomUUID().slice(0, 8)}`; });
  afterEach(async () => { await nc.close(); });

  it('nats delivery - replyOf is the reply subject nats.js reads, or undefined, with and without headers and body', async () => {
    const got: Msg[] = [];
    nc.subscribe(`${prefix}.>`, { callback: (_e, m) => { got.push(m); } });
    await nc.flush();
    const h = natsHeaders(); h.set('ce-id', '1');
    nc.publish(`${prefix}.plain`, new Uint8Array([1]));
    nc.publish(`${prefix}.empty`);
    nc.publish(`${prefix}.headers`, new Uint8Array([1]), { headers: h });
    nc.publish(`${prefix}.plain-reply`, new Uint8Array([1]), { reply: 'reply.to.plain' });
    nc.publish(`${prefix}.headers-reply`, new Uint8Array([1]), { headers: h, reply: 'reply.to.headers' });
    await waitFor(() => got.length === 5, { timeoutMs: 5000, what: 'five messages' });
    const replies = Object.fromEntries(got.map((m) => [m.subject.slice(prefix.length + 1), replyOf(m)]));
    expect(replies).to.deep.equal({ plain: undefined, empty: undefined, headers: undefined, 'plain-reply': 'reply.to.plain', 'headers-reply': 'reply.to.headers' });
    for (const m of got) expect(replyOf(m)).to.equal(m.reply || undefined);
  });

  it('nats delivery - a handler sees the concrete subject on a wildcard subscription and the subscribed one on a literal', async () => {
    const bus = new Bus({ service: 'args@test', transport: new NatsTransport({ servers: NATS }), metrics: false, logger: silentLogger });
    const seen: string[] = [];
    try {
      await bus.subscribe(`${prefix}.*.reading`, (_m, ctx) => { seen.push(`wild ${ctx.subject}`); });
      await bus.subscribe(`${prefix}.s1.reading`, (_m, ctx) => { seen.push(`literal ${ctx.subject}`); });
      await bus.publish(`${prefix}.s1.reading`, { n: 1 }, { type: 't' });
      await bus.publish(`${prefix}.s2.reading`, { n: 2 }, { type: 't' });
      await waitFor(() => seen.length === 3, { timeoutMs: 5000, what: 'three deliveries' });
      expect(seen.sort()).to.deep.equal([`literal ${prefix}.s1.reading`, `wild ${prefix}.s1.reading`, `wild ${prefix}.s2.reading`]);
    } finally {
      await bus.stop();
    }
  });
});
