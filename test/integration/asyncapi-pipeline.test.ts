import { Parser } from '@asyncapi/parser';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readPipelineForAsyncApi } from '../../cli/pipeline/asyncapi.js';
import { loadPipeline, PipelineInvalidError, type Pipeline } from '../../cli/pipeline/load.js';
import { runAsyncapiCommand, type CommandIo } from '../../contracts/index.js';
import { nanoserviceConfigSchemas } from '../../nanoservices/index.js';

/** Diagnostic severities (0 error, 1 warning, 2 information, 3 hint): errors and warnings fail. */
const WARNING = 1;

const cli = (args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], { encoding: 'utf8', timeout: 60_000 });

/** Every example pipeline file: examples/<name>/pipeline*.json, not the test files beside them (pipeline.test.json). */
const examplePipelines = readdirSync('examples', { withFileTypes: true }).filter((d) => d.isDirectory())
  .flatMap((d) => readdirSync(join('examples', d.name)).filter((f) => /^pipeline.*\.json$/.test(f) && !f.endsWith('.test.json')).map((f) => join('examples', d.name, f)));

/** What the test itself expects each kind to publish to when its config names no output (the kinds' documented defaults). */
const DEFAULT_OUTPUTS: Record<string, string | undefined> = { ingest: 'sensor.reading.{deviceId}', aggregate: 'sensor.aggregate.{key}', alert: 'alerts.{key}' };
const DEFAULT_INPUTS: Record<string, string | undefined> = { ingest: 'devices.*.telemetry' };

async function parse(text: string) {
  const { document, diagnostics } = await new Parser().parse(text);
  const errors = diagnostics.filter((d) => d.severity <= WARNING).map((d) => `${d.code} ${d.message} at ${JSON.stringify(d.path)}`);
  return { document, errors };
}

type Doc = { channels: Record<string, any>; operations: Record<string, any>; servers?: Record<string, any>; components: { messages: Record<string, any> } };

/** The channel whose x-signalbus-subject is `subject`, and its key. */
function channelOf(doc: Doc, subject: string): [string, any] | undefined {
  return Object.entries(doc.channels).find(([, c]) => c['x-signalbus-subject'] === subject);
}

/** The operation of `service` with `action` on the channel of `subject`. */
function operationOf(doc: Doc, service: string, action: 'send' | 'receive', subject: string): any {
  const channel = channelOf(doc, subject);
  if (!channel) return undefined;
  return Object.values(doc.operations).find((o) => o.tags?.some((t: { name: string }) => t.name === service) && o.action === action && o.channel.$ref === `#/channels/${channel[0]}`);
}

function messagesOn(doc: Doc, subject: string): string[] {
  return Object.keys(channelOf(doc, subject)?.[1].messages ?? {});
}

function generate(file: string): { doc: Doc; text: string } {
  const r = cli(['asyncapi', '--pipeline', file]);
  expect(r.status, `${file}: ${r.stderr}`).to.equal(0);
  return { doc: JSON.parse(r.stdout) as Doc, text: r.stdout };
}

describe('asyncapi from pipelines', function () {
  this.timeout(120_000);

  it('asyncapi pipeline - the examples exist to be checked', () => {
    expect(examplePipelines).to.include.members(['examples/iot-mqtt/pipeline.json', 'examples/iot-nats/pipeline.json', 'examples/iot-amqp/pipeline.json']);
  });

  for (const file of examplePipelines) {
    it(`asyncapi pipeline - ${file}: the CLI writes a document the official parser accepts, with every service's operations and every subject as a channel`, async () => {
      const { doc, text } = generate(file);
      const { document, errors } = await parse(text);
      expect(errors).to.deep.equal([]);
      expect(document, 'parsed document').to.not.equal(undefined);
      // The parser does not check that an address's {parameters} are declared: this test does.
      for (const [key, c] of Object.entries(doc.channels)) {
        const inAddress = [...String(c.address).matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]);
        expect(Object.keys(c.parameters ?? {}), key).to.have.members(inAddress);
      }
      const pipeline: Pipeline = loadPipeline(file, nanoserviceConfigSchemas);
      for (const s of pipeline.services) {
        const name = s.name ?? s.kind;
        const input = (s.config.input as string | undefined) ?? DEFAULT_INPUTS[s.kind]!;
        const output = (s.config.output as string | undefined) ?? DEFAULT_OUTPUTS[s.kind];
        expect(operationOf(doc, name, 'receive', input), `${name} receives ${input}`).to.not.equal(undefined);
        if (output !== undefined) expect(operationOf(doc, name, 'send', output), `${name} sends ${output}`).to.not.equal(undefined);
        expect(operationOf(doc, name, 'send', `dlq.${input}`), `${name} dead-letters to dlq.${input}`).to.not.equal(undefined);
        expect(operationOf(doc, name, 'send', `signalbus.metrics.${name}`), `${name} publishes metric fields`).to.not.equal(undefined);
        expect(messagesOn(doc, `signalbus.metrics.${name}`)).to.deep.equal(['metric.field-v1.0.0']);
      }
      // The parser's own model sees them too: one operation per service and direction at least.
      const parsedOps = document!.operations().all();
      for (const s of pipeline.services) {
        const name = s.name ?? s.kind;
        const mine = parsedOps.filter((o) => o.tags().all().some((t) => t.name() === name));
        expect(mine.some((o) => o.isReceive()), `${name} receive`).to.equal(true);
        expect(mine.some((o) => o.isSend()), `${name} send`).to.equal(true);
      }
      // Every transport is a server; every channel lives on one of them.
      expect(Object.keys(doc.servers ?? {})).to.have.members(Object.keys(pipeline.transports));
      for (const [key, c] of Object.entries(doc.channels)) expect(c.servers, key).to.have.length(1);
      // What flows between services: ingest sends sensor.reading 2.0.0, and whoever consumes it (filter) forwards the same contract.
      expect(messagesOn(doc, 'sensor.reading.{deviceId}')).to.deep.equal(['sensor.reading-v2.0.0']);
      expect(messagesOn(doc, 'sensor.valid.{data.deviceId}')).to.deep.equal(['sensor.reading-v2.0.0']);
      expect(messagesOn(doc, 'alerts.{deviceId}')).to.have.members(['alert.raised-v1.1.0', 'alert.resolved-v1.1.0']);
      expect(messagesOn(doc, 'devices.*.telemetry')).to.deep.equal(['raw']);
      expect(messagesOn(doc, 'dlq.devices.*.telemetry')).to.deep.equal(['raw-deadletter']);
      const reading = doc.components.messages['sensor.reading-v2.0.0'];
      expect(reading.payload.required).to.include('deviceId');
      expect(reading.headers.properties.dataschema.const).to.equal('urn:signalbus:contract:sensor.reading:2.0.0');
      expect(doc.components.messages['sensor.reading-v2.0.0-deadletter'].headers.required).to.include.members(['dlqreason', 'dlqsubject']);
      // Templates and patterns are addresses with parameters.
      const devices = channelOf(doc, 'devices.*.telemetry')![1];
      expect(devices.address).to.equal('devices.{deviceId}.telemetry');
      expect(Object.keys(devices.parameters)).to.deep.equal(['deviceId']);
      expect(channelOf(doc, 'sensor.reading.>')?.[1].address).to.equal('sensor.reading.{rest}');
    });
  }

  it('asyncapi pipeline - routes place channels on their transport, with the protocol\'s bindings and wire forms', () => {
    const mqtt = generate('examples/iot-mqtt/pipeline.json').doc;
    expect(mqtt.servers!.mqtt).to.deep.include({ protocol: 'mqtt', host: '127.0.0.1:1883' });
    expect(channelOf(mqtt, 'devices.*.telemetry')![1].servers).to.deep.equal([{ $ref: '#/servers/mqtt' }]);
    expect(channelOf(mqtt, 'devices.*.telemetry')![1]['x-signalbus-mqtt-topic']).to.equal('devices/+/telemetry');
    expect(channelOf(mqtt, 'sensor.reading.{deviceId}')![1].servers).to.deep.equal([{ $ref: '#/servers/local' }]);
    expect(operationOf(mqtt, 'ingest', 'receive', 'devices.*.telemetry').bindings.mqtt.qos).to.equal(1);

    const amqp = generate('examples/iot-amqp/pipeline.json').doc;
    expect(amqp.servers!.broker).to.deep.include({ protocol: 'amqp', host: '127.0.0.1:5672' });
    expect(JSON.stringify(amqp.servers), 'no credentials in the document').to.not.include('guest');
    const alerts = channelOf(amqp, 'alerts.{deviceId}')![1];
    expect(alerts.bindings.amqp).to.deep.include({ is: 'routingKey' });
    expect(alerts.bindings.amqp.exchange).to.deep.include({ name: 'iot', type: 'topic', durable: true });
    expect(alerts['x-signalbus-amqp-routing-key']).to.equal('alerts.*');
    // Scaled: what the pipeline feeds itself travels partitioned; its outputs to the outside do not.
    expect(channelOf(amqp, 'sensor.reading.{deviceId}')![1]['x-signalbus-partitioned']).to.deep.include({ count: 16 });
    expect(alerts['x-signalbus-partitioned']).to.equal(undefined);

    const nats = generate('examples/iot-nats/pipeline.json').doc;
    expect(nats.servers!.stream).to.deep.include({ protocol: 'nats' });
    expect(nats.servers!.stream.description).to.include('JetStream stream IOT');
    expect(channelOf(nats, 'signalbus.metrics.alert')![1].servers).to.deep.equal([{ $ref: '#/servers/core' }]);
    expect(channelOf(nats, 'aggregates.{deviceId}')![1].servers).to.deep.equal([{ $ref: '#/servers/stream' }]);
  });

  it('asyncapi pipeline - http, ws, embedded brokers, filter chains and contract dirs of a pipeline validate too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-asyncapi-pipeline-'));
    try {
      const file = join(dir, 'pipeline.json');
      // A contract of the user's own with only a proto: its payload is the .proto under the protobuf schema format.
      mkdirSync(join(dir, 'contracts', 'shop.order'), { recursive: true });
      writeFileSync(join(dir, 'contracts', 'shop.order', '1.0.0.proto'), 'syntax = "proto3";\npackage shop;\nmessage Order { string id = 1; double total = 2; }\n');
      writeFileSync(join(dir, 'contracts', 'shop.order', '1.0.0.json'), JSON.stringify({ name: 'shop.order', version: '1.0.0', proto: { file: '1.0.0.proto', message: 'shop.Order' }, examples: [{ id: 'o-1', total: 3 }] }));
      writeFileSync(file, JSON.stringify({
        contracts: { dirs: [join(dir, 'contracts')] },
        name: 'edge', description: 'http in, ws out',
        transports: { web: 'http://127.0.0.1:8080', hub: 'ws://127.0.0.1:8081', local: 'memory://edge' },
        routes: [{ pattern: 'alerts.>', transport: 'hub' }, { pattern: 'sensor.>', transport: 'local' }],
        embedded: { mqtt: { port: 1999 }, http: { url: 'http://127.0.0.1:8082' } },
        services: [
          { kind: 'filter', name: 'plausible', config: { input: 'sensor.reading.*', output: 'sensor.plausible.{data.deviceId}', where: { path: 'data.temperature', lt: 150 } } },
          { kind: 'filter', name: 'warm', config: { input: 'sensor.plausible.>', output: 'sensor.warm.{data.site}-{data.deviceId}', where: { path: 'data.temperature', gt: 30 } } },
          { kind: 'alert', config: { input: 'sensor.warm.>', keyField: 'deviceId', output: 'alerts.{rule}.{key}', extendedData: false, rules: [{ name: 'hot', kind: 'threshold', field: 'temperature', raise: { value: 40 } }] } },
          { kind: 'filter', name: 'orders', config: { input: 'orders.>', output: 'orders.checked', where: { path: 'data.total', gt: 0 } } },
          { kind: 'filter', name: 'shop', config: { input: 'shop.order.*', output: 'shop.paid', where: { path: 'data.total', gt: 0 } } },
        ],
      }));
      const { doc, text } = generate(file);
      expect((await parse(text)).errors).to.deep.equal([]);
      expect(doc.servers!.web).to.deep.include({ protocol: 'http' });
      expect(doc.servers!.hub).to.deep.include({ protocol: 'ws' });
      expect(Object.keys(doc.servers!)).to.include.members(['embedded-mqtt', 'embedded-http']);
      // A filter with no known upstream guesses the contract from its pattern's leading tokens (sensor.reading, every version).
      expect(messagesOn(doc, 'sensor.reading.*')).to.have.members(['sensor.reading-v1.0.0', 'sensor.reading-v2.0.0']);
      // ...and a chain of filters forwards it unchanged.
      expect(messagesOn(doc, 'sensor.warm.{data.site}-{data.deviceId}')).to.have.members(['sensor.reading-v1.0.0', 'sensor.reading-v2.0.0']);
      expect(channelOf(doc, 'sensor.warm.{data.site}-{data.deviceId}')?.[1].address).to.equal('sensor.warm.{data_site}-{data_deviceId}');
      expect(messagesOn(doc, 'alerts.{rule}.{key}')).to.have.members(['alert.raised-v1.0.0', 'alert.resolved-v1.0.0']);
      expect(channelOf(doc, 'alerts.{rule}.{key}')![1].servers).to.deep.equal([{ $ref: '#/servers/hub' }]);
      expect(messagesOn(doc, 'shop.paid')).to.deep.equal(['shop.order-v1.0.0']);
      const order = doc.components.messages['shop.order-v1.0.0'];
      expect(order.contentType).to.equal('application/protobuf');
      expect(order.payload.schemaFormat).to.match(/^application\/vnd\.google\.protobuf/);
      expect(order.payload.schema).to.include('message Order');
      expect(order['x-signalbus-proto-message']).to.equal('shop.Order');
      // No contract known: a CloudEvent of any type.
      expect(messagesOn(doc, 'orders.checked')).to.deep.equal(['cloudevent']);
      expect(messagesOn(doc, 'dlq.orders.>')).to.deep.equal(['cloudevent-deadletter']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asyncapi pipeline - a missing or invalid pipeline file is a typed error (SB_ERR_CLI_USAGE) naming the file, exit 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-asyncapi-bad-'));
    try {
      const missing = join(dir, 'no-such-pipeline.json');
      const badJson = join(dir, 'bad.json');
      writeFileSync(badJson, '{ "name": ');
      const badKind = join(dir, 'bad-kind.json');
      writeFileSync(badKind, JSON.stringify({ name: 'x', transports: { m: 'memory://' }, services: [{ kind: 'teleport', config: {} }] }));
      for (const [file, text] of [[missing, 'cannot read'], [badJson, 'not valid JSON'], [badKind, '/services/0/kind']] as const) {
        const r = cli(['asyncapi', '--pipeline', file]);
        expect(r.status, file).to.equal(2);
        expect(r.stdout, file).to.equal('');
        expect(r.stderr, file).to.include('SB_ERR_CLI_USAGE').and.include(file).and.include(text);
        expect(() => readPipelineForAsyncApi(file)).to.throw(PipelineInvalidError).with.property('code', 'SB_ERR_CLI_USAGE');
      }
      // In process: the same code on the command's error stream.
      const lines: string[] = [];
      const io: CommandIo = { out: (l) => lines.push(`out ${l}`), err: (l) => lines.push(`err ${l}`) };
      expect(await runAsyncapiCommand(['--pipeline', missing], io, readPipelineForAsyncApi)).to.equal(2);
      expect(lines[0]).to.match(/^err SB_ERR_CLI_USAGE: /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('asyncapi pipeline - --help names --pipeline', () => {
    const r = cli(['asyncapi', '--help']);
    expect(r.status).to.equal(0);
    expect(r.stdout).to.include('signalbus asyncapi').and.include('--pipeline');
  });
});
