export { OperationsServer } from './server.js';
export type {
  LogSpecControl,
  OperationsServerDependencies,
  OperationsServerOptions,
  OperationsTlsOptions,
} from './server.js';
export { chainHealthCheck, etcdraftLeaderCheck, ledgerWritableCheck, runHealthChecks } from './health.js';
export type { ChainHealthSource, FailedCheck, HealthCheck, LeaderlessChannelSource } from './health.js';
