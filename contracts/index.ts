/**
 * Contracts: the registry (JSON Schema via ajv, protobuf via protobufjs), versions and
 * upcasters, the Bus hooks, the compatibility checker, AsyncAPI export and test helpers.
 *
 * @example
 * import { ContractRegistry } from 'signalbus/contracts';
 * const registry = new ContractRegistry();
 * const bus = new Bus({ service: 'filter', transport, contracts: registry.hooks() });
 */
export * from './contract.js';
export * from './semver.js';
export * from './upcasters.js';
export { ContractRegistry, standardSchemasDir, type ContractRegistryOptions } from './registry.js';
export { RegistryHooks } from './hooks.js';
export { ProtobufCodec, PROTOBUF_CONTENT_TYPE, isProtobuf } from './protobuf-codec.js';
export { ProtobufMessage } from './protobuf-schema.js';
export { readContractFiles, readContractFile } from './loader.js';
export { invalid as contractInvalidError } from './contract-errors.js';
export * from './compat/types.js';
export { checkCompatibility, checkHistory, parseMode, directionsOf, isTransitive, type HistoryFinding } from './compat/check.js';
export { jsonSchemaReads } from './compat/json-schema.js';
export { findCounterexample, explainJsonBreak, type Counterexample, type WitnessOptions } from './compat/witness.js';
export { protobufReads, protobufEvolution } from './compat/protobuf.js';
export { loadSchemaFile, documentsOf, jsonDocument } from './compat/schema-source.js';
export { toAsyncApi, toAsyncApiSchema, type AsyncApiContractRef, type AsyncApiOptions, type AsyncApiServerSpec, type AsyncApiService } from './asyncapi.js';
export { assertCompatible, assertValid, assertUpcasts, type SchemaInput, type ContractInput } from './testing.js';
export { runContractsCommand, runAsyncapiCommand, type CommandIo, type PipelineReader } from './cli.js';
