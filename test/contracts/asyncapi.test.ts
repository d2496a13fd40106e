import { Parser } from '@asyncapi/parser';
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineNanoservice } from '../../core/index.js';
import { runAsyncapiCommand, toAsyncApi, type CommandIo } from '../../contracts/index.js';
import { registry } from './helpers.js';

const ERROR = 0;

async function errorsOf(doc: unknown): Promise<string[]> {
  const { document, diagnostics } = await new Parser().parse(JSON.stringify(doc));
  const errors = diagnostics.filter((d) => d.severity === ERROR).map((d) => `${d.code} ${d.message} at ${JSON.stringify(d.path)}`);
  if (!document && errors.length === 0) errors.push('no document');
  return errors;
}

describe('contracts asyncapi', () => {
  it('asyncapi - services, channels, operations, messages and servers validate with @asyncapi/parser', async () => {
    const filter = defineNanoservice({ name: 'filter', version: '1.2.0', subscriptions: [{ pattern: 'sensor.reading.>', accept: '^2', handler: async () => {} }] });
    const doc = toAsyncApi({
      registry,
      servers: { nats: 'nats://localhost:4222', mqtt: { url: 'mqtt://localhost:1883', description: 'edge broker' }, http: 'http://localhost:8080/v1/events' },
      services: [
        { ...filter, publishes: [{ subject: 'sensor.filtered.berlin', type: 'sensor.reading' }] },
        { name: 'alert', subscriptions: [{ pattern: 'sensor.aggregate.*' }, { pattern: 'legacy.stuff' }], publishes: [{ subject: 'alert.raised.overheat', type: 'alert.raised' }, { subject: 'alert.resolved.overheat', type: 'alert.resolved' }] },
      ],
    });
    expect(await errorsOf(doc)).to.deep.equal([]);
    const d = doc as any;
    expect(d.asyncapi).to.equal('3.0.0');
    expect(Object.keys(d.servers)).to.have.members(['nats', 'mqtt', 'http']);
    expect(d.servers.nats).to.deep.include({ host: 'localhost:4222', protocol: 'nats' });
    expect(d.operations['filter.receive.sensor.reading.gt'].action).to.equal('receive');
    expect(d.operations['alert.send.alert.raised.overheat'].action).to.equal('send');
    // accept ^2 picks only 2.0.0 for the filter's channel
    expect(Object.keys(d.channels['sensor.reading.gt'].messages)).to.deep.equal(['sensor.reading-v2.0.0']);
    const msg = d.components.messages['sensor.reading-v2.0.0'];
    expect(msg.headers.properties.dataschema.const).to.equal('urn:signalbus:contract:sensor.reading:2.0.0');
    expect(msg.payload.required).to.include('deviceId');
    expect(d.components.messages['sensor.aggregate-v1.0.0'].payload.properties.window.properties.start).to.deep.include({ type: 'integer' });
  });

  it('asyncapi - without services every contract gets a channel, and the document still validates', async () => {
    const doc = toAsyncApi({ registry, services: [] }) as any;
    expect(Object.keys(doc.channels)).to.have.length(registry.names().length);
    expect(await errorsOf(doc)).to.deep.equal([]);
  });

  it('asyncapi - templates and patterns become addresses with parameters, routes place channels, dead letters are dlq* twins', async () => {
    const doc = toAsyncApi({
      registry,
      servers: { edge: 'mqtt://user:secret@127.0.0.1:1883', core: 'nats://a:4222,b:4222' },
      routes: [{ pattern: 'devices.>', server: 'edge' }], defaultServer: 'core',
      services: [{
        name: 'ingest',
        subscriptions: [{ pattern: 'devices.*.*.>', raw: true, tokenNames: { 1: 'site' } }],
        publishes: [
          { subject: 'sensor.reading.{data.site}-{deviceId}', contracts: [{ type: 'sensor.reading', version: '2.0.0' }] },
          { subject: 'dlq.devices.*.*.>', raw: true, deadLetters: true },
        ],
      }],
    }) as any;
    expect(await errorsOf(doc)).to.deep.equal([]);
    const input = Object.values(doc.channels).find((c: any) => c['x-signalbus-subject'] === 'devices.*.*.>') as any;
    expect(input.address).to.equal('devices.{site}.{token2}.{rest}');
    expect(Object.keys(input.parameters)).to.have.members(['site', 'token2', 'rest']);
    expect(input.servers).to.deep.equal([{ $ref: '#/servers/edge' }]);
    const output = Object.values(doc.channels).find((c: any) => c['x-signalbus-subject'] === 'sensor.reading.{data.site}-{deviceId}') as any;
    expect(output.address).to.equal('sensor.reading.{data_site}-{deviceId}');
    expect(output.servers).to.deep.equal([{ $ref: '#/servers/core' }]);
    expect(Object.keys(output.messages)).to.deep.equal(['sensor.reading-v2.0.0']);
    expect(doc.components.messages['raw-deadletter'].headers.required).to.include.members(['dlqreason', 'dlqmessage', 'dlqattempts', 'dlqsubject', 'dlqservice']);
    expect(doc.servers.edge.host).to.equal('127.0.0.1:1883');
    expect(doc.servers.core).to.deep.include({ host: 'a:4222', protocol: 'nats' });
    expect(JSON.stringify(doc.servers)).to.not.include('secret');
  });

  it('asyncapi - the command writes the document to --out', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-asyncapi-'));
    try {
      const services = join(dir, 'services.json');
      writeFileSync(services, JSON.stringify([{ name: 'ingest', publishes: [{ subject: 'sensor.reading.berlin', type: 'sensor.reading' }] }]));
      const out = join(dir, 'asyncapi.json');
      const lines: string[] = [];
      const io: CommandIo = { out: (l) => lines.push(l), err: (l) => lines.push(l) };
      expect(await runAsyncapiCommand(['--out', out, '--services', services, '--server', 'nats=nats://localhost:4222', '--title', 'demo'], io)).to.equal(0);
      const doc = JSON.parse(readFileSync(out, 'utf8'));
      expect(doc.info.title).to.equal('demo');
      expect(await errorsOf(doc)).to.deep.equal([]);
      expect(await runAsyncapiCommand(['--server', 'nourl'], io)).to.equal(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
