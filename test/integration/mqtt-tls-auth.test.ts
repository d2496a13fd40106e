import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { tmpdir } from 'node:os';
import { createEnvelope, type Envelope, type Transport } from '../../core/index.js';
import { transportFromUrl } from '../../transports/index.js';
import { MqttTransport, type MqttTransportOptions } from '../../transports/mqtt/index.js';
import { missingPrerequisite, portOpen } from '../helpers/brokers.js';
import {
  makeForeignCertificates, makeTestCertificates, requireOpenssl, type ForeignCertificates, type TestCertificates,
} from '../helpers/tls-certs.js';
import { freePort } from '../helpers/nats-server-process.js';
import { silentLogger } from '../helpers/silent-logger.js';
import { sleep } from '../helpers/wait.js';

const te = new TextEncoder();
const td = new TextDecoder();

/** The user the password listeners know; the password has characters a URL must percent-encode. */
const USER = 'gateway-7';
const PASSWORD = 'p@ss:w/rd %42';

/** A program on PATH or in the sbin directories Debian installs Mosquitto into. */
function findProgram(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/usr/bin'];
  for (const dir of dirs) {
    const file = join(dir, name);
    try { accessSync(file, constants.X_OK); return file; } catch { /* not here */ }
  }
  return undefined;
}

type ListenerName = 'tls' | 'mutualTls' | 'password' | 'tlsPassword';

/**
 * One Mosquitto process with four listeners on free ports, each with its own settings
 * (`per_listener_settings`): TLS, TLS requiring a client certificate, a password file in clear
 * text, and TLS with a password file.
 */
class TlsAuthMosquitto {
  private constructor(readonly ports: Record<ListenerName, number>, private readonly child: ChildProcess) {}

  static async start(binary: string, dir: string, certs: TestCertificates, passwordFile: string): Promise<TlsAuthMosquitto> {
    const ports = { tls: await freePort(), mutualTls: await freePort(), password: await freePort(), tlsPassword: await freePort() };
    const tls = [`cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`];
    const lines = [
      'per_listener_settings true', 'persistence false', `log_dest file ${join(dir, 'mosquitto.log')}`,
      `listener ${ports.tls} 127.0.0.1`, 'allow_anonymous true', ...tls,
      `listener ${ports.mutualTls} 127.0.0.1`, 'allow_anonymous true', ...tls, 'require_certificate true',
      `listener ${ports.password} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwordFile}`,
      `listener ${ports.tlsPassword} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwordFile}`, ...tls,
    ];
    const config = join(dir, 'mosquitto.conf');
    writeFileSync(config, `${lines.join('\n')}\n`);
    // Started as root, Mosquitto drops to its own user, which must still read the files and write the log.
    chmodSync(dir, 0o777);
    for (const f of readdirSync(dir)) chmodSync(join(dir, f), 0o644);
    const child = spawn(binary, ['-c', config], { stdio: 'ignore' });
    const broker = new TlsAuthMosquitto(ports, child);
    const deadline = Date.now() + 10_000;
    for (const port of Object.values(ports)) {
      while (!(await portOpen(port, '127.0.0.1', 200))) {
        const log = () => (existsSync(join(dir, 'mosquitto.log')) ? readFileSync(join(dir, 'mosquitto.log'), 'utf8') : '(no log)');
        if (child.exitCode !== null) throw new Error(`mosquitto exited with ${child.exitCode}:\n${log()}`);
        if (Date.now() > deadline) { await broker.stop(); throw new Error(`mosquitto did not listen on ${port}:\n${log()}`); }
        await sleep(50); // polling: the process gives no other sign it is up
      }
    }
    return broker;
  }

  url(listener: ListenerName, credentials = ''): string {
    return `${listener === 'password' ? 'mqtt' : 'mqtts'}://${credentials}127.0.0.1:${this.ports[listener]}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    await new Promise<void>((resolve) => { this.child.once('exit', () => resolve()); this.child.kill('SIGTERM'); });
  }
}

type TransportError = Error & { code?: string; cause?: Error & { code?: string }; details?: Record<string, unknown> };

const transportFor = (options: MqttTransportOptions | string): Promise<Transport> => (typeof options === 'string'
  ? transportFromUrl(options) : Promise.resolve(new MqttTransport({ connectTimeoutMs: 3000, logger: silentLogger, ...options })));

/** Connects, subscribes, publishes one event and returns what the subscription received. */
async function roundTrip(options: MqttTransportOptions | string): Promise<Envelope> {
  const t = await transportFor(options);
  const subject = `secure.hello.${randomUUID().slice(0, 8)}`;
  try {
    await t.connect();
    let deliver!: (env: Envelope) => void;
    const received = new Promise<Envelope>((resolve) => { deliver = resolve; });
    // subscribe() resolves on the broker's SUBACK, so the publish cannot overtake it.
    await t.subscribe(subject, async (m) => { deliver(m.envelope); await m.ack(); }, { maxInFlight: 10 });
    await t.publish(subject, createEnvelope({ type: 'greeting', source: 'mqtt-tls-auth-test', data: te.encode('hi'), datacontenttype: 'text/plain' }));
    return await Promise.race([received, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no delivery in 5 s')), 5000))]);
  } finally {
    await t.close();
  }
}

/** The error a connect attempt fails with (null when it connects). */
async function connectError(options: MqttTransportOptions | string): Promise<TransportError | null> {
  let t: Transport;
  try { t = await transportFor(options); } catch (e) { return e as TransportError; }
  return t.connect().then(async () => { await t.close(); return null; }, async (e) => { await t.close(); return e as TransportError; });
}

const VERSIONS = [[5, 'MQTT 5'], [4, 'MQTT 3.1.1']] as const;
/** What Mosquitto may answer refused credentials with: bad user name or password, or not authorized. */
const AUTH_REASON_CODES = { 5: [0x86, 0x87], 4: [4, 5] } as const;

describe('mqtt TLS and auth (own mosquitto)', function () {
  this.timeout(30_000);
  let dir: string;
  let certs: TestCertificates;
  /** A second CA the broker does not trust, and a client certificate it signed. */
  let rogue: ForeignCertificates;
  let broker: TlsAuthMosquitto | undefined;

  before(async function () {
    const mosquitto = findProgram('mosquitto');
    const passwd = findProgram('mosquitto_passwd');
    if (!mosquitto || !passwd) missingPrerequisite(this, 'mosquitto or mosquitto_passwd is not installed (these cases start their own Mosquitto)');
    requireOpenssl(this);
    dir = mkdtempSync(join(tmpdir(), 'signalbus-mqtt-tls-'));
    certs = makeTestCertificates(dir);
    rogue = makeForeignCertificates(join(dir, 'rogue'), 'some other CA');
    const passwordFile = join(dir, 'passwd');
    writeFileSync(passwordFile, '');
    execFileSync(passwd, ['-b', passwordFile, USER, PASSWORD], { stdio: 'pipe' });
    broker = await TlsAuthMosquitto.start(mosquitto, dir, certs, passwordFile);
  });
  after(async () => {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  describe('TLS', () => {
    for (const [protocolVersion, label] of VERSIONS) {
      it(`mqtt tls - with the private CA a publish/subscribe round trip works (${label})`, async () => {
        const env = await roundTrip({ url: broker!.url('tls'), protocolVersion, tls: { ca: readFileSync(certs.ca) } });
        expect(env.type).to.equal('greeting');
        expect(td.decode(env.data as Uint8Array)).to.equal('hi');
      });
    }

    it('mqtt tls - caFile and the ?ca= URL parameter name the CA by its path', async () => {
      expect(td.decode((await roundTrip({ url: broker!.url('tls'), tls: { caFile: certs.ca } })).data as Uint8Array)).to.equal('hi');
      const url = `${broker!.url('tls')}?protocolVersion=4&ca=${encodeURIComponent(certs.ca)}`;
      expect(td.decode((await roundTrip(url)).data as Uint8Array)).to.equal('hi');
    });

    it('mqtt tls - without the CA, or with another CA, the broker certificate is refused with a TransportConnectError', async () => {
      for (const options of [{}, { tls: { caFile: rogue.ca } }]) {
        const err = await connectError({ url: broker!.url('tls'), ...options });
        expect(err, JSON.stringify(options)).to.be.instanceOf(Error);
        expect(err?.code, JSON.stringify(options)).to.equal('SB_ERR_TRANSPORT_CONNECT');
        // the TLS verification failure itself, not a timeout
        expect(err?.cause?.code, JSON.stringify(options)).to.be.oneOf(['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);
      }
    });

    it('mqtt tls - a host name the broker certificate does not name is refused', async () => {
      const err = await connectError({ url: `mqtts://localhost:${broker!.ports.tls}`, tls: { caFile: certs.ca } });
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_CONNECT');
      expect(err?.cause?.code).to.equal('ERR_TLS_CERT_ALTNAME_INVALID');
    });

    it('mqtt tls - rejectUnauthorized=false connects without the CA (in code and in the URL)', async () => {
      expect(td.decode((await roundTrip({ url: broker!.url('tls'), tls: { rejectUnauthorized: false } })).data as Uint8Array)).to.equal('hi');
      expect(td.decode((await roundTrip(`${broker!.url('tls')}?rejectUnauthorized=false`)).data as Uint8Array)).to.equal('hi');
    });
  });

  describe('mutual TLS', () => {
    for (const [protocolVersion, label] of VERSIONS) {
      it(`mqtt mutual tls - a client certificate signed by the CA connects and a round trip works (${label})`, async () => {
        const env = await roundTrip({
          url: broker!.url('mutualTls'), protocolVersion, tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) },
        });
        expect(td.decode(env.data as Uint8Array)).to.equal('hi');
      });
    }

    it('mqtt mutual tls - certFile/keyFile and the ?cert=&key= URL parameters work', async () => {
      const files = { caFile: certs.ca, certFile: certs.clientCert, keyFile: certs.clientKey };
      expect(td.decode((await roundTrip({ url: broker!.url('mutualTls'), tls: files })).data as Uint8Array)).to.equal('hi');
      const q = new URLSearchParams({ ca: certs.ca, cert: certs.clientCert, key: certs.clientKey });
      expect(td.decode((await roundTrip(`${broker!.url('mutualTls')}?${q}`)).data as Uint8Array)).to.equal('hi');
    });

    it('mqtt mutual tls - no client certificate, or one from another CA, is refused with a TransportConnectError', async () => {
      const cases = { none: { caFile: certs.ca }, rogue: { caFile: certs.ca, certFile: rogue.clientCert, keyFile: rogue.clientKey } };
      for (const [name, files] of Object.entries(cases)) {
        const err = await connectError({ url: broker!.url('mutualTls'), tls: files });
        expect(err, name).to.be.instanceOf(Error);
        expect(err?.code, name).to.equal('SB_ERR_TRANSPORT_CONNECT');
        // the broker's TLS alert (certificate required / unknown CA), not a timeout
        expect(err?.cause?.code, name).to.match(/^ERR_SSL_TLSV1\d*_ALERT_/);
      }
    });
  });

  describe('username and password', () => {
    const credentials = `${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}@`;

    for (const [protocolVersion, label] of VERSIONS) {
      it(`mqtt auth - the right username and password connect and a round trip works (${label})`, async () => {
        const env = await roundTrip({ url: broker!.url('password'), protocolVersion, username: USER, password: PASSWORD });
        expect(td.decode(env.data as Uint8Array)).to.equal('hi');
      });

      it(`mqtt auth - a wrong password is a TransportAuthError naming the reason code (${label})`, async () => {
        const err = await connectError({ url: broker!.url('password'), protocolVersion, username: USER, password: 'wrong-password' });
        expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
        const reasonCode = err?.details?.reasonCode as number;
        expect(reasonCode).to.be.oneOf([...AUTH_REASON_CODES[protocolVersion]]);
        expect(err?.details?.reason).to.equal(reasonCode === 4 || reasonCode === 0x86 ? 'bad user name or password' : 'not authorized');
      });

      it(`mqtt auth - mqtts://user:pass@ in the URL: right connects, wrong is a TransportAuthError with the password kept out (${label})`, async () => {
        const ca = `ca=${encodeURIComponent(certs.ca)}&protocolVersion=${protocolVersion}`;
        const env = await roundTrip(`${broker!.url('tlsPassword', credentials)}?${ca}`);
        expect(td.decode(env.data as Uint8Array)).to.equal('hi');
        const wrong = `not-${PASSWORD}`;
        const err = await connectError(`${broker!.url('tlsPassword', `${encodeURIComponent(USER)}:${encodeURIComponent(wrong)}@`)}?${ca}`);
        expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
        expect(err?.details?.reasonCode).to.be.oneOf([...AUTH_REASON_CODES[protocolVersion]]);
        const shown = JSON.stringify({ message: err?.message, details: err?.details });
        expect(shown).not.to.contain(wrong).and.not.to.contain(encodeURIComponent(wrong));
        expect(shown).to.contain(':***@');
      });
    }

    it('mqtt auth - no credentials on a listener that requires them is a TransportAuthError', async () => {
      for (const [protocolVersion] of VERSIONS) {
        const err = await connectError({ url: broker!.url('password'), protocolVersion });
        expect(err?.code, `v${protocolVersion}`).to.equal('SB_ERR_TRANSPORT_AUTH');
        expect(err?.details?.reasonCode, `v${protocolVersion}`).to.be.oneOf([...AUTH_REASON_CODES[protocolVersion]]);
      }
    });

    it('mqtt auth - an unknown user is a TransportAuthError', async () => {
      const err = await connectError({ url: broker!.url('password'), username: 'nobody', password: PASSWORD });
      expect(err?.code).to.equal('SB_ERR_TRANSPORT_AUTH');
    });
  });

  describe('files that cannot be read', () => {
    it('mqtt tls - a missing caFile/certFile/keyFile or ?ca=/?cert=/?key= file is an OptionsInvalidError naming the field', async () => {
      const missing = join(dir, 'missing.pem');
      const cases: Array<[MqttTransportOptions | string, string]> = [
        [{ url: broker!.url('tls'), tls: { caFile: missing } }, 'tls.caFile'],
        [{ url: broker!.url('mutualTls'), tls: { caFile: certs.ca, certFile: missing, keyFile: certs.clientKey } }, 'tls.certFile'],
        [{ url: broker!.url('mutualTls'), tls: { caFile: certs.ca, certFile: certs.clientCert, keyFile: missing } }, 'tls.keyFile'],
        [`${broker!.url('tls')}?ca=${encodeURIComponent(missing)}`, 'tls.caFile'],
        [`${broker!.url('mutualTls')}?cert=${encodeURIComponent(missing)}&key=${encodeURIComponent(certs.clientKey)}`, 'tls.certFile'],
        [`${broker!.url('mutualTls')}?cert=${encodeURIComponent(certs.clientCert)}&key=${encodeURIComponent(missing)}`, 'tls.keyFile'],
      ];
      for (const [options, field] of cases) {
        const err = await connectError(options);
        expect(err?.code, field).to.equal('SB_ERR_OPTIONS_INVALID');
        expect(err?.details?.field, field).to.equal(field);
      }
    });
  });
});
