export * from './block.js';
export * from './envelope.js';
export * from './verify.js';
