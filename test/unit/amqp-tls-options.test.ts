import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { OptionsInvalidError } from '../../core/index.js';
import { AmqpTransport, amqpOptionsFromUrl, resolveAmqpOptions, type AmqpTransportOptions } from '../../transports/amqp/index.js';
import { describeTlsFailure } from '../../transports/amqp/tls.js';

const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

const rejection = (options: AmqpTransportOptions): OptionsInvalidError => {
  try { resolveAmqpOptions(options); } catch (e) { expect(e).to.be.instanceOf(OptionsInvalidError); return e as OptionsInvalidError; }
  throw new Error('expected OptionsInvalidError');
};

describe('amqp TLS options', () => {
  let dir: string;
  let ca: string;
  let cert: string;
  let key: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'signalbus-amqp-tls-options-'));
    [ca, cert, key] = ['ca.pem', 'cert.pem', 'key.pem'].map((f) => { writeFileSync(join(dir, f), PEM.replace('MIIB', f)); return join(dir, f); }) as [string, string, string];
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('amqp TLS options - tls.caFile, certFile and keyFile are read into tls.ca/cert/key, next to other tls options', () => {
    const o = resolveAmqpOptions({ url: 'amqps://h', tls: { caFile: ca, certFile: cert, keyFile: key, servername: 'broker.example' } });
    expect(String(o.tls?.ca)).to.include('ca.pem');
    expect(String(o.tls?.cert)).to.include('cert.pem');
    expect(String(o.tls?.key)).to.include('key.pem');
    expect(o.tls?.servername).to.equal('broker.example');
    expect(o.tls).to.not.have.property('caFile');
    expect(resolveAmqpOptions({ url: 'amqps://h' }).tls).to.equal(undefined);
  });

  it('amqp TLS options - a missing or non-PEM file is an OptionsInvalidError naming the field and the path', () => {
    const missing = rejection({ url: 'amqps://h', tls: { caFile: join(dir, 'nope.pem') } });
    expect(missing.details).to.include({ field: 'tls.caFile', path: join(dir, 'nope.pem') });
    expect((missing.cause as NodeJS.ErrnoException | undefined)?.code, 'the cause').to.equal('ENOENT');
    expect(rejection({ url: 'amqps://h', tls: { caFile: join(dir, 'not-pem.txt') } }).details?.field).to.equal('tls.caFile');
    expect(rejection({ url: 'amqps://h', tls: { caFile: '' } }).details?.field).to.equal('tls.caFile');
    expect(rejection({ url: 'amqps://h', tls: { certFile: cert, keyFile: join(dir, 'nope.pem') } }).details?.field).to.equal('tls.keyFile');
    // The same from a URL (pipeline JSON carries URLs): the error names the URL parameter.
    expect(() => new AmqpTransport(amqpOptionsFromUrl(new URL(`amqps://h/?caFile=${encodeURIComponent(join(dir, 'nope.pem'))}`))))
      .to.throw(OptionsInvalidError).with.property('details').that.includes({ field: 'tls.caFile' });
  });

  it('amqp TLS options - a client certificate needs its key, and a PEM is given once (contents or file)', () => {
    expect(rejection({ url: 'amqps://h', tls: { certFile: cert } }).details?.field).to.equal('tls.key');
    expect(rejection({ url: 'amqps://h', tls: { keyFile: key } }).details?.field).to.equal('tls.cert');
    expect(rejection({ url: 'amqps://h', tls: { caFile: ca, ca: PEM } }).details?.field).to.equal('tls.caFile');
  });

  it('amqp TLS options - TLS options with amqp:// are refused (they would be ignored and the connection clear text)', () => {
    expect(rejection({ url: 'amqp://h', tls: { caFile: ca } }).details?.field).to.equal('tls');
    expect(rejection({ url: 'amqp://h', tls: { rejectUnauthorized: true } }).details?.field).to.equal('tls');
  });

  it('amqp TLS options - the URL parameters caFile/certFile/keyFile become options and leave the URL', () => {
    const o = amqpOptionsFromUrl(new URL(`amqps://u:p@h:5671/v?durable=1&caFile=${encodeURIComponent(ca)}&certFile=${encodeURIComponent(cert)}&keyFile=${encodeURIComponent(key)}&frameMax=8192`));
    expect(o.tls).to.include({ caFile: ca, certFile: cert, keyFile: key });
    expect(o.durable).to.equal(true);
    expect(o.url).to.equal('amqps://u:p@h:5671/v?frameMax=8192');
    expect(String(resolveAmqpOptions(o).tls?.ca)).to.include('ca.pem');
  });

  it('amqp TLS options - TLS failures are described by what to do about them', () => {
    const tlsError = (code: string, message: string) => Object.assign(new Error(message), { code });
    expect(describeTlsFailure(tlsError('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain'))?.text)
      .to.include("the broker's certificate was refused").and.to.include('caFile');
    expect(describeTlsFailure(tlsError('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
      '80:error:0A00045C:SSL routines:ssl3_read_bytes:tlsv13 alert certificate required:../deps/openssl/rec_layer_s3.c:1601:SSL alert number 116\n'))?.text)
      .to.equal('TLS: the broker requires a client certificate (ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: tlsv13 alert certificate required); give certFile and keyFile (or tls.cert and tls.key)');
    expect(describeTlsFailure(tlsError('ERR_SSL_TLSV13_ALERT_UNKNOWN_CA', 'x'))?.text).to.include('refused the client certificate');
    expect(describeTlsFailure(tlsError('ECONNREFUSED', 'connect ECONNREFUSED'))).to.equal(undefined);
    expect(describeTlsFailure(new Error('no code'))).to.equal(undefined);
  });
});
