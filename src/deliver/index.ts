export * from './handler.js';
export * from './stream-writer.js';
