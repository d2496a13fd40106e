import { OptionsInvalidError, type Bus, type NanoserviceDefinition } from '../../core/index.js';
import { runNanoservice } from '../../nanoservices/index.js';
import type { ScaledService } from './scaled-service.js';
import type { ServicePlan } from './scale-plan.js';

/**
 * A stateless service reading outside input from a transport that can neither replay nor hold
 * acks, but shares a subscription among consumers (MQTT `$share/<group>/…`, a NATS queue group):
 * every instance runs it as a member of the group `<pipeline>.<service>`, and the broker hands
 * each message to one of them. This is how MQTT devices feed a scaled pipeline: the ingest
 * instances share the device subscription and forward into the partitioned stream.
 *
 * What the broker promises is weaker than a partition owner's: a message an instance took and had
 * not acknowledged when it died is redelivered only as the broker's session rules allow (MQTT 5:
 * when that client's session ends), and consecutive messages of one device may go to different
 * instances, so their order downstream is not guaranteed.
 */
export async function startSharedService(o: { pipeline: string; plan: ServicePlan; bus: Bus; create(): NanoserviceDefinition }): Promise<ScaledService> {
  const transport = o.bus.transportFor(o.plan.input);
  const def = o.create();
  if (def.state) {
    throw new OptionsInvalidError(`scale: service ${o.plan.name} keeps state and reads ${o.plan.input} from transport ${transport.name}, which can neither replay `
      + 'nor hold acks until a checkpoint: a crash would lose its state. Put a stateless service (ingest, filter) in front that forwards into the pipeline', { details: { field: 'scale', service: o.plan.name, input: o.plan.input } });
  }
  const group = `${o.pipeline}.${o.plan.name}`;
  const running = await runNanoservice(o.bus, { ...def, subscriptions: def.subscriptions.map((s) => ({ ...s, group })) });
  return { owned: () => [], stop: () => running.stop() };
}
