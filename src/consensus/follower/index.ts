export { FollowerChain } from './chain.js';
export type {
  FollowerBlockPuller,
  FollowerChainDependencies,
  FollowerChainOptions,
  JoinPoint,
} from './chain.js';
