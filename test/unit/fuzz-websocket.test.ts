import { expect } from 'chai';
import fc from 'fast-check';
import WsClient, { type WebSocket } from 'ws';
import { WebSocketHub } from '../../hub/index.js';
import { CLOSE_CODES, SUBPROTOCOL } from '../../transports/websocket/index.js';
import { Bus, defaultCodecs } from '../../core/index.js';
import { HubConnection, type HubSettings } from '../../hub/hub-connection.js';
import { MemoryBroker, MemoryTransport } from '../../transports/memory/index.js';
import {
  ackFrameText, parseClientFrame, parseHubFrame, publishFrameText, requestFrameText, subscribeFrameText, unsubscribeFrameText,
} from '../../transports/websocket/binding.js';
import {
  deepJson, expectEnvelopeOrTypedError, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, jsonEventObject, mutatedText, oddValue,
} from '../helpers/fuzz.js';
import { silentLogger } from '../helpers/silent-logger.js';

const envelope = fc.record({
  specversion: fc.constant('1.0'), id: fc.uuid(), source: fc.constant('urn:fuzz'), type: fc.constant('t'), subject: fc.constantFrom('a.b', 'a.*', ''),
  datacontenttype: fc.constantFrom('application/json', 'text/plain', 'application/octet-stream'),
  data: fc.constantFrom('{"t":1}', 'x').map((s) => new TextEncoder().encode(s)),
});

/** The frames the documented client writes, each kind. */
const validFrame = fc.oneof(
  fc.tuple(fc.nat(), fc.constantFrom('a.b', 'x.y.z'), envelope).map(([id, subject, e]) => publishFrameText(id, subject, e)),
  fc.tuple(fc.nat(), fc.constantFrom('a.b'), fc.integer({ min: 1, max: 50 }), envelope).map(([id, subject, t, e]) => requestFrameText(id, subject, t, e)),
  fc.tuple(fc.nat(), fc.constantFrom('s1', 's2'), fc.constantFrom('a.>', 'a.*', '>'), fc.nat(3), fc.boolean())
    .map(([id, sid, pattern, inflight, bare]) => subscribeFrameText({ id, sid, pattern, inflight, bare })),
  fc.tuple(fc.nat(), fc.constantFrom('s1', 's2')).map(([id, sid]) => unsubscribeFrameText(id, sid)),
  fc.array(fc.nat(), { maxLength: 3 }).map((ids) => ackFrameText(ids)),
  jsonEventObject.map((e) => JSON.stringify(e)),
);

/** Frames with every member swapped for odd values (wrong types, prototype names, huge numbers). */
const oddFrame = fc.record({
  op: fc.oneof(fc.constantFrom('pub', 'sub', 'unsub', 'req', 'ack', 'reply', 'event', 'msg', 'error', '__proto__', 'toString'), oddValue),
  id: oddValue, ref: oddValue, sid: oddValue, pattern: oddValue, group: oddValue, subject: oddValue, timeout: fc.oneof(oddValue, fc.constant(1e308)),
  inflight: oddValue, bare: oddValue, ids: fc.oneof(oddValue, fc.array(oddValue, { maxLength: 3 })), event: fc.oneof(jsonEventObject, oddValue),
}, { requiredKeys: [] }).map((f) => JSON.stringify(f));

const frameText = fc.oneof(
  mutatedText(validFrame, 6), validFrame, oddFrame, hostileString,
  deepJson.map((t) => `{"op":"pub","id":1,"subject":"a.b","event":{"specversion":"1.0","id":"1","source":"s","type":"t","data":${t}}}`),
  deepJson,
);

/** A `ws` stand-in for the hub side: records what the hub sends. */
function fakeWs(sent: string[]): WebSocket {
  return {
    bufferedAmount: 0, readyState: 1, OPEN: 1, CLOSED: 3,
    send(text: string) { sent.push(text); }, close() {}, terminate() {}, ping() {}, once() {},
  } as unknown as WebSocket;
}

describe('fuzz - WebSocket frames', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('ws fuzz - any client frame text gives a frame or a typed error', () => {
    fc.assert(fc.property(frameText, (text) => { expectEnvelopeOrTypedError(() => parseClientFrame(text)); }), fuzzParams(500));
  });

  it('ws fuzz - any hub frame text gives a frame or a typed error (the client side)', () => {
    fc.assert(fc.property(frameText, (text) => { expectEnvelopeOrTypedError(() => parseHubFrame(text)); }), fuzzParams(300, 0.2));
  });
});

describe('fuzz - hub protocol', function () {
  this.timeout(FUZZ_TIMEOUT_MS);
  let bus: Bus;
  let settings: HubSettings;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => { unhandled.push(reason); };

  before(async () => {
    bus = new Bus({ service: 'hub-fuzz', transport: new MemoryTransport({ broker: new MemoryBroker() }), metrics: false, logger: silentLogger });
    await bus.start();
    settings = {
      bus, codecs: defaultCodecs, logger: silentLogger, authenticated: false, maxBufferedBytes: 1024 * 1024, maxQueuedPerSubscription: 10,
      maxSubscriptionsPerConnection: 4, requestTimeoutMs: 20, maxRequestTimeoutMs: 20, relay: {},
    };
    process.on('unhandledRejection', onUnhandled);
  });
  after(async () => {
    process.off('unhandledRejection', onUnhandled);
    await bus.stop();
  });

  it('hub fuzz - any sequence of frames on one connection is answered with JSON frames; every error frame carries the typed code of what refused it', async () => {
    await fc.assert(fc.asyncProperty(fc.array(frameText, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean(), async (texts, binary, authed) => {
      const sent: string[] = [];
      // Authenticated: a tenant scoped to `a.` subjects, stamped on what it publishes.
      const conn = authed
        ? new HubConnection({ ...settings, authenticated: true }, fakeWs(sent), { principal: 'fuzz', tenant: 'acme', subjectPrefix: 'a.' })
        : new HubConnection(settings, fakeWs(sent), undefined);
      try {
        for (const text of texts) conn.onFrame(Buffer.from(text, 'utf8'), binary && text.length % 7 === 0);
        // Requests time out after 20 ms; everything else answers within a few turns.
        await new Promise((resolve) => setTimeout(resolve, texts.some((t) => t.includes('"req"')) ? 40 : 1));
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        conn.cleanup();
      }
      for (const text of sent) {
        const frame = JSON.parse(text) as { op?: string; code?: string };
        if (frame.op !== 'error') continue;
        // errorCode() turns an untyped throw into SB_ERR_HANDLER_FAILED: no hub operation runs a handler.
        expect(frame.code, text).to.match(/^SB_ERR_[A-Z0-9_]+$/).and.not.equal('SB_ERR_HANDLER_FAILED');
      }
      expect(unhandled, 'unhandled rejections').to.deep.equal([]);
    }), fuzzParams(150, 0.1));
  });
});

describe('fuzz - hub memory bound', () => {
  it('hub - a frame over maxPayloadBytes closes the connection with 1009 instead of being buffered', async () => {
    const hub = new WebSocketHub({ port: 0, maxPayloadBytes: 1024, logger: silentLogger });
    await hub.listen();
    try {
      const ws = new WsClient(hub.url, SUBPROTOCOL);
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      ws.send(JSON.stringify({ specversion: '1.0', id: '1', source: 's', type: 't', subject: 'a.b', data: 'x'.repeat(4096) }));
      expect(await closed).to.equal(CLOSE_CODES.messageTooBig);
    } finally {
      await hub.close();
    }
  });
});
