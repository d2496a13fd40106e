import { randomUUID } from 'node:crypto';
import { createClient } from 'redis';
import { requireBroker } from '../../test/helpers/brokers.js';
import { runConformance } from '../../test/conformance/suite.js';
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

describe('redis-streams (examples/custom-transport)', function () {
  before(async function () { await requireBroker(this, 'redis'); });

  runConformance({
    name: 'redis-streams',
    create: () => new RedisStreamsTransport({ url, keyPrefix }),
    after: deleteRunKeys,
  });
});
