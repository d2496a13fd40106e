import { SignalbusError } from '../../core/index.js';

/** A test file `signalbus test` cannot use: the message names the file and the JSON path. */
export class PipelineTestInvalidError extends SignalbusError { readonly code = 'SB_ERR_PIPELINE_TEST_INVALID'; }
