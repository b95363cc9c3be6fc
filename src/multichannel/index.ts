export * from './blockwriter.js';
export * from './chainsupport.js';
export * from './registrar.js';
export * from './blockcreator.js';
