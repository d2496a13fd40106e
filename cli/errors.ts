import { SignalbusError } from '../core/index.js';

/** Wrong command-line usage: one clear line and exit code 2. */
export class UsageError extends SignalbusError { readonly code = 'SB_ERR_CLI_USAGE'; }
