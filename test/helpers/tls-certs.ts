/**
 * A private CA and the certificates it signs, made with the `openssl` command, for integration
 * tests that start their own TLS brokers on 127.0.0.1.
 *
 * @example
 * requireOpenssl(this);                       // in a suite's before(function () {…})
 * const certs = makeTestCertificates(dir);    // certs.ca, certs.serverCert, certs.clientKey, …
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of the PEM files `makeTestCertificates` wrote. */
export interface TestCertificates {
  ca: string;
  caKey: string;
  /** Valid for IP 127.0.0.1 only, so a host name (localhost) does not match it. */
  serverCert: string;
  serverKey: string;
  /** For mutual TLS (extendedKeyUsage clientAuth). */
  clientCert: string;
  clientKey: string;
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

export function opensslAvailable(): boolean {
  try { openssl('.', 'version'); return true; } catch { return false; }
}

/**
 * Call from a suite's `before` (with `function () {}`). Without openssl: under CI=true the suite
 * fails; elsewhere it is skipped.
 */
export function requireOpenssl(ctx: Mocha.Context): void {
  if (opensslAvailable()) return;
  if (process.env.CI === 'true') throw new Error('openssl is missing (CI=true: integration suites must not skip)');
  ctx.skip(); // reason: the certificates are generated with the openssl command, which is not installed
}

/** Writes a new CA (valid one day) and a server and a client certificate it signed into `dir`. */
export function makeTestCertificates(dir: string, caName = 'signalbus test CA'): TestCertificates {
  mkdirSync(dir, { recursive: true });
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${caName}`, '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  const sign = (name: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`);
    openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1',
      '-extfile', `${name}.ext`, '-out', `${name}.pem`);
  };
  sign('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  sign('client', 'extendedKeyUsage=clientAuth\n');
  const at = (f: string) => join(dir, f);
  return {
    ca: at('ca.pem'), caKey: at('ca-key.pem'), serverCert: at('server.pem'), serverKey: at('server-key.pem'),
    clientCert: at('client.pem'), clientKey: at('client-key.pem'),
  };
}
