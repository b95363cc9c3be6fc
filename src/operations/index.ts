export { OperationsServer } from './server.js';
export type {
  LogSpecControl,
  OperationsServerDependencies,
  OperationsServerOptions,
  OperationsTlsOptions,
} from './server.js';
export { chainHealthCheck, ledgerWritableCheck, runHealthChecks } from './health.js';
export type { ChainHealthSource, FailedCheck, HealthCheck } from './health.js';
