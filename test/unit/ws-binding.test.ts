import { expect } from 'chai';
import { EnvelopeInvalidError, HeaderInvalidError, type Envelope } from '../../core/index.js';
import {
  ackFrameText, deliveryFrameText, errorFrameText, toWebSocketEventText, fromWebSocketEvent, parseClientFrame, parseHubFrame, publishFrameText,
  replyFrameText, requestFrameText, subscribeFrameText, toWebSocketEvent, unsubscribeFrameText,
} from '../../transports/websocket/binding.js';
import { errorFromFrame, RemoteHubError } from '../../transports/websocket/errors.js';

const envelope: Envelope = {
  specversion: '1.0', id: 'evt-1', source: 'ingest@edge-1', type: 'sensor.reading', time: '2026-01-02T03:04:05.000Z',
  datacontenttype: 'application/json', tenant: 'acme', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  data: { t: 21.5, tags: ['roof'] },
};
const EVENT_TEXT = '{"specversion":"1.0","id":"evt-1","source":"ingest@edge-1","type":"sensor.reading","time":"2026-01-02T03:04:05.000Z",'
  + '"datacontenttype":"application/json","tenant":"acme","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",'
  + '"data":{"t":21.5,"tags":["roof"]}}';

function codeOf(fn: () => unknown): string | undefined {
  try { fn(); } catch (err) { return (err as { code?: string }).code; }
  return undefined;
}

describe('websocket binding', () => {
  it('ws binding - writes the golden structured event', () => {
    expect(toWebSocketEventText(envelope)).to.equal(EVENT_TEXT);
  });

  it('ws binding - writes the golden publish, request, reply, ack, subscribe and unsubscribe frames', () => {
    expect(publishFrameText(7, 'sensor.reading.berlin', envelope)).to.equal(`{"op":"pub","id":7,"subject":"sensor.reading.berlin","event":${EVENT_TEXT}}`);
    expect(requestFrameText(8, 'svc.add', 250, envelope)).to.equal(`{"op":"req","id":8,"subject":"svc.add","timeout":250,"event":${EVENT_TEXT}}`);
    expect(replyFrameText(9, envelope)).to.equal(`{"op":"reply","ref":9,"event":${EVENT_TEXT}}`);
    expect(ackFrameText([1, 'a', 3])).to.equal('{"op":"ack","ids":[1,"a",3]}');
    expect(subscribeFrameText({ id: 2, sid: 's1', pattern: 'sensor.*', group: 'g', inflight: 64 }))
      .to.equal('{"op":"sub","id":2,"sid":"s1","pattern":"sensor.*","group":"g","inflight":64}');
    expect(unsubscribeFrameText(3, 's1')).to.equal('{"op":"unsub","id":3,"sid":"s1"}');
  });

  it('ws binding - writes the golden delivery and error frames', () => {
    expect(deliveryFrameText('"s1"', 'a.b', 0, false, EVENT_TEXT)).to.equal(`{"op":"msg","sid":"s1","subject":"a.b","event":${EVENT_TEXT}}`);
    expect(deliveryFrameText('"s1"', 'a.b', 12, true, EVENT_TEXT)).to.equal(`{"op":"msg","sid":"s1","subject":"a.b","id":12,"req":true,"event":${EVENT_TEXT}}`);
    expect(errorFrameText(new HeaderInvalidError('bad header'), 4, 'evt-1'))
      .to.equal('{"op":"error","code":"SB_ERR_HEADER_INVALID","message":"bad header","ref":4,"eventid":"evt-1"}');
  });

  it('ws binding - reads the golden frames back into the same envelope', () => {
    const pub = parseClientFrame(publishFrameText(7, 'sensor.reading.berlin', envelope));
    expect(pub).to.deep.equal({ op: 'pub', id: 7, subject: 'sensor.reading.berlin', event: envelope, eventText: EVENT_TEXT });
    // Any other layout takes the general path (and has no relayable text).
    const spaced = parseClientFrame(`{ "op": "pub", "id": 7, "subject": "sensor.reading.berlin", "event": ${EVENT_TEXT} }`);
    expect(spaced).to.deep.equal({ op: 'pub', id: 7, subject: 'sensor.reading.berlin', event: envelope });
    // A second "event" after the canonical layout is no publish of the first (nor of the second): a repeated member.
    const trailing = (() => { try { return parseClientFrame(`{"op":"pub","id":7,"subject":"a","event":${EVENT_TEXT},"event":{"specversion":"1.0"}}`); } catch (err) { return err; } })();
    expect(trailing).to.be.instanceOf(EnvelopeInvalidError).and.to.deep.include({ details: { member: 'event', field: 'frame', ref: 7 } });
    const req = parseClientFrame(requestFrameText(8, 'svc.add', 250, envelope));
    expect(req).to.deep.equal({ op: 'req', id: 8, subject: 'svc.add', timeout: 250, event: envelope });
    expect(parseClientFrame(EVENT_TEXT)).to.deep.equal({ op: 'event', event: envelope });
    expect(parseClientFrame('{"op":"sub","sid":"x","pattern":"a.>","inflight":0,"bare":true}'))
      .to.deep.equal({ op: 'sub', id: undefined, sid: 'x', pattern: 'a.>', group: undefined, inflight: 0, bare: true });
    expect(parseClientFrame('{"op":"unsub","id":"u1","sid":"x"}')).to.deep.equal({ op: 'unsub', id: 'u1', sid: 'x' });
    expect(parseClientFrame('{"op":"ack","ids":[1,2]}')).to.deep.equal({ op: 'ack', ids: [1, 2] });
    expect(parseClientFrame(replyFrameText(5, envelope))).to.deep.equal({ op: 'reply', ref: 5, event: envelope });
    const msg = parseHubFrame(deliveryFrameText('"s1"', 'a.b', 12, true, EVENT_TEXT));
    expect(msg).to.deep.equal({ op: 'msg', sid: 's1', subject: 'a.b', id: 12, req: true, event: envelope });
  });

  it('ws binding - carries bytes as data_base64 both ways', () => {
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    const blob: Envelope = { specversion: '1.0', id: 'b', source: 's', type: 't', datacontenttype: 'application/octet-stream', data: bytes };
    const text = toWebSocketEventText(blob);
    expect(text).to.equal('{"specversion":"1.0","id":"b","source":"s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC+v8="}');
    const back = fromWebSocketEvent(JSON.parse(text));
    expect(back.data_base64).to.equal(undefined);
    expect(Buffer.from(back.data as Uint8Array).equals(Buffer.from(bytes))).to.equal(true);
  });

  it('ws binding - inlines JSON and text bytes from byte-carrying brokers', () => {
    const json = toWebSocketEvent({ specversion: '1.0', id: 'j', source: 's', type: 't', datacontenttype: 'application/json', data: new TextEncoder().encode('{"a":1}') });
    expect(json.data).to.deep.equal({ a: 1 });
    const text = toWebSocketEvent({ specversion: '1.0', id: 'x', source: 's', type: 't', datacontenttype: 'text/plain', data: new TextEncoder().encode('hé') });
    expect(text.data).to.equal('hé');
    const notJson = toWebSocketEvent({ specversion: '1.0', id: 'n', source: 's', type: 't', datacontenttype: 'application/json', data: Uint8Array.from([0xff]) });
    expect(notJson.data_base64).to.equal('/w==');
  });

  it('ws binding - turns number and boolean extensions into strings', () => {
    const e = fromWebSocketEvent({ specversion: '1.0', id: 'i', source: 's', type: 't', retries: 3, urgent: true, data: 5 });
    expect(e.retries).to.equal('3');
    expect(e.urgent).to.equal('true');
    expect(e.data).to.equal(5);
  });

  it('ws binding - rejects bad JSON with SB_ERR_CODEC_DECODE and malformed frames with SB_ERR_ENVELOPE_INVALID', () => {
    expect(codeOf(() => parseClientFrame('{"op":'))).to.equal('SB_ERR_CODEC_DECODE');
    expect(codeOf(() => parseClientFrame('[1,2]'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame('{"hello":1}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame('{"op":"pub","id":1,"event":"x"}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame('{"op":"req","event":{}}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame('{"op":"sub","sid":"s","pattern":"a","inflight":-1}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame('{"op":"ack","ids":[{}]}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    // A sid is kept by the hub and repeated in every delivery: 1-128 characters, like frame ids.
    const longSid = 's'.repeat(129);
    expect(codeOf(() => parseClientFrame(`{"op":"sub","id":1,"sid":"${longSid}","pattern":"a"}`))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame(`{"op":"unsub","id":1,"sid":"${longSid}"}`))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(codeOf(() => parseClientFrame('{"op":"sub","id":1,"sid":"","pattern":"a"}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    expect(parseClientFrame(`{"op":"sub","id":1,"sid":"${'s'.repeat(128)}","pattern":"a"}`)).to.include({ sid: 's'.repeat(128) });
    expect(codeOf(() => parseClientFrame('{"specversion":"1.0","data":1,"data_base64":"AA=="}'))).to.equal('SB_ERR_ENVELOPE_INVALID');
    // data_base64 is strict padded base64, as every binding reads it (Node's decoder takes almost anything).
    for (const lenient of ['-_8 !', 'AAEC-v8=', 'AAEC+v8', 'AA EC+v8=', 'AAEC+v8=\\n']) {
      expect(codeOf(() => parseClientFrame(`{"specversion":"1.0","id":"b","source":"s","type":"t","data_base64":"${lenient}"}`)), lenient).to.equal('SB_ERR_ENVELOPE_INVALID');
    }
  });

  it('ws binding - refuses a frame whose event repeats a member name with SB_ERR_ENVELOPE_INVALID naming it and the frame', () => {
    const twice = EVENT_TEXT.replace('"tenant":"acme"', '"tenant":"acme","tenant":"evil"');
    const errorOf = (text: string) => { try { parseClientFrame(text); } catch (err) { return err as EnvelopeInvalidError; } return undefined; };
    // The canonical publish (the hub's fast path), any other layout, a request, a reply and a bare event.
    for (const [text, details] of [
      [`{"op":"pub","id":7,"subject":"a.b","event":${twice}}`, { member: 'tenant', within: 'event', field: 'event', ref: 7 }],
      [`{"id":7,"op":"pub","subject":"a.b","event":${twice}}`, { member: 'tenant', within: 'event', field: 'event', ref: 7 }],
      [`{"op":"req","id":"q1","subject":"svc.add","event":${twice}}`, { member: 'tenant', within: 'event', field: 'event', ref: 'q1' }],
      [`{"op":"reply","ref":5,"event":${twice}}`, { member: 'tenant', within: 'event', field: 'event' }],
      [twice, { member: 'tenant', field: 'event' }],
      [EVENT_TEXT.replace('"id":"evt-1"', '"id":"evt-1","\\u0069d":"evt-2"'), { member: 'id', field: 'event' }],
    ] as const) {
      const err = errorOf(text);
      expect(err, text).to.be.instanceOf(EnvelopeInvalidError);
      expect(err!.code).to.equal('SB_ERR_ENVELOPE_INVALID');
      expect(err!.details, text).to.deep.equal(details);
    }
    // A frame repeating its own members: named by its id, unless the id is what repeats.
    expect(errorOf(`{"op":"pub","id":7,"subject":"a.b","subject":"c.d","event":${EVENT_TEXT}}`)?.details).to.deep.equal({ member: 'subject', field: 'frame', ref: 7 });
    expect(errorOf(`{"op":"pub","id":7,"id":8,"event":${EVENT_TEXT}}`)?.details).to.deep.equal({ member: 'id', field: 'frame' });
    expect(errorOf('{"op":"sub","id":1,"sid":"s","pattern":"a.>","pattern":"b.>"}')?.details).to.deep.equal({ member: 'pattern', field: 'frame', ref: 1 });
    // Without the repeat, and with data repeating names of its own (the payload), the frames pass.
    expect(parseClientFrame(`{"op":"pub","id":7,"subject":"a.b","event":${EVENT_TEXT}}`).op).to.equal('pub');
    const data = EVENT_TEXT.replace('"data":{"t":21.5,', '"data":{"t":21.5,"t":22,"x":{"tenant":1,"tenant":2},');
    expect(parseClientFrame(`{"op":"pub","id":7,"subject":"a.b","event":${data}}`)).to.have.nested.property('event.tenant', 'acme');
    expect(parseClientFrame(data).op).to.equal('event');
    // Bad JSON is still a decode error.
    expect(codeOf(() => parseClientFrame(`{"op":"pub","id":7,"id":8,"event":`))).to.equal('SB_ERR_CODEC_DECODE');
  });

  it('ws binding - names the frame id of a malformed frame so the error can refer to it', () => {
    try {
      parseClientFrame('{"op":"frobnicate","id":42}');
      expect.fail('should throw');
    } catch (err) {
      expect(err).to.be.instanceOf(EnvelopeInvalidError);
      expect((err as EnvelopeInvalidError).details?.ref).to.equal(42);
    }
  });

  it('ws binding - rebuilds typed errors from error frames by code', () => {
    expect(errorFromFrame('SB_ERR_HEADER_INVALID', 'x')).to.be.instanceOf(HeaderInvalidError);
    expect(errorFromFrame('SB_ERR_AUTH_FORBIDDEN', 'x').code).to.equal('SB_ERR_AUTH_FORBIDDEN');
    const unknown = errorFromFrame('SB_ERR_SOMETHING_NEW', 'x');
    expect(unknown).to.be.instanceOf(RemoteHubError);
    expect(unknown.code).to.equal('SB_ERR_SOMETHING_NEW');
  });
});
