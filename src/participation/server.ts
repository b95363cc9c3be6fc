// The orderer's admin HTTP(S) server (Fabric's Admin section of orderer.yaml), serving the channel
// participation API. With Admin.TLS enabled, clients must present a certificate issued by one of
// Admin.TLS.ClientRootCAs; as in Fabric, TLS without client authentication is refused at start-up.
import { parseListenAddress } from '../server/listen.js';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { badRequest, errorMessage } from '../errors.js';
import type { Logger } from '../logging.js';
import type { LocalConfig } from '../config/index.js';
import { ParticipationHandler, type ChannelParticipationRegistrar } from './handler.js';

export interface AdminTlsOptions {
  enabled: boolean;
  /** File paths, as LocalConfig.admin.tls has them. */
  certificate: string;
  privateKey: string;
  clientAuthRequired: boolean;
  clientRootCAs: string[];
}

export interface AdminServerOptions {
  /** host:port (Admin.ListenAddress); port 0 picks a free port. */
  listenAddress: string;
  tls: AdminTlsOptions;
  /** ChannelParticipation.Enabled. */
  enabled: boolean;
  /** ChannelParticipation.MaxRequestBodySize, bytes. */
  maxRequestBodySize: number;
}

export interface AdminServerDeps {
  registrar: ChannelParticipationRegistrar;
  logger: Logger;
}

/** The admin server's options from the orderer's local config. */
export function adminServerOptions(config: LocalConfig): AdminServerOptions {
  const tls = config.admin.tls;
  return {
    listenAddress: config.admin.listenAddress,
    tls: {
      enabled: tls.enabled,
      certificate: tls.certificate,
      privateKey: tls.privateKey,
      clientAuthRequired: tls.clientAuthRequired,
      clientRootCAs: tls.clientRootCAs,
    },
    enabled: config.channelParticipation.enabled,
    maxRequestBodySize: config.channelParticipation.maxRequestBodySize,
  };
}

/** Splits host:port ("[::1]:9443", ":9443" for every interface). */

export class AdminServer {
  private readonly handler: ParticipationHandler;
  private server: http.Server | https.Server | undefined;
  private boundPort: number | undefined;

  constructor(
    private readonly options: AdminServerOptions,
    private readonly deps: AdminServerDeps,
  ) {
    if (options.tls.enabled && !options.tls.clientAuthRequired) {
      throw badRequest(
        "Admin.TLS.ClientAuthRequired must be true when Admin.TLS.Enabled is true: the admin endpoint requires mutual TLS (set ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true and list your admin clients' CA in Admin.TLS.ClientRootCAs)",
      );
    }
    parseListenAddress(options.listenAddress, 'Admin.ListenAddress');
    this.handler = new ParticipationHandler(
      { enabled: options.enabled, maxRequestBodySize: options.maxRequestBodySize },
      { registrar: deps.registrar, logger: deps.logger },
    );
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.server) throw badRequest('admin server already started');
    const { host, port } = parseListenAddress(this.options.listenAddress, 'Admin.ListenAddress');
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      void this.handler.handle(req, res);
    };
    const server = this.options.tls.enabled
      ? https.createServer({ ...this.tlsMaterial(), minVersion: 'TLSv1.2' }, onRequest)
      : http.createServer(onRequest);
    server.on('tlsClientError', (err: Error) => {
      this.deps.logger.warn({ err: err.message }, 'admin TLS handshake failed');
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        reject(
          badRequest(`cannot listen on Admin.ListenAddress ${this.options.listenAddress}: ${err.message}`),
        );
      };
      server.once('error', onError);
      server.listen(port, host, () => {
        server.off('error', onError);
        resolve();
      });
    });
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.deps.logger.info(
      {
        address: `${host ?? '0.0.0.0'}:${this.boundPort}`,
        tls: this.options.tls.enabled,
        channelParticipation: this.options.enabled,
      },
      'admin server listening',
    );
    return this.boundPort;
  }

  get port(): number | undefined {
    return this.boundPort;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private tlsMaterial(): https.ServerOptions {
    const tls = this.options.tls;
    const read = (path: string, what: string) => {
      if (!path) throw badRequest(`${what} is not set; it is required when Admin.TLS.Enabled is true`);
      try {
        return readFileSync(path);
      } catch (err) {
        throw badRequest(`cannot read ${what} ${path}: ${errorMessage(err)}`);
      }
    };
    if (tls.clientRootCAs.length === 0) {
      throw badRequest(
        "Admin.TLS.ClientRootCAs is empty: no admin client certificate could be verified; list the CA certificates that issue your admin clients' TLS certificates",
      );
    }
    return {
      cert: read(tls.certificate, 'Admin.TLS.Certificate'),
      key: read(tls.privateKey, 'Admin.TLS.PrivateKey'),
      ca: tls.clientRootCAs.map((path) => read(path, 'Admin.TLS.ClientRootCAs file')),
      requestCert: true,
      rejectUnauthorized: true,
    };
  }
}
