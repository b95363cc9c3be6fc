// Local configuration of the orderer: orderer.yaml + ORDERER_* environment overrides, with Fabric
// v2.5's defaults, path translation and strict validation.
export { loadLocalConfig, nodeConfigFileSystem } from './load.js';
export type { ConfigFileSystem, LoadLocalConfigOptions } from './load.js';
export { buildLocalConfig } from './build.js';
export type { BuildLocalConfigOptions, BuiltLocalConfig } from './build.js';
export { ConfigError, describeProblem, describeSource } from './errors.js';
export type { ConfigProblem, ConfigSource } from './errors.js';
export { DEFAULTS as LOCAL_CONFIG_DEFAULTS } from './defaults.js';
export { ORDERER_YAML_SCHEMA, envVariableFor, listLeaves } from './schema.js';
export type { LeafEntry, LeafNode, LeafType, SchemaNode, SectionNode } from './schema.js';
export { formatDuration, parseByteSize, parseGoDuration } from './values.js';
export type * from './types.js';
