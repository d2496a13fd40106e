import { expect } from 'chai';
import type { Scenario } from '../../bench/harness.js';

// Loads the peers scenarios and their drivers without running them: no broker, no benchmark.
describe('bench peers scenarios', () => {
  it('bench peers - the module lists each peer scenario with a description, run() and a peer as raw()', async () => {
    const scenarios = (await import('../../bench/scenarios/peers.js')).default as Scenario[];
    expect(scenarios.map((s) => s.name)).to.deep.equal([
      'peers-nats-events', 'peers-nats-request-64', 'peers-nats-request-seq',
      'peers-nats-events-least-work', 'peers-nats-request-seq-least-work',
      'peers-nats-events-structured', 'peers-nats-request-64-structured', 'peers-nats-request-seq-structured',
      'peers-nestjs-nats-events', 'peers-nestjs-nats-request-64',
    ]);
    for (const s of scenarios) {
      // The -least-work rows put the least work any nats.js code does in signalbus's place: the ceiling of its ratio.
      expect(s.description, s.name).to.be.a('string').and.match(s.name.endsWith('-least-work') ? /ratio = least work \/ Moleculer$/ : /ratio = signalbus \/ (Moleculer|NestJS)$/);
      expect(s.run, s.name).to.be.a('function');
      expect(s.raw, s.name).to.be.a('function');
    }
  });

  it('bench peers - Moleculer runs with the JSON serializer, NATS, and metrics, tracing and logger off', async () => {
    const { moleculerOptions } = await import('../../bench/peers/moleculer.js');
    const options = moleculerOptions('ns-a', 'node-a', 'nats://127.0.0.1:4222');
    expect(options).to.deep.include({ namespace: 'ns-a', nodeID: 'node-a', serializer: 'JSON', metrics: false, tracing: false, logger: false });
    expect(options.transporter).to.deep.equal({ type: 'NATS', options: { url: 'nats://127.0.0.1:4222' } });
  });

  it('bench peers - the NestJS driver loads and finds a NATS client for Nest', async () => {
    const { natsClientForNest } = await import('../../bench/peers/nestjs.js');
    expect(await natsClientForNest()).to.be.oneOf(['nats.js v3', 'nats 2.x']);
  });
});
