import { expect } from 'chai';
import { startEmbeddedBroker } from '../../transports/mqtt/index.js';
import { errorLines, runCli } from '../helpers/cli-process.js';

describe('cli against an MQTT 3.1.1-only broker', function () {
  this.timeout(60_000);

  // aedes (the demo's embedded broker) speaks only 3.1.1: it answers an MQTT 5 CONNECT with
  // CONNACK return code 1 (unacceptable protocol version) and closes, as 3.1.1 tells it to.
  it('cli - the MQTT 5 default is refused with one line that says to add ?protocolVersion=4, which then works', async () => {
    const broker = await startEmbeddedBroker({ port: 0 });
    try {
      const url = `mqtt://127.0.0.1:${broker.port}`;
      const refused = await runCli(['pub', url, 'a.b', '{}']);
      expect(refused.status).to.equal(1);
      expect(errorLines(refused.stderr), refused.stderr).to.have.length(1);
      expect(refused.stderr).to.include('reason code 1 (unacceptable protocol version)')
        .and.to.include(`add ?protocolVersion=4 to the URL (${url}?protocolVersion=4)`).and.to.include('[SB_ERR_TRANSPORT_CONNECT]');
      const fixed = await runCli(['pub', `${url}?protocolVersion=4`, 'a.b', '{}']);
      expect(fixed.status, fixed.stderr).to.equal(0);
    } finally {
      await broker.stop();
    }
  });
});
