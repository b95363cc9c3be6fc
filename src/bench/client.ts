// A minimal AtomicBroadcast client over grpc-js: raw bytes on the wire, encoded and decoded with
// this project's protos, so the load generator ships with the orderer (no SDK needed).
import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';

const raw = (value: Buffer) => value;

export interface AtomicBroadcastClientOptions {
  /** host:port */
  readonly address: string;
  /** PEM of the CA that issued the orderer's TLS certificate; plaintext when omitted. */
  readonly tlsCaPem?: Buffer;
  /** Override of the TLS server name (when the address is not in the certificate's SANs). */
  readonly serverNameOverride?: string;
  /**
   * HTTP/2 receive window of this connection in bytes. Node's default (64 KiB) makes a reader of
   * MB-sized blocks wait for a WINDOW_UPDATE round trip every 64 KiB.
   */
  readonly receiveWindowBytes?: number;
}

export type RawDuplex = grpc.ClientDuplexStream<Buffer, Buffer>;

export class AtomicBroadcastClient {
  private readonly client: grpc.Client;

  constructor(readonly options: AtomicBroadcastClientOptions) {
    const credentials = options.tlsCaPem
      ? grpc.credentials.createSsl(options.tlsCaPem)
      : grpc.credentials.createInsecure();
    this.client = new grpc.Client(options.address, credentials, {
      'grpc.max_receive_message_length': 256 * 1024 * 1024,
      'grpc.max_send_message_length': 256 * 1024 * 1024,
      // A private pool, so close() really closes the connection and the process can exit.
      'grpc.use_local_subchannel_pool': 1,
      // No transparent retries: grpc-js would otherwise keep every message written on a stream in
      // a retry buffer until the call commits, costing the load generator CPU and memory.
      'grpc.enable_retries': 0,
      ...(options.serverNameOverride ? { 'grpc.ssl_target_name_override': options.serverNameOverride } : {}),
      ...(options.receiveWindowBytes ? { 'grpc-node.flow_control_window': options.receiveWindowBytes } : {}),
    });
  }

  static withTlsCaFile(address: string, tlsCaFile: string | undefined): AtomicBroadcastClient {
    return new AtomicBroadcastClient({
      address,
      ...(tlsCaFile ? { tlsCaPem: readFileSync(tlsCaFile) } : {}),
    });
  }

  /** Waits until the channel is connected (or fails after timeoutMs). */
  waitForReady(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + timeoutMs, (err) =>
        err
          ? reject(new Error(`cannot connect to the orderer at ${this.options.address}: ${err.message}`))
          : resolve(),
      );
    });
  }

  broadcast(): RawDuplex {
    return this.client.makeBidiStreamRequest('/orderer.AtomicBroadcast/Broadcast', raw, raw);
  }

  deliver(): RawDuplex {
    return this.client.makeBidiStreamRequest('/orderer.AtomicBroadcast/Deliver', raw, raw);
  }

  close(): void {
    this.client.close();
  }
}
