import { expect } from 'chai';
import fc from 'fast-check';
import {
  compilePattern, deadLetterSubject, fromHttpPath, MAX_SUBJECT_LENGTH, fromMqttTopic, PatternInvalidError, SubjectInvalidError, toAmqpRoutingKey, toHttpPath,
  toMqttTopic, validatePattern, validateSubject,
} from '../../core/index.js';

const tokenChars = 'abcXYZ019_-~:@='.split('');
const token = fc.array(fc.constantFrom(...tokenChars), { minLength: 1, maxLength: 5 }).map((cs) => cs.join(''));
const subject = fc.array(token, { minLength: 1, maxLength: 5 }).map((ts) => ts.join('.'));
/** Patterns drawn from a small alphabet so that they often match the subjects drawn likewise. */
const smallToken = fc.constantFrom('a', 'b', 'c');
const smallSubject = fc.array(smallToken, { minLength: 1, maxLength: 4 }).map((ts) => ts.join('.'));
const smallPattern = fc.tuple(fc.array(fc.constantFrom('a', 'b', 'c', '*'), { minLength: 0, maxLength: 4 }), fc.boolean())
  .filter(([ts, tail]) => ts.length > 0 || tail)
  .map(([ts, tail]) => [...ts, ...(tail ? ['>'] : [])].join('.'));

/** MQTT 5 topic filter matching (spec 4.7), written independently of core. */
function mqttMatches(filter: string, topic: string): boolean {
  const f = filter.split('/'); const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // matches the parent and any number of levels
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/** RabbitMQ topic exchange matching: `*` one word, `#` zero or more words. */
function amqpMatches(key: string, routingKey: string): boolean {
  const p = key.split('.'); const w = routingKey.split('.');
  const go = (i: number, j: number): boolean => {
    if (i === p.length) return j === w.length;
    if (p[i] === '#') return go(i + 1, j) || (j < w.length && go(i, j + 1));
    if (j === w.length) return false;
    return (p[i] === '*' || p[i] === w[j]) && go(i + 1, j + 1);
  };
  return go(0, 0);
}

describe('subjects', () => {
  it('subjects - accepts canonical subjects and rejects bad ones with a typed error', () => {
    for (const s of ['a', 'sensor.reading.berlin', 'a-b_c~d:e@f=g.X1']) expect(() => validateSubject(s)).not.to.throw();
    for (const s of ['', '.a', 'a.', 'a..b', 'a.*', 'a.>', 'a b', 'a/b', 'a.b#', 'x'.repeat(256), 'ä']) {
      expect(() => validateSubject(s), JSON.stringify(s)).to.throw(SubjectInvalidError);
    }
  });

  it('subjects - a dead-letter subject is dlq.<subject>, cut to MAX_SUBJECT_LENGTH for a foreign publisher\'s longer subject', () => {
    expect(deadLetterSubject('sensor.reading')).to.equal('dlq.sensor.reading');
    expect(deadLetterSubject('a.b', 'dead')).to.equal('dead.a.b');
    const fits = 'x'.repeat(MAX_SUBJECT_LENGTH - 4);
    expect(deadLetterSubject(fits)).to.equal(`dlq.${fits}`);
    // Cut to fit, every token before the cut kept (and no empty last token).
    const tokens = Array.from({ length: 400 }, (_, i) => `t${i}`).join('.');
    const cut = deadLetterSubject(tokens);
    expect(cut.length).to.be.oneOf([MAX_SUBJECT_LENGTH, MAX_SUBJECT_LENGTH - 1]);
    expect(tokens.startsWith(cut.slice(4))).to.equal(true);
    expect(cut.endsWith('.')).to.equal(false);
    expect(deadLetterSubject(`acme.${'z'.repeat(300)}`).startsWith('dlq.acme.z')).to.equal(true);
    expect(deadLetterSubject('y'.repeat(4080))).to.equal(`dlq.${'y'.repeat(MAX_SUBJECT_LENGTH - 4)}`);
    fc.assert(fc.property(fc.array(token, { minLength: 1, maxLength: 200 }).map((ts) => ts.join('.')), (s) => {
      const d = deadLetterSubject(s);
      return d.length <= Math.max(MAX_SUBJECT_LENGTH, s.length + 4) && d.startsWith('dlq.') && s.startsWith(d.slice(4)) && (s.length > MAX_SUBJECT_LENGTH - 4 || d === `dlq.${s}`);
    }));
  });

  it('subjects - validates patterns: * stands alone, > only last', () => {
    for (const p of ['a.*', 'a.>', '*', '>', '*.b.>', 'a.b']) expect(() => validatePattern(p)).not.to.throw();
    for (const p of ['a.>.b', 'a*', 'a.b*', '>a', 'a..*', '']) expect(() => validatePattern(p), p).to.throw(PatternInvalidError);
  });

  it('subjects - matches * as one token and > as one or more trailing tokens', () => {
    const m = compilePattern('sensor.*.berlin');
    expect(m('sensor.reading.berlin')).to.equal(true);
    expect(m('sensor.reading.x.berlin')).to.equal(false);
    const t = compilePattern('sensor.>');
    expect(t('sensor')).to.equal(false);
    expect(t('sensor.a')).to.equal(true);
    expect(t('sensor.a.b')).to.equal(true);
    expect(compilePattern('>')('anything.at.all')).to.equal(true);
  });

  it('subjects - a pattern matches exactly what MQTT would match after mapping (property)', () => {
    fc.assert(fc.property(smallPattern, smallSubject, (p, s) => {
      expect(compilePattern(p)(s)).to.equal(mqttMatches(toMqttTopic(p), toMqttTopic(s)));
    }), { numRuns: 2000 });
  });

  it('subjects - a pattern matches exactly what a RabbitMQ topic exchange would match after mapping (property)', () => {
    fc.assert(fc.property(smallPattern, smallSubject, (p, s) => {
      expect(compilePattern(p)(s)).to.equal(amqpMatches(toAmqpRoutingKey(p), toAmqpRoutingKey(s)));
    }), { numRuns: 2000 });
  });

  it('subjects - MQTT topic and HTTP path mappings round-trip (property)', () => {
    fc.assert(fc.property(subject, (s) => {
      expect(fromMqttTopic(toMqttTopic(s))).to.equal(s);
      expect(fromHttpPath(toHttpPath(s))).to.equal(s);
    }), { numRuns: 1000 });
  });

  it('subjects - maps wildcards to each broker syntax', () => {
    expect(toMqttTopic('a.*.b.>')).to.equal('a/+/b/+/#');
    expect(toAmqpRoutingKey('a.*.b.>')).to.equal('a.*.b.*.#');
    expect(toAmqpRoutingKey('>')).to.equal('*.#');
    expect(toHttpPath('a.*.>')).to.equal('/v1/events/a.*.%3E');
    expect(() => fromMqttTopic('devices/a.b/telemetry')).to.throw(SubjectInvalidError);
    expect(() => fromHttpPath('/v2/x')).to.throw(SubjectInvalidError);
  });
});
