// `orderer bench`: a load generator and measurement kit for any AtomicBroadcast endpoint.
export { runBench, quantile, summarizeLatencies } from './run.js';
export type { BenchOptions, BenchReport, BenchProgress, BenchPhase, LatencySummary } from './run.js';
export { formatReport, formatProgress, TARGETS } from './report.js';
export {
  TerminalProgress,
  formatProgressLine,
  deliveryRate,
  type ProgressWriter,
  type TerminalProgressOptions,
} from './progress.js';
export { AtomicBroadcastClient, type AtomicBroadcastClientOptions } from './client.js';
export {
  transactionEnvelope,
  seekEnvelope,
  type ClientSigner,
  type SignedTx,
  type SeekPoint,
} from './envelopes.js';
export {
  sampleProcess,
  processExists,
  ProcessMonitor,
  type ProcessSample,
  type ProcessUsage,
} from './process-stats.js';
export { measureVerifyRate, type VerifyRate } from './verify-rate.js';
