export { BlockPuller, isPullerClosed } from './block-puller.js';
export type { BlockPullerDependencies, BlockPullerOptions, BlockSource, BlockStream, PulledBlock } from './block-puller.js';
export { PullPlan, blockProblem, headerHashOf } from './pull-plan.js';
export type { AfterFailure, PullPlanOptions } from './pull-plan.js';
export { DeliverBlockSource, deliverResponseParts } from './deliver-client.js';
export type { DeliverClientDependencies, DeliverClientOptions } from './deliver-client.js';
export { ordererTlsRootsPem, replicationEndpoints } from './endpoints.js';
