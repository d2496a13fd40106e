/**
 * A private CA and the certificates it signs, made with the `openssl` command, for integration
 * tests that start their own TLS brokers on 127.0.0.1.
 *
 * @example
 * requireOpenssl(this);                                            // in a suite's before(function () {…})
 * const certs = makeTestCertificates(dir);                         // certs.ca, certs.serverCert, certs.clientKey, …
 * const foreign = makeForeignCertificates(join(dir, 'foreign'));   // a client certificate the broker must refuse
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missingPrerequisite } from './brokers.js';

/** Paths of the PEM files `makeForeignCertificates` wrote: a CA and a client certificate it signed. */
export interface ForeignCertificates {
  ca: string;
  caKey: string;
  /** For mutual TLS (extendedKeyUsage clientAuth). */
  clientCert: string;
  clientKey: string;
}

/** Paths of the PEM files `makeTestCertificates` wrote. */
export interface TestCertificates extends ForeignCertificates {
  /** Valid for the `serverAltNames` given, by default IP 127.0.0.1 only, so a host name (localhost) does not match it. */
  serverCert: string;
  serverKey: string;
}

/** What `makeTestCertificates` varies; every field has a default. */
export interface TestCertificateOptions {
  /** Common name of the CA (default `signalbus test CA`). */
  caName?: string;
  /** subjectAltName entries of the server certificate (default `['IP:127.0.0.1']`); add `'DNS:localhost'` to connect by host name. */
  serverAltNames?: string[];
}

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

export function opensslAvailable(): boolean {
  try { openssl('.', 'version'); return true; } catch { return false; }
}

/**
 * Call from a suite's `before` (with `function () {}`). Without openssl: under CI=true the suite
 * fails; elsewhere it is skipped with the reason printed.
 */
export function requireOpenssl(ctx: Mocha.Context): void {
  if (opensslAvailable()) return;
  missingPrerequisite(ctx, 'openssl is not installed (the test certificates are made with it)');
}

/** Writes `<name>.pem` and `<name>-key.pem` (CN=<name>, valid one day, extensions `ext`), signed by the CA in `dir`. */
function signCertificate(dir: string, name: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`);
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '1',
    '-extfile', `${name}.ext`, '-out', `${name}.pem`);
}

/** Writes a new CA (valid one day) and a client certificate it signed into `dir`. */
function makeCaWithClient(dir: string, caName: string): ForeignCertificates {
  mkdirSync(dir, { recursive: true });
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${caName}`, '-keyout', 'ca-key.pem', '-out', 'ca.pem');
  signCertificate(dir, 'client', 'extendedKeyUsage=clientAuth\n');
  return { ca: join(dir, 'ca.pem'), caKey: join(dir, 'ca-key.pem'), clientCert: join(dir, 'client.pem'), clientKey: join(dir, 'client-key.pem') };
}

/** Writes a new CA (valid one day) and a server and a client certificate it signed into `dir`. */
export function makeTestCertificates(dir: string, options: TestCertificateOptions = {}): TestCertificates {
  const { caName = 'signalbus test CA', serverAltNames = ['IP:127.0.0.1'] } = options;
  const certs = makeCaWithClient(dir, caName);
  signCertificate(dir, 'server', `subjectAltName=${serverAltNames.join(',')}\nextendedKeyUsage=serverAuth\n`);
  return { ...certs, serverCert: join(dir, 'server.pem'), serverKey: join(dir, 'server-key.pem') };
}

/**
 * Writes a second, unrelated CA and a client certificate it signed into `dir` (not the directory
 * of another set: the file names are the same). A broker that trusts only the CA of
 * `makeTestCertificates` refuses that client certificate, and a client that trusts only this CA
 * refuses the broker's.
 */
export function makeForeignCertificates(dir: string, caName = 'foreign test CA'): ForeignCertificates {
  return makeCaWithClient(dir, caName);
}
