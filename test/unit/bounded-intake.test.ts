import { expect } from 'chai';
import {
  BoundedIntake, createEnvelope, IntakeDropReport, KeyedScheduler, MetricsRecorder, type InboundMessage, type Logger,
} from '../../core/index.js';
import { SseEventTooLargeError, SseParser } from '../../transports/http/sse.js';
import { sleep, waitFor } from '../helpers/wait.js';

const message = (subject: string): InboundMessage => ({ subject, envelope: createEnvelope({ source: 'urn:t', type: 't' }), attempt: 1, ack() {} });

function warnings(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger: Logger = { debug() {}, info() {}, error() {}, warn(_m, f) { lines.push(f ?? {}); }, child() { return logger; } };
  return { logger, lines };
}

describe('bounded intake', () => {
  it('bounded intake - hands over while the Bus has room, then drops newest while it waits, and hands over again once it has room', async () => {
    let release!: () => void;
    const handed: string[] = [];
    const dropped: string[] = [];
    const intake = new BoundedIntake((m) => {
      handed.push(m.subject);
      if (m.subject === 'b') return new Promise<void>((r) => { release = r; });
    }, { onDropped: (s) => dropped.push(s) });
    for (const s of ['a', 'b', 'c', 'd']) intake.offer(message(s));
    expect(handed).to.deep.equal(['a', 'b']);
    expect(dropped).to.deep.equal(['c', 'd']);
    expect(intake.full).to.equal(true);
    expect(intake.waiting).to.equal(1);
    release();
    await waitFor(() => !intake.full, { what: 'room' });
    intake.offer(message('e'));
    expect(handed).to.deep.equal(['a', 'b', 'e']);
  });

  it('bounded intake - lets maxHeld messages wait for room before it drops', () => {
    const dropped: string[] = [];
    const intake = new BoundedIntake(() => new Promise<void>(() => {}), { onDropped: (s) => dropped.push(s) }, 3);
    for (let i = 0; i < 5; i++) intake.offer(message(`s${i}`));
    expect(intake.waiting).to.equal(3);
    expect(dropped).to.deep.equal(['s3', 's4']);
  });

  it('bounded intake - without onDropped hands every message over (the caller bounds its own queue)', () => {
    let handed = 0;
    const intake = new BoundedIntake(() => { handed++; return new Promise<void>(() => {}); }, {});
    for (let i = 0; i < 5; i++) intake.offer(message('x'));
    expect(handed).to.equal(5);
    expect(intake.full).to.equal(false);
  });

  it('bounded intake - a Bus that refuses at once (onFull reject) is a drop; other throws pass through', () => {
    const dropped: string[] = [];
    const scheduler = new KeyedScheduler<InboundMessage>(() => new Promise<void>(() => {}), { concurrency: 1, maxPending: 1, onFull: 'reject' });
    const intake = new BoundedIntake((m) => scheduler.push(m), { onDropped: (s) => dropped.push(s) });
    for (const s of ['a', 'b', 'c']) intake.offer(message(s));
    expect(dropped).to.deep.equal(['c']);
    expect(scheduler.load).to.deep.equal({ running: 1, pending: 1 });
    expect(scheduler.waiting).to.equal(0);
    const broken = new BoundedIntake(() => { throw new Error('bug'); }, { onDropped: () => {} });
    expect(() => broken.offer(message('x'))).to.throw('bug');
  });

  it('intake drop report - counts each drop on its subject, warns at once, then at most once per interval with the count since', async () => {
    const metrics = new MetricsRecorder('app');
    const { logger, lines } = warnings();
    const report = new IntakeDropReport('s.>', 11, logger,
      (subject) => metrics.counter({ app: 'app', container: 'c1', context: subject, event: 'intake', action: 'dropped' }), { logIntervalMs: 100 });
    for (let i = 0; i < 50; i++) report.dropped(i % 2 ? 's.a' : 's.b');
    expect(lines).to.have.length(1);
    expect(lines[0]).to.include({ pattern: 's.>', dropped: 1, bound: 11 });
    await waitFor(() => lines.length === 2, { what: 'the second line' });
    expect(lines[1]).to.include({ dropped: 49, droppedTotal: 50 });
    await sleep(250); // nothing dropped since: no further line, and the timer ends
    expect(lines).to.have.length(2);
    report.dropped('s.a');
    report.stop();
    expect(lines.map((l) => l.dropped)).to.deep.equal([1, 49, 1]);
    const totals = metrics.totals();
    expect(totals.get('app@c1:s.a intake dropped')?.count).to.equal(26);
    expect(totals.get('app@c1:s.b intake dropped')?.count).to.equal(25);
  });

  it('sse parser - gives events one at a time and keeps the rest as text until asked', () => {
    const p = new SseParser();
    p.feed(': subscribed\n\nid: 1\nevent: a\ndata: 1\n\nevent: b\ndata: 2\n\nevent: c\nda');
    expect(p.next()).to.deep.equal({ id: '1', event: 'a', subject: 'a', data: '1' });
    p.feed('ta: 3\n\n');
    expect(p.next()).to.deep.equal({ event: 'b', subject: 'b', data: '2' });
    expect(p.next()).to.deep.equal({ event: 'c', subject: 'c', data: '3' });
    expect(p.next()).to.equal(undefined);
    expect(p.push('data: x\r\ndata: y\r\n\r\n')).to.deep.equal([{ data: 'x\ny' }]);
  });

  it('sse parser - refuses a line or an event over its bound instead of buffering it', () => {
    const endless = new SseParser(100);
    endless.feed(`data: ${'x'.repeat(60)}`);
    expect(endless.next()).to.equal(undefined);
    endless.feed('x'.repeat(60));
    expect(() => endless.next()).to.throw(SseEventTooLargeError);
    const manyLines = new SseParser(100);
    manyLines.feed(`${'data: xxxxxxxxxx\n'.repeat(20)}`);
    expect(() => manyLines.next()).to.throw(SseEventTooLargeError);
    // Events under the bound, however many, pass.
    expect(new SseParser(100).push(`data: ${'y'.repeat(90)}\n\n`.repeat(50))).to.have.length(50);
  });

  it('sse parser - still reads the subject line older gateways wrote', () => {
    expect(new SseParser().push('subject: a.b\nid: 1\ndata: {}\n\n')).to.deep.equal([{ subject: 'a.b', id: '1', data: '{}' }]);
  });
});
