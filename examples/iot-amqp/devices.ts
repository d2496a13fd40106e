/**
 * Simulated devices for examples/iot-amqp: each publishes plain JSON
 * `{"ts": <epoch ms>, "temperature": <°C>, "humidity": <%>}` with routing key
 * `devices.<deviceId>.telemetry` to the exchange in AMQP_EXCHANGE (default `iot`), with a plain
 * amqplib client on a confirm channel (what a device that must lose nothing does: it waits for
 * the broker's confirm). Every 40th reading of a device starts a short overheat (raised, then resolved).
 *
 *   AMQP_URL=amqp://guest:guest@127.0.0.1:5672 npx tsx examples/iot-amqp/devices.ts [devices=20] [readings=200] [intervalMs=100]
 */
import amqp from 'amqplib';

const [devices = 20, readings = 200, intervalMs = 100] = process.argv.slice(2).map(Number);
const conn = await amqp.connect(process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const ch = await conn.createConfirmChannel();
const exchange = process.env.AMQP_EXCHANGE ?? 'iot';
for (let i = 0; i < readings; i++) {
  for (let d = 0; d < devices; d++) {
    const hot = (i + d * 7) % 40 < 4;
    const reading = { ts: Date.now(), temperature: hot ? 85 + Math.random() * 5 : 20 + Math.random() * 5, humidity: 40 + Math.random() * 10 };
    ch.publish(exchange, `devices.sensor-${d}.telemetry`, Buffer.from(JSON.stringify(reading)), { persistent: true, contentType: 'application/json' });
  }
  await ch.waitForConfirms();
  await new Promise((r) => setTimeout(r, intervalMs));
}
process.stderr.write(`sent ${devices * readings} readings\n`);
await conn.close();
