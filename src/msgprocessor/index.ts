export * from './filters.js';
export * from './processor.js';
