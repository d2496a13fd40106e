import { ContractInvalidError } from '../core/errors.js';
import { formatIssues, type ContractVersion, type ValidationIssue } from './contract.js';

/**
 * ContractInvalidError for data that fails a contract version, with every path in the message
 * (it ends up in `dlqmessage`) and in `details.paths`.
 *
 * @example throw invalid(cv, [{ path: '/temperature', message: 'must be number', keyword: 'type' }]);
 */
export function invalid(cv: ContractVersion, issues: ValidationIssue[], context = 'data'): ContractInvalidError {
  return new ContractInvalidError(`${cv.name}@${cv.version} ${context} is invalid: ${formatIssues(issues)}`,
    { details: { contract: cv.name, version: cv.version, issues, paths: issues.map((i) => i.path) } });
}
