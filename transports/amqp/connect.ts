import amqp, { type ChannelModel } from 'amqplib';
import { TransportAuthError, TransportClosedError, TransportConnectError, type SignalbusError } from '../../core/index.js';
import type { AmqpConnectTarget, ResolvedAmqpOptions } from './options.js';
import { accessRefusal, amqpPermissionError } from './permission.js';
import { describeTlsFailure } from './tls.js';

/**
 * One amqplib connection to the URL's broker, with the options' heartbeat, connect timeout,
 * connection name and TLS settings. Shared by the transport and the scale-out coordination, so
 * both reach a broker the same way (vhost, TLS server name, frameMax).
 *
 * @example const model = await openAmqpConnection(resolveAmqpOptions({ url }), connectTarget(url));
 */
export function openAmqpConnection(options: ResolvedAmqpOptions, target: AmqpConnectTarget): Promise<ChannelModel> {
  const t = target;
  return amqp.connect(
    { protocol: t.protocol, hostname: t.hostname, port: t.port, username: t.username, password: t.password, vhost: t.vhost,
      heartbeat: options.heartbeatSeconds, ...(t.frameMax ? { frameMax: t.frameMax } : {}) },
    { timeout: options.connectTimeoutMs, clientProperties: { connection_name: options.connectionName },
      ...(t.protocol === 'amqps' ? { servername: isIp(t.hostname) ? undefined : t.hostname, ...options.tls } : {}) },
  );
}

/** A failed connect as a typed error a user can act on: refused credentials or vhost, TLS trouble, else a connect error. */
export function amqpConnectError(err: unknown, target: AmqpConnectTarget): SignalbusError {
  if (err instanceof TransportAuthError || err instanceof TransportConnectError || err instanceof TransportClosedError) return err;
  const text = err instanceof Error ? err.message : String(err);
  const t = target;
  const refusal = accessRefusal(err);
  if (refusal) return amqpPermissionError(refusal, 'setting up the topology at', t.display, err);
  if (/ACCESS[-_]REFUSED|\b403\b/.test(text)) {
    return new TransportAuthError(`RabbitMQ at ${t.display} refused the credentials of user "${t.username}" (wrong user or password)`,
      { cause: err, details: { url: t.display, user: t.username } });
  }
  if (/ConnectionOpenOk|NOT_ALLOWED|\b530\b/.test(text)) {
    return new TransportAuthError(`RabbitMQ at ${t.display} refused access to vhost "${t.vhost}" for user "${t.username}" (missing vhost or no permission)`,
      { cause: err, details: { url: t.display, vhost: t.vhost, user: t.username } });
  }
  const tls = describeTlsFailure(err);
  if (tls) return new TransportConnectError(`cannot connect to RabbitMQ at ${t.display}: ${tls.text}`, { cause: err, details: { url: t.display, tlsCode: tls.code } });
  return new TransportConnectError(`cannot connect to RabbitMQ at ${t.display}: ${text}`, { cause: err, details: { url: t.display } });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(':');
}
