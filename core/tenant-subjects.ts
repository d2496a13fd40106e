/**
 * Tenant subject spaces. A header anyone can set proves nothing; a subject the broker lets only
 * one tenant's credentials publish to does. With `BusOptions.tenantSubjects` every tenant's events
 * travel under its own prefix (`{tenant}.` by default, the layout of the gateway's and hub's
 * `subjectPrefix`, so tenant `acme` owns `acme.>`), broker permissions confine each tenant's
 * credentials to it (SECURITY.md), and the Bus checks that an event's `tenant` names the space it
 * travels in: on publish, and on every delivery, before anything decodes or handles it.
 */
import { OptionsInvalidError, TenantMismatchError } from './errors.js';

export interface TenantSubjectsOptions {
  /**
   * Template of a tenant's subject prefix: whole tokens ending in `.`, one of them `{tenant}`
   * (`{tenant}.`, `t.{tenant}.`, `tenants.{tenant}.`). Default `{tenant}.`, as the gateway's and
   * hub's `subjectPrefix`. A fixed first token (`t.{tenant}.`) leaves every other subject outside
   * all spaces, for events that belong to no tenant (metric batches, shared reference data).
   */
  prefix?: string;
}

const TOKEN = /^[A-Za-z0-9_\-~:@=]+$/;
const TENANT = '{tenant}';

/**
 * A checked tenant layout: which tenant's space a subject lies in, and whether an event's tenant
 * matches it. Dead letters stay in the space of the subject they were dead-lettered from:
 * `dlq.acme.orders` is acme's (its broker permissions grant `dlq.acme.>` as well).
 *
 * @example
 * const spaces = new TenantSubjects({ prefix: 't.{tenant}.' });
 * spaces.tenantOf('t.acme.orders');            // 'acme'
 * spaces.subjectFor('acme', 'orders.created'); // 't.acme.orders.created'
 * spaces.mismatch('t.acme.orders', 'globex');  // a TenantMismatchError
 */
export class TenantSubjects {
  readonly prefix: string;
  /** Tokens of the template; the tenant's is at `tenantIndex`. */
  private readonly tokens: string[];
  private readonly tenantIndex: number;
  private readonly deadLetterStart: string;

  constructor(options: TenantSubjectsOptions, deadLetterPrefix: string) {
    if (options === null || typeof options !== 'object') throw invalid('tenantSubjects must be an object ({ prefix? })', 'tenantSubjects');
    const prefix = options.prefix ?? `${TENANT}.`;
    const tokens = typeof prefix === 'string' && prefix.endsWith('.') ? prefix.slice(0, -1).split('.') : [];
    const tenantIndex = tokens.indexOf(TENANT);
    if (tenantIndex < 0 || tokens.lastIndexOf(TENANT) !== tenantIndex || tokens.some((t, i) => i !== tenantIndex && !TOKEN.test(t))) {
      throw invalid('tenantSubjects.prefix must be whole subject tokens ending in ".", exactly one of them "{tenant}" (e.g. "{tenant}." or "t.{tenant}.")', 'tenantSubjects.prefix');
    }
    this.prefix = prefix;
    this.tokens = tokens;
    this.tenantIndex = tenantIndex;
    this.deadLetterStart = `${deadLetterPrefix}.`;
  }

  /**
   * The tenant whose space `subject` lies in; undefined when it lies in none (a subject must have
   * at least one token after the prefix). A dead-letter subject is read as the subject it names.
   */
  tenantOf(subject: string): string | undefined {
    let start = subject.startsWith(this.deadLetterStart) ? this.deadLetterStart.length : 0;
    let tenant: string | undefined;
    for (let i = 0; i < this.tokens.length; i++) {
      const end = subject.indexOf('.', start);
      if (end < 0) return undefined;
      const token = subject.slice(start, end);
      if (i === this.tenantIndex) tenant = token;
      else if (token !== this.tokens[i]) return undefined;
      start = end + 1;
    }
    return start < subject.length ? tenant : undefined;
  }

  /** `subject` inside `tenant`'s space: `subjectFor('acme', 'orders')` is `acme.orders` with the default prefix. */
  subjectFor(tenant: string, subject: string): string {
    if (!TOKEN.test(tenant)) throw new TenantMismatchError(`tenant "${tenant}" is not one subject token`, { details: { tenant } });
    return `${this.prefix.replace(TENANT, tenant)}${subject}`;
  }

  /**
   * Undefined when an event claiming `tenant` may travel on `subject`: inside a tenant's space it
   * must carry exactly that tenant, outside every space it must carry none. Else the error saying why.
   */
  mismatch(subject: string, tenant: unknown): TenantMismatchError | undefined {
    const space = this.tenantOf(subject);
    if (space === tenant) return undefined;
    const claimed = typeof tenant === 'string' ? tenant : undefined;
    const why = space === undefined ? `carries tenant "${claimed}" outside every tenant space`
      : claimed === undefined ? `carries no tenant inside the space of tenant "${space}"`
        : `carries tenant "${claimed}" inside the space of tenant "${space}"`;
    return new TenantMismatchError(`an event on ${subject} ${why}`, { details: { subject, ...(space === undefined ? {} : { space }), ...(claimed === undefined ? {} : { tenant: claimed }) } });
  }
}

function invalid(message: string, field: string): OptionsInvalidError {
  return new OptionsInvalidError(message, { details: { field } });
}
