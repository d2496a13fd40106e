import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mqttOptionsFromUrl, resolveMqttOptions, type MqttTransportOptions } from '../../transports/mqtt/index.js';

/** [code, details.field] of what `f` throws, undefined when it does not. */
function failure(f: () => unknown): [string, string] | undefined {
  try { f(); } catch (e) { return [(e as { code: string }).code, (e as { details: { field: string } }).details.field]; }
  return undefined;
}

describe('mqtt options', () => {
  it('mqtt options - a url with a query is refused: the constructor would ignore it (qos=1 silently QoS 0)', () => {
    expect(() => resolveMqttOptions({ url: 'mqtt://127.0.0.1:1883?protocolVersion=4&qos=1' })).to.throw(/carries a query.*transportFromUrl/)
      .with.property('code', 'SB_ERR_OPTIONS_INVALID');
    // What transportFromUrl hands the constructor has no query left.
    expect(() => resolveMqttOptions(mqttOptionsFromUrl(new URL('mqtt://127.0.0.1:1883?protocolVersion=4&qos=1')))).not.to.throw();
  });

  let dir: string;
  let pem: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'signalbus-mqtt-options-'));
    pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('mqtt options - credentials come from the URL, percent-decoded, unless given as options', () => {
    const fromUrl = resolveMqttOptions({ url: 'mqtts://gate%40way:p%40ss%3Aw%2Frd@broker:8883' });
    expect([fromUrl.username, fromUrl.password]).to.deep.equal(['gate@way', 'p@ss:w/rd']);
    const given = resolveMqttOptions({ url: 'mqtt://u:p@broker:1883', username: 'other', password: 'secret' });
    expect([given.username, given.password]).to.deep.equal(['other', 'secret']);
    const none = resolveMqttOptions({ url: 'mqtt://broker:1883' });
    expect(none).not.to.have.any.keys('username', 'password');
  });

  it('mqtt options - caFile/certFile/keyFile are read into ca/cert/key and do not stay in the resolved options', () => {
    const o = resolveMqttOptions({ url: 'mqtts://broker:8883', tls: { caFile: pem, certFile: pem, keyFile: pem } });
    for (const name of ['ca', 'cert', 'key'] as const) expect(Buffer.from(o.tls[name] as Buffer).toString()).to.contain('not checked here');
    expect(o.tls).not.to.have.any.keys('caFile', 'certFile', 'keyFile');
    const inline = resolveMqttOptions({ url: 'mqtts://broker:8883', tls: { ca: 'PEM' } });
    expect(inline.tls.ca).to.equal('PEM');
  });

  it('mqtt options - the URL parameters ca, cert and key name PEM files', () => {
    const q = new URLSearchParams({ ca: pem, cert: pem, key: pem, rejectUnauthorized: 'false' });
    const o = mqttOptionsFromUrl(new URL(`mqtts://u:p@broker:8883?${q}`));
    expect(o.url).to.equal('mqtts://u:p@broker:8883');
    expect([o.tls?.caFile, o.tls?.certFile, o.tls?.keyFile]).to.deep.equal([pem, pem, pem]);
    expect(o.tls?.rejectUnauthorized).to.equal(false);
  });

  it('mqtt options - bad TLS and credential combinations are OptionsInvalidErrors naming the field', () => {
    const missing = join(dir, 'missing.pem');
    const cases: Array<[MqttTransportOptions, string]> = [
      [{ url: 'mqtts://broker:8883', tls: { caFile: missing } }, 'tls.caFile'],
      [{ url: 'mqtts://broker:8883', tls: { certFile: missing, key: 'K' } }, 'tls.certFile'],
      [{ url: 'mqtts://broker:8883', tls: { cert: 'C', keyFile: missing } }, 'tls.keyFile'],
      [{ url: 'mqtts://broker:8883', tls: { caFile: '' } }, 'tls.caFile'],
      [{ url: 'mqtts://broker:8883', tls: { ca: 'PEM', caFile: pem } }, 'tls.caFile'],
      [{ url: 'mqtts://broker:8883', tls: { cert: 'C' } }, 'tls.key'],
      [{ url: 'mqtts://broker:8883', tls: { keyFile: pem } }, 'tls.cert'],
      [{ url: 'mqtt://broker:1883', tls: { caFile: pem } }, 'tls.ca'],
      [{ url: 'mqtt://broker:1883', protocolVersion: 4, password: 'secret' }, 'username'],
    ];
    for (const [options, field] of cases) expect(failure(() => resolveMqttOptions(options)), JSON.stringify(options)).to.deep.equal(['SB_ERR_OPTIONS_INVALID', field]);
    expect(failure(() => resolveMqttOptions(mqttOptionsFromUrl(new URL(`mqtts://broker:8883?ca=${encodeURIComponent(missing)}`))))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'tls.caFile']);
    expect(failure(() => resolveMqttOptions(mqttOptionsFromUrl(new URL('mqtts://broker:8883?key='))))).to.deep.equal(['SB_ERR_OPTIONS_INVALID', 'tls.keyFile']);
    // MQTT 5 allows a password without a user name
    expect(failure(() => resolveMqttOptions({ url: 'mqtt://broker:1883', password: 'secret' }))).to.equal(undefined);
  });
});
