// Turns whatever a Kafka client library threw into an OrdererError that says what failed and
// whether trying again can help. Pure: it reads only the error tree (AggregateError.errors and
// Error.cause), so it works for any client that nests errors that way (@platformatic/kafka does:
// MultipleErrors > NetworkError > cause, ResponseError > ProtocolError{apiId, canRetry}).
import { OrdererError, type ErrorKind } from '../../errors.js';

export type KafkaFailureReason =
  | 'unreachable' // no TCP connection or it broke
  | 'timeout'
  | 'authentication' // SASL refused
  | 'tls' // certificate not trusted, wrong name, expired, handshake refused
  | 'authorization' // ACLs refused the operation
  | 'leadership' // leader moving, not enough in-sync replicas, epochs: passes once the cluster settles
  | 'unknown-topic'
  | 'offset-out-of-range'
  | 'too-large'
  | 'invalid-request' // bad topic name, partitions, replication factor, configs
  | 'closed' // the client was closed while the operation ran
  | 'other';

export interface KafkaErrorContext {
  operation: string;
  topic?: string;
  partition?: number;
}

export interface KafkaFailureSummary {
  kind: ErrorKind;
  reason: KafkaFailureReason;
  retriable: boolean;
  /** Kafka protocol error names found in the tree (e.g. NOT_LEADER_OR_FOLLOWER). */
  kafkaErrors: string[];
  /** One line per error in the tree, outermost first. */
  causes: string[];
}

interface ErrorLike {
  message?: unknown;
  code?: unknown;
  apiId?: unknown;
  canRetry?: unknown;
  errors?: unknown;
  cause?: unknown;
}

const leadershipErrors = new Set([
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'NOT_ENOUGH_REPLICAS',
  'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
  'OFFSET_NOT_AVAILABLE',
  'BROKER_NOT_AVAILABLE',
  'REPLICA_NOT_AVAILABLE',
  'KAFKA_STORAGE_ERROR',
  'NOT_CONTROLLER',
  'REQUEST_TIMED_OUT',
  'NETWORK_EXCEPTION',
  'THROTTLING_QUOTA_EXCEEDED',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
]);
const authenticationErrors = new Set([
  'SASL_AUTHENTICATION_FAILED',
  'ILLEGAL_SASL_STATE',
  'UNSUPPORTED_SASL_MECHANISM',
]);
const authorizationErrors = new Set([
  'TOPIC_AUTHORIZATION_FAILED',
  'CLUSTER_AUTHORIZATION_FAILED',
  'GROUP_AUTHORIZATION_FAILED',
  'TRANSACTIONAL_ID_AUTHORIZATION_FAILED',
]);
const invalidRequestErrors = new Set([
  'INVALID_TOPIC_EXCEPTION',
  'INVALID_PARTITIONS',
  'INVALID_REPLICATION_FACTOR',
  'INVALID_REPLICA_ASSIGNMENT',
  'INVALID_CONFIG',
  'POLICY_VIOLATION',
  'INVALID_REQUEST',
  'UNSUPPORTED_VERSION',
  'INVALID_REQUIRED_ACKS',
]);
const networkCodes = new Set([
  'PLT_KFK_NETWORK',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNABORTED',
  'ERR_SOCKET_CLOSED',
]);
const timeoutCodes = new Set(['PLT_KFK_TIMEOUT', 'ETIMEDOUT', 'ERR_SOCKET_CONNECTION_TIMEOUT']);

function walk(
  error: unknown,
  visit: (e: ErrorLike, depth: number) => void,
  depth = 0,
  seen = new Set<unknown>(),
) {
  if (error === null || typeof error !== 'object' || seen.has(error) || depth > 12) return;
  seen.add(error);
  const e = error as ErrorLike;
  visit(e, depth);
  if (Array.isArray(e.errors)) for (const inner of e.errors) walk(inner, visit, depth + 1, seen);
  if (e.cause !== undefined) walk(e.cause, visit, depth + 1, seen);
}

function isTlsFailure(code: string, message: string): boolean {
  return (
    code.startsWith('ERR_TLS_') ||
    code.startsWith('ERR_SSL_') ||
    code.includes('CERT') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' ||
    /certificate|handshake|\bssl\b|\btls\b/i.test(message)
  );
}

/** Classifies an error thrown by a Kafka client. Deterministic; the most specific finding wins. */
export function summarizeKafkaFailure(error: unknown): KafkaFailureSummary {
  const kafkaErrors: string[] = [];
  const causes: string[] = [];
  const codes: string[] = [];
  let anyRetriable = false;
  let anyNonRetriableProtocolError = false;
  let tls = false;
  let unknownTopic = false;
  walk(error, (e, depth) => {
    const message = typeof e.message === 'string' ? e.message : String(e.message ?? '');
    const code = typeof e.code === 'string' ? e.code : '';
    const apiId = typeof e.apiId === 'string' ? e.apiId : '';
    causes.push(`${'  '.repeat(depth)}${[apiId || code, message].filter(Boolean).join(': ')}`);
    if (apiId) {
      kafkaErrors.push(apiId);
      if (e.canRetry === true) anyRetriable = true;
      if (e.canRetry === false) anyNonRetriableProtocolError = true;
    }
    if (code) codes.push(code);
    if (isTlsFailure(code, message)) tls = true;
    if (/^unknown topic/i.test(message)) unknownTopic = true;
  });
  const has = (set: Set<string>) => kafkaErrors.some((name) => set.has(name));
  const base = { kafkaErrors, causes };

  if (error instanceof OrdererError) {
    return { kind: error.kind, reason: 'other', retriable: error.kind === 'unavailable', ...base };
  }
  if (has(authenticationErrors) || codes.includes('PLT_KFK_AUTHENTICATION')) {
    return { kind: 'unavailable', reason: 'authentication', retriable: false, ...base };
  }
  if (has(authorizationErrors))
    return { kind: 'unavailable', reason: 'authorization', retriable: false, ...base };
  if (kafkaErrors.includes('OFFSET_OUT_OF_RANGE')) {
    return { kind: 'not-found', reason: 'offset-out-of-range', retriable: false, ...base };
  }
  if (kafkaErrors.includes('MESSAGE_TOO_LARGE') || kafkaErrors.includes('RECORD_LIST_TOO_LARGE')) {
    return { kind: 'too-large', reason: 'too-large', retriable: false, ...base };
  }
  if (
    kafkaErrors.includes('UNKNOWN_TOPIC_OR_PARTITION') ||
    kafkaErrors.includes('UNKNOWN_TOPIC_ID') ||
    unknownTopic
  ) {
    return { kind: 'unavailable', reason: 'unknown-topic', retriable: true, ...base };
  }
  if (kafkaErrors.includes('INVALID_REPLICATION_FACTOR')) {
    // A replication factor above the number of live brokers: may pass once more brokers are up.
    return { kind: 'unavailable', reason: 'invalid-request', retriable: true, ...base };
  }
  if (has(invalidRequestErrors))
    return { kind: 'bad-request', reason: 'invalid-request', retriable: false, ...base };
  if (has(leadershipErrors)) return { kind: 'unavailable', reason: 'leadership', retriable: true, ...base };
  if (tls) return { kind: 'unavailable', reason: 'tls', retriable: false, ...base };
  if (codes.some((code) => timeoutCodes.has(code))) {
    return { kind: 'unavailable', reason: 'timeout', retriable: true, ...base };
  }
  if (
    codes.some((code) => networkCodes.has(code)) ||
    /cannot connect to any broker/i.test(causes.join('\n'))
  ) {
    return { kind: 'unavailable', reason: 'unreachable', retriable: true, ...base };
  }
  if (kafkaErrors.length > 0) {
    return {
      kind: 'unavailable',
      reason: 'other',
      retriable: anyRetriable || !anyNonRetriableProtocolError,
      ...base,
    };
  }
  if (codes.some((code) => code.startsWith('PLT_KFK_'))) {
    return { kind: 'unavailable', reason: 'other', retriable: true, ...base };
  }
  return { kind: 'internal', reason: 'other', retriable: false, ...base };
}

const advice: Record<KafkaFailureReason, string> = {
  unreachable: 'check that the Kafka brokers run and that the addresses and ports are right',
  timeout: 'the brokers did not answer in time; check their load and the network',
  authentication: 'check the SASL/PLAIN username and password configured for Kafka',
  tls: 'check the Kafka TLS settings: the root CAs must sign the broker certificate, and the client certificate and key must match what the brokers trust',
  authorization: "grant this client's principal the ACLs it needs on the topic",
  leadership:
    'the partition leader is moving or too few replicas are in sync; it should pass once the cluster settles',
  'unknown-topic': 'create the topic, or enable auto.create.topics.enable on the brokers',
  'offset-out-of-range':
    'the partition no longer holds (or does not yet hold) that offset; check log retention (Fabric needs log.retention.ms=-1)',
  'too-large':
    "raise the brokers' message.max.bytes and replica.fetch.max.bytes above the channel's AbsoluteMaxBytes",
  'invalid-request': 'check the topic name, partition count, replication factor and topic configs',
  closed: 'the Kafka client was closed',
  other: 'see the causes',
};

/** An OrdererError for a failed Kafka operation, with details { operation, reason, retriable, ... }. */
export function kafkaFailure(error: unknown, context: KafkaErrorContext): OrdererError {
  if (error instanceof OrdererError) return error;
  const summary = summarizeKafkaFailure(error);
  const where =
    context.topic === undefined
      ? ''
      : context.partition === undefined
        ? ` on topic ${context.topic}`
        : ` on topic ${context.topic} partition ${context.partition}`;
  const innermost = summary.causes.at(-1)?.trim() ?? String(error);
  return new OrdererError(
    summary.kind,
    `Kafka ${context.operation}${where} failed (${summary.reason}: ${innermost}): ${advice[summary.reason]}`,
    {
      ...context,
      reason: summary.reason,
      retriable: summary.retriable,
      kafkaErrors: summary.kafkaErrors,
      causes: summary.causes,
    },
    { cause: error },
  );
}

/** True when trying the same operation again later can succeed. */
export function isRetriableKafkaFailure(error: unknown): boolean {
  if (error instanceof OrdererError) return error.details['retriable'] === true;
  return summarizeKafkaFailure(error).retriable;
}
