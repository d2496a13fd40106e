import { expect } from 'chai';
import type { Msg, NatsConnection } from 'nats';
import { RequestTimeoutError, TransportClosedError } from '../../core/index.js';
import { ReplyInbox } from '../../transports/nats/reply-inbox.js';

/** A connection that only takes the inbox's wildcard subscription; `deliver` plays the server sending a reply to a token. */
function fakeConnection() {
  let callback: (err: Error | null, msg: Msg) => void = () => {};
  let prefix = '';
  const nc = {
    subscribe(subject: string, o: { callback: typeof callback }) { prefix = subject.slice(0, -1); callback = o.callback; return { unsubscribe() {} }; },
  } as unknown as NatsConnection;
  return { nc, deliver: (token: string) => callback(null, { subject: prefix + token } as Msg) };
}

const outcome = (p: Promise<unknown>) => p.then(() => 'replied', (e: unknown) => e);

describe('nats reply inbox', () => {
  it('nats reply inbox - each request times out at its own deadline under one timer, earlier ones after later ones too, and replies in time resolve', async () => {
    const { nc, deliver } = fakeConnection();
    const inbox = new ReplyInbox(nc, '_INBOX');
    const t0 = performance.now();
    const slow = inbox.expect('a', 'svc.slow', 300);
    const fast = outcome(inbox.expect('b', 'svc.fast', 30)); // earlier than the armed deadline: re-arms
    const answered = inbox.expect('c', 'svc.ok', 30);
    deliver('c');
    expect(await outcome(answered)).to.equal('replied');
    const err = await fast;
    const waited = performance.now() - t0;
    expect(err).to.be.instanceOf(RequestTimeoutError);
    expect((err as RequestTimeoutError).details).to.deep.equal({ subject: 'svc.fast', timeoutMs: 30 });
    expect(waited, 'not before its deadline, nor at the slow one').to.be.within(29, 250);
    deliver('a');
    expect(await outcome(slow), 'still waiting after the other timed out').to.equal('replied');
    deliver('b'); // a late reply after its timeout is dropped
    // Many at once: every one that gets no reply times out, the answered ones do not.
    const many = Array.from({ length: 50 }, (_, i) => outcome(inbox.expect(`m${i}`, 'svc.many', 20 + (i % 5) * 10)));
    for (let i = 0; i < 50; i += 2) deliver(`m${i}`);
    const results = await Promise.all(many);
    results.forEach((r, i) => expect(i % 2 === 0 ? r : (r as Error).constructor, `m${i}`).to.equal(i % 2 === 0 ? 'replied' : RequestTimeoutError));
    inbox.close();
  });

  it('nats reply inbox - close fails what waits at once, and a cancelled token never times out', async () => {
    const { nc } = fakeConnection();
    const inbox = new ReplyInbox(nc, '_INBOX');
    const waiting = outcome(inbox.expect('x', 'svc.x', 10_000));
    let settled = false;
    inbox.expect('y', 'svc.y', 10).then(() => { settled = true; }, () => { settled = true; });
    inbox.cancel('y');
    await new Promise((r) => setTimeout(r, 40));
    expect(settled, 'a cancelled request is neither answered nor timed out').to.equal(false);
    inbox.close();
    expect(await waiting).to.be.instanceOf(TransportClosedError);
  });
});
