export * from './block.js';
export * from './envelope.js';
