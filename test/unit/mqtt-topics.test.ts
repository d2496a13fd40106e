import { expect } from 'chai';
import fc from 'fast-check';
import { brokerFilter, patternToFilter, subjectToTopic, topicMatchesFilter, topicToSubject } from '../../transports/mqtt/topics.js';
import { matchSubject } from '../../core/index.js';

const tokenChars = 'abcXYZ019_-~:@='.split('');
const token = fc.array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 6 }).map((a) => a.join(''));
const subject = fc.array(token, { minLength: 1, maxLength: 6 }).map((t) => t.join('.'));
const pattern = fc.array(fc.oneof(token, fc.constant('*')), { minLength: 1, maxLength: 5 })
  .chain((t) => fc.boolean().map((tail) => (tail ? [...t, '>'] : t).join('.')));

describe('mqtt topics', () => {
  it('mqtt topics - maps subjects and patterns to topics and filters', () => {
    expect(subjectToTopic('sensor.reading.berlin')).to.equal('sensor/reading/berlin');
    expect(patternToFilter('sensor.*.berlin')).to.equal('sensor/+/berlin');
    expect(patternToFilter('sensor.>')).to.equal('sensor/+/#');
    expect(topicToSubject('devices/sensor-7/telemetry')).to.equal('devices.sensor-7.telemetry');
    expect(brokerFilter('a/+', 'ingest')).to.equal('$share/ingest/a/+');
    expect(brokerFilter('a/+', undefined)).to.equal('a/+');
  });

  it('mqtt topics - topics that cannot be subjects map to undefined', () => {
    for (const t of ['a.b/c', 'a//b', 'a/b c', '/a']) expect(topicToSubject(t), t).to.equal(undefined);
  });

  it('mqtt topics - rejects group names that would break $share', () => {
    for (const g of ['a/b', 'a+', '#', '', 'a b']) expect(() => brokerFilter('x', g), g).to.throw().with.property('code', 'SB_ERR_OPTIONS_INVALID');
  });

  it('mqtt topics - subject -> topic -> subject is the identity (property)', () => {
    fc.assert(fc.property(subject, (s) => topicToSubject(subjectToTopic(s)) === s), { numRuns: 500 });
  });

  it('mqtt topics - an MQTT filter matches exactly the subjects the pattern matches (property)', () => {
    fc.assert(fc.property(pattern, subject, (p, s) => topicMatchesFilter(patternToFilter(p), subjectToTopic(s)) === matchSubject(p, s)), { numRuns: 2000 });
    // Generated pairs rarely match; check matching ones explicitly.
    fc.assert(fc.property(pattern, fc.array(token, { minLength: 1, maxLength: 3 }), (p, extra) => {
      const s = p.split('.').map((t, i) => (t === '*' || t === '>' ? extra[i % extra.length]! : t)).join('.');
      return topicMatchesFilter(patternToFilter(p), subjectToTopic(s)) === matchSubject(p, s);
    }), { numRuns: 1000 });
  });
});
