import { SignalbusError } from '../../core/index.js';

/**
 * An event arrived after every window it belongs to was emitted (and, with `late: merge`, past
 * the allowed lateness). Permanent: the Bus dead-letters it at once with `dlqreason`
 * SB_ERR_AGGREGATE_LATE.
 */
export class LateEventError extends SignalbusError {
  readonly code = 'SB_ERR_AGGREGATE_LATE';
  readonly permanent = true;
}
