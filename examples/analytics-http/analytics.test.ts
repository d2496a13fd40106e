import { expect } from 'chai';
import { createServer } from 'node:net';
import { startAnalytics, tokenFor } from './main.js';
import type { AnalyticsAnswer } from './analytics-service.js';
import { waitFor } from '../../test/helpers/wait.js';

const freePort = () => new Promise<number>((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
});

describe('example: analytics over HTTP', function () {
  this.timeout(20_000);
  let url = '';
  let running: Awaited<ReturnType<typeof startAnalytics>>;
  before(async () => { url = `http://127.0.0.1:${await freePort()}`; running = await startAnalytics(url); });
  after(async () => { await running.stop(); });

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

    const reply = await post('/v1/requests/analytics.query', acme, { event_id: 'checkout' });
    expect(reply.status).to.equal(200);
    const answer = (await reply.json()) as AnalyticsAnswer;
    expect(answer.tenant).to.equal('acme');
    expect(answer.counts).to.deep.equal({ checkout: { '2026-11-23T10:01:00.000Z': 2, '2026-11-23T10:02:00.000Z': 1 } });
    expect(answer.total).to.equal(3);

    const theirs = (await (await post('/v1/requests/analytics.query', globex, {})).json()) as AnalyticsAnswer;
    expect(theirs).to.deep.equal({ tenant: 'globex', counts: { checkout: { '2026-11-23T10:01:00.000Z': 2 } }, total: 2 });
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
    const before = running.service.counts.size;
    expect((await post('/v1/events/analytics.events', await tokenFor('acme'), { user_id: 'u1' })).status).to.equal(202); // accepted, then dead-lettered
    const deadLettered = () => running.bus.metrics.totals().get(`analytics@${running.bus.identity.container}:analytics.events invalid deadlettered`)?.count ?? 0;
    await waitFor(() => deadLettered() >= 1, { what: 'the invalid event dead-lettered' });
    expect(deadLettered()).to.equal(1);
    expect(running.service.counts.size).to.equal(before);
  });
});
