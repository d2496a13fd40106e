import { expect } from 'chai';
import fc from 'fast-check';
import { headers as natsHeaders, MsgHdrsImpl } from 'nats';
import { DEFAULT_HEADER_LIMITS, inboundProblem, inboundRefusal, publishedUnder, SignalbusError, withValidTrace } from '../../core/index.js';
import {
  fromNatsHeaderBytes, fromNatsHeaderText, fromNatsHeaderTextByReader, fromNatsMessage, HeaderShapes, MAX_HEADER_BLOCK_BYTES, toNatsHeaders, type DecodedNatsMessage,
} from '../../transports/nats/binding.js';
import {
  arbitraryBytes, attributeName, expectEnvelopeOrTypedError, expectValidatable, FUZZ_TIMEOUT_MS, fuzzParams, hostileString, mutated,
} from '../helpers/fuzz.js';

/** Header blocks toNatsHeaders writes for events with hostile attribute values (percent-encoded on the way out). */
const validBlock = fc.tuple(
  fc.record({ id: fc.oneof(fc.uuid(), hostileString), subject: hostileString, datacontenttype: fc.constantFrom('application/json', 'text/plain; charset=ü') }, { requiredKeys: ['id'] }),
  fc.array(fc.tuple(fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }).filter((s) => /^[a-z0-9]+$/.test(s)), hostileString), { maxLength: 3 }),
  fc.boolean(),
).map(([e, ext, withMsgId]) => {
  const env: Record<string, string> = { specversion: '1.0', source: 'urn:fuzz', type: 't', ...e };
  for (const [k, v] of ext) env[k] = v;
  return Buffer.from(toNatsHeaders(env as never, withMsgId, withMsgId ? '_INBOX.x' : undefined), 'utf8');
});

/** Lines as a hostile publisher writes them: any names and values, `%` escapes good and bad, no or odd separators. */
const handWritten = fc.array(fc.tuple(fc.oneof(attributeName.map((a) => `ce-${a}`), fc.constantFrom('Content-Type', 'Nats-Msg-Id', 'sb-reply-to', 'CE-ID', 'ce-'), hostileString), hostileString), { maxLength: 6 })
  .chain((lines) => fc.constantFrom('\r\n', '\n', '\r').map((eol) => Buffer.from(`NATS/1.0${eol}${lines.map(([k, v]) => `${k}: ${v}`).join(eol)}${eol}${eol}`, 'utf8')));

/**
 * Blocks near the form the one-pass reader takes (printable ASCII, no `%`): its edges are what
 * this generates — repeats, 20/21-character names, upper case, spaces around values, values and
 * totals at the limits, more than 64 attributes, missing required attributes, reply and msg-id lines.
 */
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 24 });
const commonValue = fc.oneof({ arbitrary: printable, weight: 6 },
  { arbitrary: fc.constantFrom('', ' x', 'x ', '1.0', 'x'.repeat(4096), 'x'.repeat(4097), 'y'.repeat(3000)), weight: 1 });
const commonName = fc.oneof(
  { arbitrary: fc.integer({ min: 0, max: 99 }).map((i) => `ce-x${i}`), weight: 6 },
  { arbitrary: fc.constantFrom('ce-specversion', 'ce-id', 'ce-source', 'ce-type', 'ce-time', 'ce-traceparent', 'ce-datacontenttype', 'ce-constructor', 'content-type',
    'sb-reply-to', 'Nats-Msg-Id', 'CE-ID', 'Ce-Type', 'ce-', `ce-${'a'.repeat(20)}`, `ce-${'a'.repeat(21)}`, 'ce-a_b', 'x-other'), weight: 2 },
);
const twice = (name: string): Array<[string, string, string]> => [[name, 'a', ': '], [name, 'b', ': ']];
const commonBlock = fc.tuple(
  fc.array(fc.tuple(commonName, commonValue, fc.constantFrom(': ', ': ', ':', ':  ')), { maxLength: 6 }),
  fc.boolean(),
  fc.constantFrom(0, 0, 63, 64, 65), // lines: at, one under and one over maxAttributes
  fc.constantFrom(0, 0, 16_384, 16_385, 16_385), // attribute characters: around maxTotalLength
  fc.constantFrom([], [], twice('sb-reply-to'), twice('content-type'), twice('Nats-Msg-Id'), twice('ce-id')),
).map(([lines, required, count, total, pair]) => {
  const all: Array<[string, string, string]> = required ? [['ce-specversion', '1.0', ': '], ['ce-id', 'i', ': '], ['ce-source', 's', ': '], ['ce-type', 't', ': '], ...lines, ...pair] : [...lines, ...pair];
  for (let i = 0; all.length < count; i++) all.push([`ce-e${i}`, 'v', ': ']);
  const chars = (k: string, v: string) => (k === 'content-type' ? 12 : k.startsWith('ce-') ? k.length - 3 : 0) + v.length;
  let sum = all.reduce((n, [k, v]) => n + chars(k, v), 0);
  for (let i = 0; total - sum > `f${i}`.length; i++) { // pads with ce-fN values up to exactly `total`
    const value = 'f'.repeat(Math.min(4096, total - sum - `f${i}`.length));
    all.push([`ce-f${i}`, value, ': ']);
    sum += chars(`ce-f${i}`, value);
  }
  return Buffer.from(`NATS/1.0\r\n${all.map(([k, v, sep]) => `${k}${sep}${v}\r\n`).join('')}\r\n`, 'latin1');
});

const headerBlock = fc.oneof(mutated(validBlock, 6), mutated(handWritten, 3), arbitraryBytes, commonBlock, mutated(commonBlock, 2));

function checkDecoded(value: DecodedNatsMessage): void {
  const e = value.envelope;
  for (const name of ['specversion', 'id', 'source', 'type'] as const) expect(e[name], name).to.be.a('string');
  if (value.notCloudEvent !== undefined) expect(value.notCloudEvent).to.be.instanceOf(SignalbusError);
  expectValidatable(e);
}

describe('fuzz - NATS header block', function () {
  this.timeout(FUZZ_TIMEOUT_MS);

  it('nats fuzz - any header block (fast path, raw text) gives an envelope, never a throw', () => {
    fc.assert(fc.property(headerBlock, arbitraryBytes, fc.boolean(), (block, body, stored) => {
      const text = block.toString('utf8');
      const { value } = expectEnvelopeOrTypedError(() => fromNatsHeaderText('a.b', text, body, stored ? { stream: 'S', streamSequence: 7 } : undefined));
      if (value) checkDecoded(value);
    }), fuzzParams(500));
  });

  it('nats fuzz - the one-pass reader of common blocks decodes exactly as the AttributeReader does', () => {
    // Same envelope (key order included), reply subject, CloudEvent verdict, refusal and inbound verdict.
    const outcome = (d: DecodedNatsMessage) => ({
      keys: Object.keys(d.envelope), envelope: d.envelope, replyTo: d.replyTo, notCloudEvent: d.notCloudEvent?.code,
      refused: inboundRefusal(d.envelope)?.message, problem: inboundProblem(d.envelope)?.message,
    });
    fc.assert(fc.property(fc.oneof(headerBlock, commonBlock, commonBlock), arbitraryBytes, (block, body) => {
      const text = block.toString('utf8');
      let fast: DecodedNatsMessage | undefined; let fastErr: unknown;
      let full: DecodedNatsMessage | undefined; let fullErr: unknown;
      try { fast = fromNatsHeaderText('a.b', text, body); } catch (err) { fastErr = err; }
      try { full = fromNatsHeaderTextByReader('a.b', text, body); } catch (err) { fullErr = err; }
      expect(String(fastErr)).to.equal(String(fullErr));
      if (fast === undefined || full === undefined) return;
      const a = outcome(fast); const b = outcome(full);
      if (a.notCloudEvent !== undefined) { a.envelope = { ...a.envelope, id: '', time: '' }; b.envelope = { ...b.envelope, id: '', time: '' }; } // made up afresh each time
      expect(a).to.deep.equal(b);
    }), fuzzParams(1000));
  });

  it('nats fuzz - blocks in sequence, as publishers send them, read as the AttributeReader reads each one (what the reader learns from a block never changes a later verdict)', () => {
    // A few shapes (names, order, separators) and values drawn from small pools, so lines repeat,
    // vary, equal an earlier line's value or break the rules from one block to the next; now and
    // then a block mutated byte by byte. Each block is read by both readers straight after the last.
    const outcome = (d: DecodedNatsMessage) => ({
      keys: Object.keys(d.envelope), envelope: d.envelope, replyTo: d.replyTo, notCloudEvent: d.notCloudEvent?.code,
      refused: inboundRefusal(d.envelope)?.message, problem: inboundProblem(d.envelope)?.message,
    });
    const separator = fc.constantFrom(': ', ': ', ':', ':  ');
    // Times and traceparents the Bus takes, and ones it does not (or not as RFC 3339 / version 00).
    const traced = ['2026-12-05T21:28:23.336Z', '2026-13-05T21:28:23Z', 'Sat, 05 Dec 2026 21:28:23 GMT', '2026-12-05T21:28:23+01:00',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', `00-${'0'.repeat(32)}-00f067aa0ba902b7-01`, '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', '01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x', '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01'];
    const anyValue = fc.oneof({ arbitrary: fc.constantFrom('a', 'b', 'x y', '', '%41', 'a ', ' ', '1.0', 'x'.repeat(4097)), weight: 3 }, { arbitrary: fc.constantFrom(...traced), weight: 2 }, { arbitrary: commonValue, weight: 1 });
    // A shape: its lines (name, separator, usual value), the four required ones included but now and then one.
    const required: Array<[string, string, string]> = [['ce-specversion', ': ', '1.0'], ['ce-id', ': ', 'i'], ['ce-source', ': ', 's'], ['ce-type', ': ', 't']];
    const shape = fc.tuple(fc.array(fc.tuple(fc.oneof(commonName, fc.constantFrom('ce-time', 'ce-traceparent')), separator, anyValue), { maxLength: 5 }), fc.nat(15))
      .map(([extra, drop]) => [...required.filter((_, i) => i !== drop), ...extra])
      .chain((lines) => fc.shuffledSubarray(lines, { minLength: lines.length, maxLength: lines.length }));
    // A block: one of the shapes, each line with its usual value, another, or the value of an earlier line; now and then an odd line end, or mutated.
    const lineEnd = fc.oneof({ arbitrary: fc.constant('\r\n'), weight: 20 }, { arbitrary: fc.constantFrom('\n', '\r', ' \r\n', '\r\n\r\n', '\r\r\n'), weight: 1 });
    const sequence = fc.array(shape, { minLength: 1, maxLength: 3 }).chain((shapes) => fc.array(
      fc.tuple(fc.nat(shapes.length - 1), fc.array(fc.tuple(fc.nat(5), anyValue, fc.nat(9), lineEnd), { minLength: 10, maxLength: 10 }), fc.oneof({ arbitrary: fc.constant(0), weight: 5 }, { arbitrary: fc.nat(3), weight: 1 }))
        .chain(([s, choices, edits]) => {
          const values: string[] = [];
          for (const [i, [, , usual]] of shapes[s]!.entries()) {
            const [kind, other, earlier] = choices[i]!;
            values.push(kind <= 3 ? usual : kind === 4 || i === 0 ? other : values[earlier % i]!);
          }
          const text = Buffer.from(`NATS/1.0\r\n${shapes[s]!.map(([k, sep], i) => `${k}${sep}${values[i]}${choices[i]![3]}`).join('')}\r\n`, 'latin1');
          return edits === 0 ? fc.constant(text) : mutated(fc.constant(text), edits);
        }),
      { minLength: 2, maxLength: 12 }));
    fc.assert(fc.property(sequence, (blocks) => {
      const shapes = new HeaderShapes(); // a subscription's
      for (const block of blocks) {
        const text = block.toString('utf8');
        let fast: DecodedNatsMessage | undefined; let fastErr: unknown;
        let full: DecodedNatsMessage | undefined; let fullErr: unknown;
        try { fast = fromNatsHeaderText('a.b', text, new Uint8Array(0), undefined, shapes); } catch (err) { fastErr = err; }
        try { full = fromNatsHeaderTextByReader('a.b', text, new Uint8Array(0)); } catch (err) { fullErr = err; }
        expect(String(fastErr)).to.equal(String(fullErr));
        if (fast === undefined || full === undefined) continue;
        const a = outcome(fast); const b = outcome(full);
        if (a.notCloudEvent !== undefined) { a.envelope = { ...a.envelope, id: '', time: '' }; b.envelope = { ...b.envelope, id: '', time: '' }; }
        expect(a, JSON.stringify(text)).to.deep.equal(b);
        // One the Bus will not check again must need no check: no problem, a traceparent it keeps.
        if (publishedUnder(fast.envelope, DEFAULT_HEADER_LIMITS)) {
          expect(inboundProblem(fast.envelope), JSON.stringify(text)).to.equal(undefined);
          expect(withValidTrace(fast.envelope), JSON.stringify(text)).to.equal(fast.envelope);
        }
      }
    }), fuzzParams(500));
  });

  it('nats fuzz - from the block\'s bytes (a Buffer as nats.js gives, or a view) the envelope is the one its UTF-8 text gives, or the block is refused as not UTF-8', () => {
    // fromNatsHeaderBytes reads a common block as latin1 and everything else as UTF-8: the two must never differ from the text.
    const outcome = (d: DecodedNatsMessage) => ({
      keys: Object.keys(d.envelope), envelope: d.envelope, replyTo: d.replyTo, notCloudEvent: d.notCloudEvent?.code, refused: inboundRefusal(d.envelope)?.message,
    });
    const madeUp = (o: ReturnType<typeof outcome>) => (o.notCloudEvent === undefined ? o : { ...o, envelope: { ...o.envelope, id: '', time: '' } });
    fc.assert(fc.property(fc.oneof(headerBlock, commonBlock, validBlock), arbitraryBytes, fc.nat(8), (block, body, offset) => {
      // The block sits inside a larger buffer, followed by its body, as in nats.js' message buffer.
      const raw = Buffer.concat([Buffer.alloc(offset, 0xff), block, body]).subarray(offset);
      const view = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
      const fromBuffer = madeUp(outcome(fromNatsHeaderBytes('a.b', raw, block.length, raw.subarray(block.length))));
      expect(madeUp(outcome(fromNatsHeaderBytes('a.b', view, block.length, view.subarray(block.length))))).to.deep.equal(fromBuffer);
      const text = block.toString('utf8');
      if (text.includes('\uFFFD') && !Buffer.from(text, 'utf8').equals(block)) {
        expect(fromBuffer.refused).to.match(/not valid UTF-8/);
      } else if (block.length <= MAX_HEADER_BLOCK_BYTES) {
        expect(fromBuffer).to.deep.equal(madeUp(outcome(fromNatsHeaderText('a.b', text, raw.subarray(block.length)))));
      }
    }), fuzzParams(1000));
  });

  it('nats fuzz - the same block through nats.js\'s header parser gives an envelope too', () => {
    fc.assert(fc.property(headerBlock, arbitraryBytes, (block, body) => {
      let parsed: MsgHdrsImpl;
      try { parsed = MsgHdrsImpl.decode(new Uint8Array(block)); } catch { return; } // nats.js refuses it: it never reaches the binding
      const { value } = expectEnvelopeOrTypedError(() => fromNatsMessage('a.b', parsed, body));
      if (value) checkDecoded(value);
    }), fuzzParams(300));
  });

  it('nats fuzz - any header entries (repeats, empty value lists, prototype names) give an envelope', () => {
    const entries = fc.array(fc.tuple(fc.oneof(attributeName.map((a) => `ce-${a}`), hostileString), fc.array(hostileString, { maxLength: 2 })), { maxLength: 8 });
    fc.assert(fc.property(entries, (list) => {
      const { value } = expectEnvelopeOrTypedError(() => fromNatsMessage('a.b', list, new Uint8Array(0)));
      if (value) checkDecoded(value);
    }), fuzzParams(300));
  });

  it('nats fuzz - headers built with nats.js headers() round-trip (sanity of the generator)', () => {
    const h = natsHeaders();
    h.set('ce-specversion', '1.0'); h.set('ce-id', '1'); h.set('ce-source', 's'); h.set('ce-type', 't');
    const { value } = expectEnvelopeOrTypedError(() => fromNatsHeaderText('a.b', new TextDecoder().decode((h as MsgHdrsImpl).encode()), new Uint8Array(0)));
    expect(value!.notCloudEvent).to.equal(undefined);
  });
});
