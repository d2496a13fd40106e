import { SignalbusError } from '../core/index.js';

/**
 * A checkpoint save was refused because the stored revision is no longer the one the saver
 * loaded: another instance took the partition (or a stale owner is still writing). The saver
 * must stop touching the partition; a legitimate owner reloads and resumes from what is stored.
 */
export class CheckpointFencedError extends SignalbusError { readonly code = 'SB_ERR_SCALE_FENCED'; }

/**
 * The coordination's broker connection is down (it reconnects in the background), or the broker
 * refused what was asked: the checkpoint save/load or probe did not happen. Try again next round.
 */
export class CoordinationUnavailableError extends SignalbusError { readonly code = 'SB_ERR_SCALE_UNAVAILABLE'; }
