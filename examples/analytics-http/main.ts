/**
 * Runs the analytics example: an HTTP gateway on 127.0.0.1:8090 with JWT auth (HS256, tenant
 * claim `tenant`) in front of the analytics service and its PostgreSQL sink, on the memory
 * transport. The events and counts live in PostgreSQL (PG_URL), so they survive a restart.
 *
 *   PG_URL=postgres://postgres@127.0.0.1:5432/test npx tsx examples/analytics-http/main.ts
 *
 * It prints a token per demo tenant and the curl commands to try.
 */
import { SignJWT } from 'jose';
import { Bus } from '../../core/index.js';
import { hostGateway } from '../../gateway/index.js';
import { runNanoservice } from '../../nanoservices/index.js';
import { MemoryTransport } from '../../transports/memory/index.js';
import { createAnalyticsServices, type AnalyticsOptions } from './analytics-service.js';

export const SECRET = new TextEncoder().encode(process.env.ANALYTICS_JWT_SECRET ?? 'analytics-example-secret-change-me');

export async function tokenFor(tenant: string, subject = 'web-app', expiresIn = '1h'): Promise<string> {
  return new SignJWT({ tenant }).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setIssuedAt().setExpirationTime(expiresIn).sign(SECRET);
}

/** Starts the gateway and the services (`store`: where PostgreSQL is); returns a stopper. */
export async function startAnalytics(url = 'http://127.0.0.1:8090', store: AnalyticsOptions = {}) {
  const bus = new Bus({ service: 'analytics', transport: new MemoryTransport() });
  const { analytics, sink } = createAnalyticsServices(store);
  await runNanoservice(bus, sink);
  await runNanoservice(bus, analytics);
  // No subject scoping: every tenant posts to the same subjects; the stamped `tenant` separates them.
  const gateway = await hostGateway(url, bus, { auth: { jwt: { secret: SECRET }, tenantClaim: 'tenant', subjectPrefix: false, required: true } });
  return { bus, stop: async () => { await gateway.close(); await bus.stop(); } };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.ANALYTICS_URL ?? 'http://127.0.0.1:8090';
  const running = await startAnalytics(url);
  const acme = await tokenFor('acme');
  console.log(`analytics gateway on ${url}\n\nTOKEN=${acme}\n`);
  console.log(`curl -s -X POST ${url}/v1/events/analytics.events -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \\
  -H 'ce-correlationid: session-42' -d '{"user_id":"u1","event_id":"checkout","operation_id":"op-9","timestamp":"${new Date().toISOString()}","further_data":{"cart":3}}'`);
  console.log(`curl -s -X POST ${url}/v1/requests/analytics.query -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"event_id":"checkout"}'`);
  const stop = () => { void running.stop().then(() => process.exit(0)); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
