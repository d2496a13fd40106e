/**
 * A member in a process of its own, for tests that kill it (SIGKILL: no leave, no connection
 * close): `node --import tsx test/helpers/amqp-coordination-member.ts <url> <name> <group> <member> <heartbeatMs>`.
 * Writes "joined" to stdout once its first heartbeat is on the way.
 */
import { AmqpCoordination } from '../../scale/index.js';

const [url, name, group, member, heartbeatMs] = process.argv.slice(2);
const coord = await AmqpCoordination.open({ url: url!, name: name!, heartbeatMs: Number(heartbeatMs), memberTtlMs: Number(heartbeatMs) * 4 });
coord.join(group!, member!, () => ({ pid: process.pid }));
process.stdout.write('joined\n');
