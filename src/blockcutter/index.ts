export { BlockCutter, messageSizeBytes } from './blockcutter.js';
export type { BlockCutterOptions, BlockCutterDependencies } from './blockcutter.js';
