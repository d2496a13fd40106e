import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { fromJsonEvent, toJsonEvent } from '../../transports/http/binding.js';

const event = (data_base64: unknown) => ({ specversion: '1.0', id: '1', source: 's', type: 't', data_base64 });
const fail = (f: () => unknown) => { try { f(); return null; } catch (e) { return e as { code?: string; details?: Record<string, unknown> }; } };

describe('http binding data_base64', () => {
  it('http binding - refuses data_base64 outside strict padded base64 (RFC 4648 §4)', () => {
    for (const bad of ['@@@!!', '-_-_', 'AAE', 'A', 'AA=A', 'AAEC=', 'A===', '====', 'AA EC', 'AAEC\n', 'AAÉC']) {
      const err = fail(() => fromJsonEvent(event(bad)));
      expect(err?.code, JSON.stringify(bad)).to.equal('SB_ERR_ENVELOPE_INVALID');
      expect(err?.details?.attribute).to.equal('data_base64');
    }
  });

  it('http binding - round-trips any bytes through data_base64, a megabyte too', () => {
    for (const n of [0, 1, 2, 3, 4, 1024 * 1024]) {
      const data = new Uint8Array(randomBytes(n));
      const json = toJsonEvent({ specversion: '1.0', id: '1', source: 's', type: 't', datacontenttype: 'application/octet-stream', data });
      expect(fromJsonEvent(json).data, String(n)).to.deep.equal(data);
    }
  });
});
