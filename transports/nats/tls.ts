import type { Socket } from 'node:net';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import type { TlsOptions } from 'nats';
import { PEM_CERTIFICATE, PEM_PRIVATE_KEY, readOptionFile } from './option-file.js';
import type { NatsTlsOptions } from './options.js';

/** Node's TLS connect options as they reach `checkServerIdentity` (Node calls it as their method). */
interface TlsConnectOptions { servername?: string; host?: string; socket?: Socket & { _host?: string } }

/**
 * nats.js upgrades its plain socket to TLS without naming the host when the server URL holds an IP
 * address (SNI may not carry one, so it leaves `servername` empty), and Node then checks the
 * certificate against "localhost". The socket it upgrades was dialled to exactly that IP, so the
 * certificate is checked against the socket's remote address instead (an `IP:` subjectAltName).
 */
function checkServerIdentityOfDialledIp(this: TlsConnectOptions | undefined, hostname: string, cert: PeerCertificate): Error | undefined {
  const socket = this?.socket;
  const dialledIp = !this?.servername && !this?.host && socket && !socket._host ? socket.remoteAddress : undefined;
  return checkServerIdentity(dialledIp ?? hostname, cert);
}

/**
 * The nats.js TLS options for signalbus' `tls` option. The files are checked here, at connect,
 * and passed on by name: nats.js reads them again on every reconnect, so renewed certificates
 * are picked up without a restart. PEM contents, `rejectUnauthorized` and `servername` pass
 * through to Node's `tls.connect`, which nats.js calls with them.
 *
 * @example const tls = await natsTlsOptions({ caFile: '/etc/nats/ca.pem' });
 */
export async function natsTlsOptions(tls: NatsTlsOptions): Promise<TlsOptions> {
  const out: TlsOptions & { checkServerIdentity: typeof checkServerIdentityOfDialledIp } = { checkServerIdentity: checkServerIdentityOfDialledIp };
  for (const key of ['caFile', 'certFile', 'keyFile'] as const) {
    const file = tls[key];
    if (file === undefined) continue;
    await readOptionFile(file, `tls.${key}`, key === 'keyFile' ? PEM_PRIVATE_KEY : PEM_CERTIFICATE);
    out[key] = file;
  }
  for (const key of ['ca', 'cert', 'key'] as const) if (tls[key] !== undefined) out[key] = typeof tls[key] === 'string' ? tls[key] : tls[key]!.toString('utf8');
  if (tls.handshakeFirst) out.handshakeFirst = true;
  const node = out as TlsOptions & { rejectUnauthorized?: boolean; servername?: string };
  if (tls.rejectUnauthorized === false) node.rejectUnauthorized = false;
  if (tls.servername !== undefined) node.servername = tls.servername;
  return out;
}
