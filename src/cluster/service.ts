// The server side of orderer.Cluster/Step (Fabric's cluster/service.go and comm.go:
// requestContext): every request names its channel; the sender is the consenter of that channel
// whose client_tls_cert has the public key of the TLS client certificate of the connection; the
// request goes to that channel's chain with the sender's ID. As in Fabric, any error ends the whole
// stream (status UNKNOWN with the reason); the sender opens a new stream on its next message.
// The server never sends a StepResponse (Fabric v2.5 does not either).
import * as grpc from '@grpc/grpc-js';
import { orderer } from '../protos/index.js';
import { errorMessage } from '../errors.js';
import type { ClusterEndpoint } from '../consensus/types.js';
import type { Logger } from '../logging.js';
import type { MemberMapping } from './members.js';

export const STEP_PATH = '/orderer.Cluster/Step';

const rawBytes = {
  requestSerialize: (value: Buffer) => value,
  requestDeserialize: (value: Buffer) => value,
  responseSerialize: (value: Buffer) => value,
  responseDeserialize: (value: Buffer) => value,
};

export const clusterServiceDefinition: grpc.ServiceDefinition = {
  Step: { path: STEP_PATH, requestStream: true, responseStream: true, ...rawBytes },
};

/** A channel this node is a consenter of: who may send to it, and where its messages go. */
export interface ClusterChannel {
  readonly members: MemberMapping;
  readonly endpoint: ClusterEndpoint;
}

export interface ClusterServiceDeps {
  /** The channel's current consenter set and chain; undefined when this node has no such channel. */
  channel(name: string): ClusterChannel | undefined;
  /** orderer.common.cluster.step: per-message debug, and why a stream was ended. */
  logger: Logger;
  /** Told when a Step stream opens and closes (cluster_comm_ingress_stream_count). */
  onStreamCount?: (open: number) => void;
}

/** Why a Step stream was ended; the message is what Fabric says. */
export class StepRefusal extends Error {
  override readonly name = 'StepRefusal';
}

export class ClusterService {
  private openStreams = 0;

  constructor(private readonly deps: ClusterServiceDeps) {}

  /** Handlers to add to a grpc.Server with clusterServiceDefinition. */
  get implementation(): grpc.UntypedServiceImplementation {
    return { Step: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => this.step(call) };
  }

  private step(call: grpc.ServerDuplexStream<Buffer, Buffer>): void {
    const peer = call.getPeer();
    const certificate = call.getAuthContext()?.sslPeerCertificate?.raw;
    this.deps.onStreamCount?.(++this.openStreams);
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      this.deps.onStreamCount?.(--this.openStreams);
    };
    const refuse = (reason: string) => {
      if (ended) return;
      this.deps.logger.warn({ peer, reason }, 'ending cluster Step stream');
      finish();
      call.emit('error', { code: grpc.status.UNKNOWN, details: reason });
    };
    call.on('data', (bytes: Buffer) => {
      if (ended) return;
      try {
        this.dispatch(bytes, certificate, refuse);
      } catch (err) {
        refuse(errorMessage(err));
      }
    });
    call.on('end', () => {
      finish();
      call.end();
    });
    call.on('error', finish);
    call.on('cancelled', finish);
  }

  private dispatch(bytes: Buffer, certificate: Buffer | undefined, refuse: (reason: string) => void): void {
    let request: orderer.StepRequest;
    try {
      request = orderer.StepRequest.decode(bytes);
    } catch (err) {
      throw new StepRefusal(`malformed StepRequest: ${errorMessage(err)}`);
    }
    const consensus = request.consensusRequest;
    const submit = request.submitRequest;
    const channelName = consensus?.channel ?? submit?.channel;
    if (!consensus && !submit) throw new StepRefusal('message is neither a Submit nor a Consensus request');
    if (!channelName) throw new StepRefusal('badly formatted message, cannot extract channel');
    const channel = this.deps.channel(channelName);
    if (!channel) throw new StepRefusal(`channel ${channelName} doesn't exist`);
    if (!certificate?.length) throw new StepRefusal('no TLS certificate sent');
    const sender = channel.members.lookupByClientCert(certificate);
    if (!sender) throw new StepRefusal("certificate extracted from TLS connection isn't authorized");
    // The chain takes the message's place synchronously and settles later: the stream goes on
    // reading (a chain never makes the network wait for its disk). A later refusal still ends it.
    const settled = consensus
      ? channel.endpoint.consensus(consensus, sender.id)
      : channel.endpoint.submit(submit!, sender.id);
    settled.catch((err: unknown) => refuse(errorMessage(err)));
    this.deps.logger.debug(
      { channel: channelName, from: sender.id, kind: consensus ? 'consensus' : 'submit' },
      'received cluster message',
    );
  }
}
