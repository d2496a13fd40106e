import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  isJsonContentType, mediaType, reconnectDelayMs, reconnectOptionsFromUrl, resolveReconnectOptions, resolveTlsOptions, tlsOptionsFromUrl,
  type ResolvedReconnectOptions,
} from '../../core/index.js';
import { amqpOptionsFromUrl } from '../../transports/amqp/index.js';
import { httpOptionsFromUrl } from '../../transports/http/index.js';
import { mqttOptionsFromUrl } from '../../transports/mqtt/index.js';
import { natsOptionsFromUrl } from '../../transports/nats/index.js';
import { webSocketOptionsFromUrl } from '../../transports/websocket/index.js';

const DEFAULTS: ResolvedReconnectOptions = { initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0.5, maxAttempts: Number.POSITIVE_INFINITY };

/** details.field of the OptionsInvalidError `f` throws. */
function fieldOf(f: () => unknown): string | undefined {
  try { f(); } catch (e) { expect((e as { code?: string }).code).to.equal('SB_ERR_OPTIONS_INVALID'); return (e as { details: { field: string } }).details.field; }
  return undefined;
}

describe('transport options', () => {
  let dir: string;
  let pem: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'signalbus-transport-options-'));
    pem = join(dir, 'ca.pem');
    writeFileSync(pem, '-----BEGIN CERTIFICATE-----\nnot checked here\n-----END CERTIFICATE-----\n');
    writeFileSync(join(dir, 'not-pem.txt'), 'hello');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('transport options - reconnect fills the transport defaults and names the bad field', () => {
    expect(resolveReconnectOptions('x', { maxDelayMs: 800 }, DEFAULTS)).to.deep.equal({ ...DEFAULTS, maxDelayMs: 800 });
    expect(fieldOf(() => resolveReconnectOptions('x', { initialDelayMs: 900, maxDelayMs: 800 }, DEFAULTS))).to.equal('reconnect.maxDelayMs');
    expect(fieldOf(() => resolveReconnectOptions('x', { jitter: 2 }, DEFAULTS))).to.equal('reconnect.jitter');
    expect(fieldOf(() => resolveReconnectOptions('x', { multiplier: 0.5 }, DEFAULTS))).to.equal('reconnect.multiplier');
    expect(fieldOf(() => resolveReconnectOptions('x', { initialDelay: 5 } as never, DEFAULTS))).to.equal('reconnect.initialDelay');
    expect(resolveReconnectOptions('x', { maxAttempts: 0 }, DEFAULTS).maxAttempts).to.equal(0);
    // A transport that reconnects for as long as it is open refuses a finite maxAttempts instead of ignoring it.
    expect(fieldOf(() => resolveReconnectOptions('x', { maxAttempts: 3 }, DEFAULTS, false))).to.equal('reconnect.maxAttempts');
  });

  it('transport options - the reconnect delay doubles up to the cap, jitter taking its share off the top', () => {
    const exact = { ...DEFAULTS, jitter: 0 };
    expect([1, 2, 3, 4, 10, 100].map((n) => reconnectDelayMs(exact, n))).to.deep.equal([100, 200, 400, 800, 5000, 5000]);
    expect(reconnectDelayMs(DEFAULTS, 3, () => 0)).to.equal(200);
    expect(reconnectDelayMs(DEFAULTS, 3, () => 1)).to.equal(400);
  });

  it('transport options - tls reads its files once and refuses what cannot work, naming the field', () => {
    const tls = resolveTlsOptions('x', { caFile: pem, servername: 'broker.example' });
    expect(String(tls.ca)).to.contain('not checked here');
    expect(tls).to.include({ rejectUnauthorized: true, servername: 'broker.example' });
    expect(tls).not.to.have.property('caFile');
    expect(fieldOf(() => resolveTlsOptions('x', { caFile: join(dir, 'missing.pem') }))).to.equal('tls.caFile');
    expect(fieldOf(() => resolveTlsOptions('x', { caFile: join(dir, 'not-pem.txt') }))).to.equal('tls.caFile');
    expect(fieldOf(() => resolveTlsOptions('x', { ca: 'PEM', caFile: pem }))).to.equal('tls.caFile');
    expect(fieldOf(() => resolveTlsOptions('x', { certFile: pem }))).to.equal('tls.key');
    expect(fieldOf(() => resolveTlsOptions('x', { ca: 'PEM' }, { server: true }))).to.equal('tls.cert');
    expect(fieldOf(() => resolveTlsOptions('x', { minVersion: 'TLSv1.3' } as never))).to.equal('tls.minVersion');
  });

  it('transport options - URL parameters use the option names, flattened', () => {
    const url = new URL('x://h?reconnectInitialDelayMs=10&reconnectMaxDelayMs=20&reconnectMaxAttempts=3&caFile=/ca.pem&rejectUnauthorized=false');
    expect(reconnectOptionsFromUrl(url)).to.deep.equal({ initialDelayMs: 10, maxDelayMs: 20, maxAttempts: 3 });
    expect(tlsOptionsFromUrl(url)).to.deep.equal({ caFile: '/ca.pem', rejectUnauthorized: false });
    expect(reconnectOptionsFromUrl(new URL('x://h'))).to.equal(undefined);
    expect(tlsOptionsFromUrl(new URL('x://h'))).to.equal(undefined);
    const q = 'reconnectMaxDelayMs=700&maxBufferedPublishes=7';
    expect(natsOptionsFromUrl(new URL(`nats://h?${q}`))).to.include({ maxBufferedPublishes: 7 }).and.to.have.deep.property('reconnect', { maxDelayMs: 700 });
    expect(mqttOptionsFromUrl(new URL(`mqtt://h?${q}`))).to.include({ maxBufferedPublishes: 7 }).and.to.have.deep.property('reconnect', { maxDelayMs: 700 });
    expect(webSocketOptionsFromUrl(new URL(`ws://h/?${q}&access_token=t`))).to.deep.include({ maxBufferedPublishes: 7, reconnect: { maxDelayMs: 700 }, url: 'ws://h/?access_token=t' });
    expect(httpOptionsFromUrl(new URL('https://h?caFile=/ca.pem&reconnectMaxDelayMs=700'))).to.deep.include({ tls: { caFile: '/ca.pem' }, reconnect: { maxDelayMs: 700 } });
    expect(amqpOptionsFromUrl(new URL('amqps://h?caFile=/ca.pem&reconnectMaxDelayMs=700'))).to.deep.include({ tls: { caFile: '/ca.pem' }, reconnect: { maxDelayMs: 700 } });
  });

  it('transport options - URL spellings the READMEs promised before are still read', () => {
    expect(webSocketOptionsFromUrl(new URL('ws://h/?maxPendingPublishes=5&reconnectDelayMs=50'))).to.deep.include({
      maxBufferedPublishes: 5, reconnect: { initialDelayMs: 50 }, url: 'ws://h/',
    });
    expect(mqttOptionsFromUrl(new URL(`mqtts://h?shared=false&keepalive=9&connectTimeout=99&sessionExpiry=60&maxOfflineQueue=4&ca=${pem}`))).to.deep.include({
      sharedSubscriptions: false, keepaliveSeconds: 9, connectTimeoutMs: 99, sessionExpirySeconds: 60, maxBufferedPublishes: 4, tls: { caFile: pem },
    });
    expect(amqpOptionsFromUrl(new URL('amqp://h?heartbeat=3&name=edge'))).to.include({ heartbeatSeconds: 3, connectionName: 'edge' });
    expect(httpOptionsFromUrl(new URL('http://h?concurrency=8')).maxConcurrency).to.equal(8);
  });

  it('transport options - one JSON test for every binding: application/json, +json and no content type', () => {
    for (const ct of [undefined, 'application/json', 'Application/JSON; charset=utf-8', 'application/cloudevents+json']) expect(isJsonContentType(ct), String(ct)).to.equal(true);
    for (const ct of ['text/plain', 'application/octet-stream', 'application/protobuf', 'text/json']) expect(isJsonContentType(ct), ct).to.equal(false);
    expect(mediaType(' Text/Plain ; charset=utf-8')).to.equal('text/plain');
  });
});
