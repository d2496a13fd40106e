import { expect } from 'chai';
import { createServer, type Server } from 'node:net';
import { errorLines, runCli } from '../helpers/cli-process.js';

/** A port some other process (here: this test) listens on. */
async function takenPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe('cli errors', function () {
  this.timeout(90_000);

  it('cli - an unknown or value-less option is one line with SB_ERR_CLI_USAGE naming the command help, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['pub', 'memory://', 'a.b', '{}', '--bogus'], 'unknown option --bogus for signalbus pub; see signalbus pub --help'],
      [['demo', '--nope'], 'unknown option --nope for signalbus demo; see signalbus demo --help'],
      [['sub', 'memory://', 'a.b', '--count'], 'see signalbus sub --help'],
      [['--frob'], 'unknown option --frob; see signalbus --help'],
      [['contracts', 'diff', 'a.json', 'b.json', '--bogus'], 'unknown option --bogus for signalbus contracts; see signalbus contracts --help'],
      [['asyncapi', '--bogus'], 'unknown option --bogus for signalbus asyncapi; see signalbus asyncapi --help'],
    ];
    for (const [args, text] of cases) {
      const r = await runCli(args);
      expect(r.status, args.join(' ')).to.equal(2);
      expect(errorLines(r.stderr), args.join(' ')).to.have.length(1);
      expect(r.stderr, args.join(' ')).to.include(text).and.to.include('[SB_ERR_CLI_USAGE]');
      expect(r.stderr).not.to.include('To specify a positional argument'); // parseArgs' own text is not passed on
    }
  });

  it('cli - a port in use is one line with SB_ERR_CLI_PORT_IN_USE saying how to move it, exit 1', async () => {
    const taken = await takenPort();
    const free = await takenPort();
    const freePort = free.port;
    await new Promise<void>((r) => free.server.close(() => r()));
    try {
      const cases: Array<[string[], string]> = [
        [['demo', '--duration', '1s', '--http-port', String(taken.port), '--mqtt-port', String(freePort)], '--http-port'],
        [['demo', '--duration', '1s', '--mqtt-port', String(taken.port), '--http-port', String(freePort)], '--mqtt-port'],
        [['sub', `http://127.0.0.1:${taken.port}`, '>'], 'another port in the URL'],
        [['sub', `ws://127.0.0.1:${taken.port}`, '>'], 'another port in the URL'],
      ];
      for (const [args, hint] of cases) {
        const r = await runCli(args);
        expect(r.status, args.join(' ')).to.equal(1);
        expect(errorLines(r.stderr), `${args.join(' ')}: ${r.stderr}`).to.have.length(1);
        expect(r.stderr, args.join(' ')).to.include(`127.0.0.1:${taken.port} is already in use`).and.to.include(hint).and.to.include('[SB_ERR_CLI_PORT_IN_USE]');
      }
    } finally {
      await new Promise<void>((r) => taken.server.close(() => r()));
    }
  });

  it('cli - the demo still starts once its ports are free (the check is not a false alarm)', async () => {
    const a = await takenPort(); const b = await takenPort();
    const [http, mqtt] = [a.port, b.port];
    await Promise.all([a, b].map((t) => new Promise<void>((r) => t.server.close(() => r()))));
    const r = await runCli(['demo', '--duration', '2s', '--http-port', String(http), '--mqtt-port', String(mqtt)], { timeoutMs: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.match(/^console: open http:\/\/127\.0\.0\.1:\d+\/ in a browser\n/);
  });
});
