// The advertised way to test a custom transport: the shared suite, run by mocha.
import { runConformance } from 'signalbus/conformance';
import { Hub, HubTransport } from './hub-transport.js';

const hub = new Hub();
runConformance({ name: 'hub', create: () => new HubTransport(hub), stressMessages: 2000 });
