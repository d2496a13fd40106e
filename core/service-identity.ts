import { hostname } from 'node:os';
import { OptionsInvalidError } from './errors.js';

/** Who is speaking: the app (nanoservice name) and the instance (container). */
export interface ServiceIdentity {
  app: string;
  container: string;
  version?: string;
}

const NAME = /^[A-Za-z0-9._-]+$/;

/** A container id from host and pid, made safe for metric fields. */
export function defaultContainer(): string {
  return `${hostname()}-${process.pid}`.replace(/[^A-Za-z0-9._-]/g, '-');
}

/** `'filter'`, `'filter@edge-1'` or an object → a checked identity. */
export function resolveIdentity(service: string | Partial<ServiceIdentity> & { app: string }): ServiceIdentity {
  let id: ServiceIdentity;
  if (typeof service === 'string') {
    const [app, container] = service.split('@', 2) as [string, string | undefined];
    id = { app, container: container ?? defaultContainer() };
  } else {
    id = { ...service, container: service.container ?? defaultContainer() };
  }
  if (!NAME.test(id.app)) throw new OptionsInvalidError(`service name "${id.app}" must match [A-Za-z0-9._-]+`, { details: { field: 'service' } });
  if (!NAME.test(id.container)) throw new OptionsInvalidError(`container "${id.container}" must match [A-Za-z0-9._-]+`, { details: { field: 'container' } });
  return id;
}

/** The CloudEvents `source` of everything this instance emits. */
export function sourceOf(id: ServiceIdentity): string {
  return `/signalbus/${id.app}/${id.container}`;
}
