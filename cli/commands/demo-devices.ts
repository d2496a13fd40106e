import mqtt from 'mqtt';

export interface SimulatedDevices {
  /** Messages published so far. */
  readonly sent: number;
  stop(): Promise<void>;
}

/**
 * Devices that know nothing of signalbus: one plain MQTT client publishing raw JSON
 * `{"ts","temperature","humidity"}` to `devices/<id>/telemetry`. Every seventh device overheats
 * in waves (so alerts raise and resolve), every eleventh now and then sends a malformed payload.
 */
export async function startDevices(options: { url: string; count: number; intervalMs: number }): Promise<SimulatedDevices> {
  const client = await mqtt.connectAsync(options.url, { protocolVersion: 4, clientId: `demo-devices-${process.pid}`, reconnectPeriod: 500 });
  let sent = 0;
  let tick = 0;
  const timer = setInterval(() => {
    tick++;
    for (let d = 0; d < options.count; d++) {
      const id = `sensor-${d}`;
      const hot = d % 7 === 3 && Math.floor(tick / 60) % 2 === 0 && tick % 60 > 5;
      const temperature = hot ? 82 + Math.random() * 6 : 20 + Math.random() * 10;
      const malformed = d % 11 === 5 && tick % 30 === 0;
      const body = malformed
        ? (tick % 60 === 0 ? '{"ts": "yesterday", "temperature": "hot"}' : '{"ts": 1, "temperature": ')
        : JSON.stringify({ ts: Date.now(), temperature: Math.round(temperature * 10) / 10, humidity: Math.round(40 + Math.random() * 20) });
      client.publish(`devices/${id}/telemetry`, body, { qos: 0 });
      sent++;
    }
  }, options.intervalMs);
  return {
    get sent() { return sent; },
    async stop() { clearInterval(timer); await client.endAsync(); },
  };
}
