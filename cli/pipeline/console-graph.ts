import type { ConsolePipeline } from '../../gateway/console-state.js';
import type { Pipeline } from './load.js';

/** What a kind reads and writes when its config names no input or output (the nanoservices' own defaults). */
const DEFAULT_SUBJECTS: Record<string, { input?: string; output?: string }> = {
  ingest: { input: 'devices.*.telemetry', output: 'sensor.reading.{deviceId}' },
  aggregate: { output: 'sensor.aggregate.{key}' },
  alert: { output: 'alerts.{key}' },
};

/**
 * The pipeline as the web console draws it: each service with the subjects it reads (`input`)
 * and writes (`output`, a template whose `{…}` placeholders stand for one token).
 * @example consolePipeline(pipeline).services[0] // { name: 'ingest', kind: 'ingest', inputs: ['devices.*.telemetry'], outputs: ['sensor.reading.{deviceId}'] }
 */
export function consolePipeline(p: Pipeline): ConsolePipeline {
  return {
    name: p.name,
    services: p.services.map((s) => {
      const defaults = DEFAULT_SUBJECTS[s.kind] ?? {};
      const input = typeof s.config.input === 'string' ? s.config.input : defaults.input;
      const output = typeof s.config.output === 'string' ? s.config.output : defaults.output;
      return { name: s.name ?? s.kind, kind: s.kind, inputs: input ? [input] : [], outputs: output ? [output] : [], instances: s.instances ?? 1 };
    }),
  };
}
