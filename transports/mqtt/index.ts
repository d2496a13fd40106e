/// <reference types="node" preserve="true" />
/**
 * Registers `mqtt://` and `mqtts://` with `transportFromUrl`:
 * `mqtt://127.0.0.1:1883` (MQTT 5), `?protocolVersion=4` (3.1.1), `?qos=1`,
 * `?clientId=ingest-1&clean=false` (persistent sessions), `?sharedSubscriptions=false` (no $share, e.g. aedes);
 * query parameters are the option names (`mqttOptionsFromUrl`).
 */
import { registerTransport } from '../../core/index.js';
import { MqttTransport } from './mqtt-transport.js';
import { mqttOptionsFromUrl } from './options.js';

export * from './mqtt-transport.js';
export * from './options.js';
export * from './binding.js';
export * from './topics.js';
export * from './embedded-broker.js';

const fromUrl = (url: URL) => new MqttTransport(mqttOptionsFromUrl(url));
registerTransport('mqtt', fromUrl);
registerTransport('mqtts', fromUrl);
