/**
 * Simulated devices for examples/iot-nats: each publishes plain JSON
 * `{"ts": <epoch ms>, "temperature": <°C>, "humidity": <%>}` to `devices.<deviceId>.telemetry`
 * with a plain NATS client. A JetStream publish with a `Nats-Msg-Id` is what a device that must
 * lose nothing does: it retries until the stream acknowledges, and the stream's duplicate window
 * drops a retried copy. Every 40th reading of a device starts a short overheat (raised, then resolved).
 *
 *   NATS_URL=nats://127.0.0.1:4222 npx tsx examples/iot-nats/devices.ts [devices=20] [readings=200] [intervalMs=100]
 */
import { connect } from 'nats';

const [devices = 20, readings = 200, intervalMs = 100] = process.argv.slice(2).map(Number);
const servers = (process.env.NATS_URL ?? 'nats://127.0.0.1:4222').replace(/^nats:\/\//, '').split(',').map((h) => `nats://${h.split('?')[0]}`);
const nc = await connect({ servers });
const js = nc.jetstream();
const run = Date.now().toString(36);
for (let i = 0; i < readings; i++) {
  await Promise.all(Array.from({ length: devices }, (_, d) => {
    const hot = (i + d * 7) % 40 < 4;
    const reading = { ts: Date.now(), temperature: hot ? 85 + Math.random() * 5 : 20 + Math.random() * 5, humidity: 40 + Math.random() * 10 };
    return js.publish(`devices.sensor-${d}.telemetry`, JSON.stringify(reading), { msgID: `sensor-${d}:${run}:${i}` });
  }));
  await new Promise((r) => setTimeout(r, intervalMs));
}
process.stderr.write(`sent ${devices * readings} readings\n`);
await nc.close();
