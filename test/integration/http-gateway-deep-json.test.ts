import { expect } from 'chai';
import { Bus, MAX_JSON_DEPTH, type Envelope } from '../../core/index.js';
import { HttpGateway } from '../../gateway/index.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import { send, type Answer } from '../helpers/http-send.js';
import { waitFor } from '../helpers/wait.js';
import { silentLogger } from '../helpers/silent-logger.js';

const post = (url: string, path: string, headers: Record<string, string>, body: string): Promise<Answer> => send(url, 'POST', path, headers, body);

const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
const CE = { 'ce-specversion': '1.0', 'ce-id': 'deep-1', 'ce-source': 'urn:t', 'ce-type': 't', 'content-type': 'application/json' };

describe('http gateway - deep JSON', function () {
  this.timeout(20_000);
  let bus: Bus;
  let gw: HttpGateway;
  let url: string;
  let got: Envelope[];
  beforeEach(async () => {
    bus = new Bus({ service: 'gw@deep', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    gw = new HttpGateway({ bus, maxBodyBytes: 4 << 20 });
    ({ url } = await gw.start());
    got = [];
    await bus.subscribe('deep.>', (m) => { got.push(m); });
  });
  afterEach(async () => { await gw.close(); await bus.stop(); });

  const expectTooDeep = (a: Answer) => {
    expect(a.status, a.text).to.equal(400);
    expect(a.json).to.include({ code: 'SB_ERR_CODEC_TOO_DEEP', status: 400, maxDepth: MAX_JSON_DEPTH });
  };

  it('http gateway - structured, batch, binary and plain JSON data nested 100,000 deep get 400 SB_ERR_CODEC_TOO_DEEP', async () => {
    const deep = nested(100_000);
    const event = `{"specversion":"1.0","id":"s1","source":"urn:t","type":"t","data":${deep}}`;
    expectTooDeep(await post(url, '/v1/events/deep.s', { 'content-type': 'application/cloudevents+json' }, event));
    expectTooDeep(await post(url, '/v1/events/deep.b', { 'content-type': 'application/cloudevents-batch+json' }, `[${event}]`));
    expectTooDeep(await post(url, '/v1/events/deep.x', CE, deep));
    expectTooDeep(await post(url, '/v1/events/deep.p', { 'content-type': 'application/json' }, deep));
    // Nothing half-accepted: the gateway still takes the next event.
    const ok = await post(url, '/v1/events/deep.ok', CE, '{"n":1}');
    expect(ok.status, ok.text).to.equal(202);
    await waitFor(() => got.length === 1, { what: 'the valid event' });
    expect(got.map((e) => e.data)).to.deep.equal([{ n: 1 }]);
  });

  it('http gateway - validateJson: false skips the parse, not the depth limit: binary and plain JSON data 100,000 deep still get 400', async () => {
    const loose = new HttpGateway({ bus, maxBodyBytes: 4 << 20, validateJson: false });
    const { url: looseUrl } = await loose.start();
    try {
      const deep = nested(100_000);
      expectTooDeep(await post(looseUrl, '/v1/events/deep.x', CE, deep));
      expectTooDeep(await post(looseUrl, '/v1/events/deep.p', { 'content-type': 'application/json' }, deep));
      // What validateJson: false is for: malformed JSON is let through, to fail (dead-letter) later.
      const malformed = await post(looseUrl, '/v1/events/deep.m', CE, '{"n":');
      expect(malformed.status, malformed.text).to.equal(202);
    } finally {
      await loose.close();
    }
  });

  it('http gateway - data exactly MAX_JSON_DEPTH deep is accepted in every mode', async () => {
    const deep = nested(MAX_JSON_DEPTH);
    const event = `{"specversion":"1.0","id":"s2","source":"urn:t","type":"t","data":${deep}}`;
    for (const [path, headers, body] of [
      ['/v1/events/deep.s', { 'content-type': 'application/cloudevents+json' }, event],
      ['/v1/events/deep.b', { 'content-type': 'application/cloudevents-batch+json' }, `[${event}]`],
      ['/v1/events/deep.x', CE, deep],
    ] as Array<[string, Record<string, string>, string]>) {
      const a = await post(url, path, headers, body);
      expect(a.status, `${path}: ${a.text}`).to.equal(202);
    }
    await waitFor(() => got.length === 3, { what: 'three deep-but-allowed events' });
  });

  it('http gateway - a body that starts with a UTF-8 byte order mark is read without it', async () => {
    const bom = '\ufeff';
    const structured = await post(url, '/v1/events/deep.bom', { 'content-type': 'application/cloudevents+json' }, `${bom}{"specversion":"1.0","id":"b1","source":"urn:t","type":"t","data":{"n":2}}`);
    expect(structured.status, structured.text).to.equal(202);
    const binary = await post(url, '/v1/events/deep.bom', CE, `${bom}{"n":3}`);
    expect(binary.status, binary.text).to.equal(202);
    await waitFor(() => got.length === 2, { what: 'both BOM-prefixed events' });
    expect(got.map((e) => e.data)).to.deep.equal([{ n: 2 }, { n: 3 }]);
  });
});
