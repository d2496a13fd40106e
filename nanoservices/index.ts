import { startNanoservice, type Bus, type NanoserviceDefinition, type Subscription } from '../core/index.js';
import { aggregateConfigSchema } from './aggregate/schema.js';
import { createAggregateService } from './aggregate/service.js';
import { alertConfigSchema } from './alert/schema.js';
import { createAlertService } from './alert/service.js';
import { filterConfigSchema } from './filter/schema.js';
import { createFilterService } from './filter/service.js';
import { ingestConfigSchema } from './ingest/schema.js';
import { createIngestService } from './ingest/service.js';
import { sinkConfigSchema } from './sink/schema.js';
import { createSinkService } from './sink/service.js';

export * from './ingest/index.js';
export * from './filter/index.js';
export * from './aggregate/index.js';
export * from './alert/index.js';
export * from './sink/index.js';
export { SnapshotInvalidError } from './snapshot.js';

/** A started nanoservice. */
export interface RunningNanoservice {
  readonly name: string;
  readonly subscriptions: Subscription[];
  /** Drains the subscriptions, then runs the service's own `stop`. Idempotent; `bus.stop()` also does it. */
  stop(): Promise<void>;
}

/**
 * Starts a nanoservice (its `start(bus)`, then its subscriptions) and returns a handle that can
 * stop it alone. Its `stop` runs once, whether from the handle or from `bus.stop()`.
 *
 * @example
 * const running = await runNanoservice(bus, createAggregateService({ … }));
 * … await bus.stop(); // drains, then the aggregate flushes its windows and saves its checkpoint
 */
export async function runNanoservice(bus: Bus, def: NanoserviceDefinition): Promise<RunningNanoservice> {
  let stopped: Promise<void> | undefined;
  const stopOnce = () => stopped ??= def.stop?.() ?? Promise.resolve();
  const subscriptions = await startNanoservice(bus, { ...def, stop: stopOnce });
  let stopping: Promise<void> | undefined;
  return {
    name: def.name,
    subscriptions,
    stop: () => stopping ??= (async () => {
      await Promise.all(subscriptions.map((s) => s.drain()));
      await stopOnce();
    })(),
  };
}

/** The JSON Schema of each service kind's config, for validating pipeline files (`signalbus run`). */
export const nanoserviceConfigSchemas = {
  ingest: ingestConfigSchema,
  filter: filterConfigSchema,
  aggregate: aggregateConfigSchema,
  alert: alertConfigSchema,
  sink: sinkConfigSchema,
} as const;

/** The factory of each service kind: `nanoserviceFactories[kind](config)` makes its definition. */
export const nanoserviceFactories = {
  ingest: createIngestService,
  filter: createFilterService,
  aggregate: createAggregateService,
  alert: createAlertService,
  sink: createSinkService,
} as const;

export type NanoserviceKind = keyof typeof nanoserviceFactories;
