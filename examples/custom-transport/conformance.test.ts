import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { requireBroker } from '../../test/helpers/brokers.js';
import { runConformance, type BrokerRestartTarget } from '../../test/conformance/suite.js';
import { OwnRedis, REDIS_SERVER } from '../../test/helpers/own-redis.js';
import { RedisStreamsTransport } from './redis-streams-transport.js';

const url = 'redis://127.0.0.1:6379';
// One key prefix per run: runs never see each other's streams, and `after` deletes exactly ours.
const keyPrefix = `sbconf-${randomUUID().slice(0, 8)}:`;

/** Deletes every key this run created (subject streams, dead-letter streams, reply streams). */
async function deleteRunKeys(): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 1000 })) {
      if (keys.length > 0) await client.del(keys);
    }
  } finally {
    await client.close();
  }
}

/**
 * For the restart case: a redis-server of our own with the append-only file synced on every write
 * (the machine's Redis keeps nothing on disk, so a restart there would lose everything: README).
 */
function ownRedis(): BrokerRestartTarget {
  let redis: OwnRedis | undefined;
  return {
    executable: REDIS_SERVER,
    start: async () => { redis = await OwnRedis.start(); },
    create: () => new RedisStreamsTransport({ url: redis!.url, keyPrefix }),
    restart: async () => { await redis!.restart(); },
    stop: async () => { await redis?.stop(); },
  };
}

describe('redis-streams (examples/custom-transport)', function () {
  before(async function () { await requireBroker(this, 'redis'); });

  runConformance({
    name: 'redis-streams',
    create: () => new RedisStreamsTransport({ url, keyPrefix }),
    after: deleteRunKeys,
    restart: ownRedis(),
  });
});
