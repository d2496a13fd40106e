import { expect } from 'chai';
import fc from 'fast-check';
import { headers as natsHeaders, MsgHdrsImpl } from 'nats';
import { SignalbusError } from '../../core/index.js';
import { fromNatsHeaderText, fromNatsMessage, toNatsHeaders, type DecodedNatsMessage } from '../../transports/nats/binding.js';
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

const headerBlock = fc.oneof(mutated(validBlock, 6), mutated(handWritten, 3), arbitraryBytes);

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
