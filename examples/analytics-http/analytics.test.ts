import { expect } from 'chai';
import { createServer } from 'node:net';
import type pg from 'pg';
import { startAnalytics, tokenFor } from './main.js';
import { EVENTS_TABLE, type AnalyticsAnswer } from './analytics-service.js';
import { dropSchema, PG_TEST_URL, requirePostgres, testSchema } from '../../test/helpers/postgres.js';
import { waitFor } from '../../test/helpers/wait.js';

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

describe('example: analytics over HTTP', function () {
  this.timeout(20_000);
  let url = '';
  let running: Awaited<ReturnType<typeof startAnalytics>> | undefined;
  let admin: pg.Pool | undefined;
  const schema = testSchema();
  const start = async () => { running = await startAnalytics(url, { url: PG_TEST_URL, schema }); };
  before(async function () {
    admin = await requirePostgres(this);
    url = `http://127.0.0.1:${await freePort()}`;
    await start();
  });
  after(async () => {
    await running?.stop();
    await dropSchema(admin, schema);
    await admin?.end();
  });

  const post = (path: string, token: string, body: unknown, headers: Record<string, string> = {}) => fetch(`${url}${path}`, {
    method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...headers }, body: JSON.stringify(body),
  });
  const event = (event_id: string, minute: number) => ({ user_id: 'u1', event_id, operation_id: `op-${minute}`, timestamp: new Date(Date.UTC(2026, 10, 23, 10, minute, 30)).toISOString(), further_data: { k: 1 } });

  it('analytics - counts events per tenant and minute and answers queries for the caller\'s tenant only', async () => {
    const acme = await tokenFor('acme');
    const globex = await tokenFor('globex');
    for (const [token, e] of [[acme, event('checkout', 1)], [acme, event('checkout', 1)], [acme, event('checkout', 2)], [acme, event('view', 1)], [globex, event('checkout', 1)]] as const) {
      const r = await post('/v1/events/analytics.events', token, e, { 'ce-correlationid': 'session-42' });
      expect(r.status, await r.clone().text()).to.equal(202);
    }
    // A forged tenant header is ignored: the token decides.
    expect((await post('/v1/events/analytics.events', globex, event('checkout', 1), { 'ce-tenant': 'acme' })).status).to.equal(202);

    // Accepted (202) is not yet stored: the sink writes in batches a few ms apart.
    const ask = async (token: string, q: unknown) => {
      const reply = await post('/v1/requests/analytics.query', token, q);
      expect(reply.status).to.equal(200);
      return (await reply.json()) as AnalyticsAnswer;
    };
    let answer: AnalyticsAnswer | undefined;
    await waitFor(async () => (answer = await ask(acme, { event_id: 'checkout' })).total === 3, { timeoutMs: 5000, what: () => `acme's three checkouts (got ${JSON.stringify(answer)})`, intervalMs: 20 });
    expect(answer).to.deep.equal({ tenant: 'acme', counts: { checkout: { '2026-11-23T10:01:00.000Z': 2, '2026-11-23T10:02:00.000Z': 1 } }, total: 3 });
    expect(await ask(acme, { from: '2026-11-23T10:01:59Z', to: '2026-11-23T10:02:00Z' })).to.deep.equal({ tenant: 'acme', counts: { checkout: { '2026-11-23T10:02:00.000Z': 1 } }, total: 1 });

    let theirs: AnalyticsAnswer | undefined;
    await waitFor(async () => (theirs = await ask(globex, {})).total === 2, { timeoutMs: 5000, what: () => `globex's two checkouts (got ${JSON.stringify(theirs)})`, intervalMs: 20 });
    expect(theirs).to.deep.equal({ tenant: 'globex', counts: { checkout: { '2026-11-23T10:01:00.000Z': 2 } }, total: 2 });

    // The counts live in PostgreSQL: a restarted service answers the same.
    await running!.stop();
    running = undefined;
    await start();
    expect(await ask(acme, { event_id: 'checkout' })).to.deep.equal(answer);
    expect(await ask(globex, {})).to.deep.equal(theirs);
  });

  it('analytics - refuses missing and expired tokens, and bad events get a 400 problem or a dead letter', async () => {
    const anonymous = await fetch(`${url}/v1/events/analytics.events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(anonymous.status).to.equal(401);
    expect(anonymous.headers.get('content-type')).to.include('application/problem+json');
    const expired = await tokenFor('acme', 'web-app', '-1m');
    expect((await post('/v1/events/analytics.events', expired, event('x', 1))).status).to.equal(401);
    const malformed = await fetch(`${url}/v1/events/analytics.events`, { method: 'POST', headers: { authorization: `Bearer ${await tokenFor('acme')}`, 'content-type': 'application/json' }, body: '{"user_id": ' });
    expect(malformed.status).to.equal(400);
    expect(((await malformed.json()) as { code: string }).code).to.match(/^SB_ERR_/);
    const stored = async () => Number((await admin!.query(`SELECT count(*) AS n FROM "${schema}"."${EVENTS_TABLE}"`)).rows[0].n);
    const before = await stored();
    expect((await post('/v1/events/analytics.events', await tokenFor('acme'), { user_id: 'u1' })).status).to.equal(202); // accepted, then dead-lettered
    const bus = running!.bus;
    const deadLettered = () => bus.metrics.totals().get(`analytics@${bus.identity.container}:analytics.events invalid deadlettered`)?.count ?? 0;
    await waitFor(() => deadLettered() >= 1, { what: 'the invalid event dead-lettered' });
    expect(deadLettered()).to.equal(1);
    expect(await stored(), 'nothing stored').to.equal(before);
  });
});
