import { expect } from 'chai';
import { EnvelopeInvalidError, OptionsInvalidError, type Envelope } from '../../core/index.js';
import { fromRedisEntry, scanGlob, streamKey, subjectOfKey, toRedisEntry, wrapForeignEntry } from './binding.js';
import { redisStreamsOptionsFromUrl, resolveRedisStreamsOptions } from './options.js';

const b = (s: string) => Buffer.from(s);

/** One envelope with every standard attribute, an extension with spaces, `%` and non-ASCII, and binary data. */
const golden: Envelope = {
  specversion: '1.0', id: '7d4c1f5e-2b1a-4c3e-9f00-1a2b3c4d5e6f', source: 'ingest@edge-1', type: 'sensor.reading',
  time: '2025-11-13T10:00:00.000Z', subject: 'sensor-7', datacontenttype: 'application/octet-stream',
  dataschema: 'urn:signalbus:contract:sensor.reading:1.0.0', traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  tracestate: 'vendor=abc', correlationid: 'corr-1', causationid: 'cause-1', partitionkey: 'sensor-7', tenant: 'acme',
  myextension: 'value with spaces, % and ünïcode',
  data: Uint8Array.from([0, 1, 2, 0xfe, 0xff, 0x0d, 0x0a]),
};

/** The XADD field list of `golden`: attributes in envelope order, as they are, then the raw bytes. */
const goldenFields = [
  'specversion', '1.0', 'id', '7d4c1f5e-2b1a-4c3e-9f00-1a2b3c4d5e6f', 'source', 'ingest@edge-1', 'type', 'sensor.reading',
  'time', '2025-11-13T10:00:00.000Z', 'subject', 'sensor-7', 'datacontenttype', 'application/octet-stream',
  'dataschema', 'urn:signalbus:contract:sensor.reading:1.0.0', 'traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
  'tracestate', 'vendor=abc', 'correlationid', 'corr-1', 'causationid', 'cause-1', 'partitionkey', 'sensor-7', 'tenant', 'acme',
  'myextension', 'value with spaces, % and ünïcode',
  'data', Buffer.from([0, 1, 2, 0xfe, 0xff, 0x0d, 0x0a]),
];

/** What XREAD hands back for that entry: every field and value as a Buffer. */
const asRead = (fields: Array<string | Buffer>) => fields.map((f) => (typeof f === 'string' ? b(f) : f));

describe('redis-streams binding', () => {
  it('redis-streams binding - writes the golden field list, data as raw bytes last', () => {
    expect(toRedisEntry(golden)).to.deep.equal(goldenFields);
  });

  it('redis-streams binding - reads the golden field list back into the same envelope', () => {
    const { envelope, notCloudEvent, replyTo, expires, inReplyTo } = fromRedisEntry('sensor.reading.berlin', '1763028000000-0', asRead(goldenFields));
    expect(notCloudEvent).to.equal(undefined);
    expect([replyTo, expires, inReplyTo]).to.deep.equal([undefined, undefined, undefined]);
    const { data, ...attributes } = envelope;
    const { data: goldenData, ...goldenAttributes } = golden;
    expect(attributes).to.deep.equal(goldenAttributes);
    expect(Buffer.from(data as Uint8Array).equals(Buffer.from(goldenData as Uint8Array))).to.equal(true);
  });

  it('redis-streams binding - keeps an envelope without data without a data field, and empty data as empty bytes', () => {
    const bare: Envelope = { specversion: '1.0', id: '1', source: 's', type: 't' };
    expect(toRedisEntry(bare)).to.deep.equal(['specversion', '1.0', 'id', '1', 'source', 's', 'type', 't']);
    expect(fromRedisEntry('a', '1-0', asRead(toRedisEntry(bare))).envelope).to.deep.equal(bare);
    const empty = fromRedisEntry('a', '1-0', asRead(toRedisEntry({ ...bare, data: new Uint8Array(0) }))).envelope;
    expect((empty.data as Uint8Array).byteLength).to.equal(0);
  });

  it('redis-streams binding - carries request and reply fields under names no attribute can have', () => {
    const bare: Envelope = { specversion: '1.0', id: 'r1', source: 's', type: 't' };
    const fields = toRedisEntry(bare, { replyTo: 'sb:#reply.x', expires: 1763028000000, inReplyTo: 'q1' });
    expect(fields.slice(8)).to.deep.equal(['_replyto', 'sb:#reply.x', '_expires', '1763028000000', '_inreplyto', 'q1']);
    const back = fromRedisEntry('a', '1-0', asRead(fields));
    expect(back.envelope).to.deep.equal(bare);
    expect([back.replyTo, back.expires, back.inReplyTo]).to.deep.equal(['sb:#reply.x', 1763028000000, 'q1']);
  });

  it('redis-streams binding - refuses data that is not yet bytes', () => {
    expect(() => toRedisEntry({ specversion: '1.0', id: '1', source: 's', type: 't', data: { a: 1 } }))
      .to.throw().with.property('code', 'SB_ERR_ENVELOPE_INVALID');
  });

  it('redis-streams binding - an entry that is not a CloudEvent is wrapped, and says what is missing', () => {
    const foreign = asRead(['temperature', '21.5', 'unit', 'C']);
    expect(fromRedisEntry('devices.d1', '1763028000000-0', foreign).notCloudEvent?.code).to.equal('SB_ERR_ENVELOPE_INVALID');
    const noType = asRead(['specversion', '1.0', 'id', '1', 'source', 's']);
    expect(fromRedisEntry('a', '1-0', noType).notCloudEvent?.details?.attribute).to.equal('type');
    const v2 = asRead(['specversion', '2.0', 'id', '1', 'source', 's', 'type', 't']);
    const wrapped = fromRedisEntry('a', '1-0', v2);
    expect(wrapped.notCloudEvent?.details?.attribute).to.equal('specversion');
    expect(wrapped.envelope).to.include({ specversion: '1.0', id: '1-0', type: 'a', source: 'redis:a' });
  });

  it('redis-streams binding - wraps a foreign entry: fields as JSON, or a lone data field as bytes (golden)', () => {
    const decoded = fromRedisEntry('devices.d1', '1763028000000-3', asRead(['temperature', '21.5', 'unit', 'C']));
    expect(decoded.notCloudEvent).to.be.instanceOf(EnvelopeInvalidError);
    const { data, ...attributes } = decoded.envelope;
    expect(attributes).to.deep.equal({
      specversion: '1.0', id: '1763028000000-3', source: 'redis:devices.d1', type: 'devices.d1',
      time: '2025-11-13T10:00:00.000Z', datacontenttype: 'application/json',
    });
    expect(Buffer.from(data as Uint8Array).toString()).to.equal('{"temperature":"21.5","unit":"C"}');
    const lone = wrapForeignEntry('blobs', '1763028000000-0', [b('data'), Buffer.from([0xff, 0])]);
    expect(lone.datacontenttype).to.equal('application/octet-stream');
    expect([...(lone.data as Uint8Array)]).to.deep.equal([0xff, 0]);
  });

  it('redis-streams binding - maps subjects to stream keys and back, ignoring keys that are not subjects', () => {
    expect(streamKey('sb:', 'sensor.reading.berlin')).to.equal('sb:sensor.reading.berlin');
    expect(subjectOfKey('sb:', 'sb:sensor.reading.berlin')).to.equal('sensor.reading.berlin');
    expect(subjectOfKey('sb:', 'sb:#reply.0f3a')).to.equal(undefined);
    expect(subjectOfKey('sb:', 'other:sensor')).to.equal(undefined);
  });

  it('redis-streams binding - scans with the literal head of a pattern, glob characters of the prefix escaped', () => {
    expect(scanGlob('sb:', 'sensor.*.berlin')).to.equal('sb:sensor.*');
    expect(scanGlob('sb:', 'sensor.reading.>')).to.equal('sb:sensor.reading.*');
    expect(scanGlob('sb:', '*.x')).to.equal('sb:*');
    expect(scanGlob('app[1]:', 'a.>')).to.equal('app\\[1\\]:a.*');
  });
});

describe('redis-streams options', () => {
  it('redis-streams options - fills defaults and reads URL query parameters', () => {
    expect(resolveRedisStreamsOptions()).to.deep.include({ keyPrefix: 'sb:', maxLen: 100_000, claimIdleMs: 30_000 });
    const o = redisStreamsOptionsFromUrl(new URL('redis://127.0.0.1:6380/2?keyPrefix=app1:&maxLen=500&claimIdleMs=1000'));
    expect(o).to.deep.include({ url: 'redis://127.0.0.1:6380/2', keyPrefix: 'app1:', maxLen: 500, claimIdleMs: 1000 });
  });

  it('redis-streams options - rejects bad values with an error naming the field', () => {
    for (const [bad, field] of [[{ maxLen: -1 }, 'maxLen'], [{ keyPrefix: '' }, 'keyPrefix'], [{ url: 'http://x' }, 'url'],
      [{ claimIdleMs: 5 }, 'claimIdleMs'], [{ patternRefreshMs: 1.5 }, 'patternRefreshMs']] as const) {
      const err = (() => { try { resolveRedisStreamsOptions(bad); } catch (e) { return e; } })();
      expect(err, field).to.be.instanceOf(OptionsInvalidError);
      expect((err as OptionsInvalidError).details?.field).to.equal(field);
    }
    expect(() => redisStreamsOptionsFromUrl(new URL('redis://h?maxLen=lots'))).to.throw(OptionsInvalidError);
  });
});
