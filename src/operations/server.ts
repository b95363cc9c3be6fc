// The operations endpoint (Fabric's core/operations/system.go), over node:http or node:https:
//   GET /healthz         200 {"status":"OK","time"} or 503 {... "failed_checks":[{component,reason}]}
//   GET /version         200 {"CommitSHA","Version"}
//   GET|PUT /logspec     200 {"spec"} / 204; a bad spec is 400 {"Error"}
//   GET /metrics         Prometheus text format, only when the metrics provider is prometheus
// As in Fabric, with TLS enabled /metrics and /logspec answer 401 unless the client presented a
// certificate issued by one of Operations.TLS.ClientRootCAs, while /healthz and /version stay open
// to any client that completes the TLS handshake (load balancers and probes rarely hold client
// certificates). With ClientAuthRequired the handshake itself needs such a certificate, so nothing
// is reachable without one.
import { parseListenAddress } from '../server/listen.js';
import { httpStatusOf } from '../status.js';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { OrdererError, badRequest, errorMessage } from '../errors.js';
import type { Clock } from '../clock.js';
import type { Logger } from '../logging.js';
import type { VersionInfo } from '../version.js';
import { isExposition, type MetricsProvider } from '../metrics/index.js';
import { runHealthChecks, type HealthCheck } from './health.js';

export interface OperationsTlsOptions {
  enabled: boolean;
  /** PEM file paths, as LocalConfig.operations.tls holds them. */
  certificate: string;
  privateKey: string;
  clientAuthRequired: boolean;
  clientRootCAs: readonly string[];
}

export interface OperationsServerOptions {
  /**
   * host:port (Operations.ListenAddress). ":port" listens on every interface, as Go does; port 0
   * picks a free port; an empty address means 127.0.0.1 on a free port.
   */
  listenAddress: string;
  tls: OperationsTlsOptions;
  /** /healthz answers 408 when the checks take longer (Fabric: 30 s). */
  healthCheckTimeoutMs?: number;
  /** Largest PUT /logspec body accepted. */
  maxRequestBodyBytes?: number;
}

/** What the operations server needs of the logging system. */
export interface LogSpecControl {
  spec(): string;
  /** Throws a bad-request OrdererError for an invalid spec. */
  setSpec(spec: string): void;
}

export interface OperationsServerDependencies {
  logging: LogSpecControl;
  /** Served at /metrics when it is a prometheus provider; any other provider means 404 there. */
  metrics: MetricsProvider;
  /**
   * Called before each /metrics scrape, to bring gauges that mirror state (channel status) up to
   * date; an error in it is logged and the scrape goes on.
   */
  beforeScrape?: () => void;
  healthChecks?: readonly HealthCheck[];
  version: VersionInfo;
  logger: Logger;
  /** The time in /healthz answers. */
  clock: Clock;
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

/** Parses Operations.ListenAddress into what net.Server.listen takes. */

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Answers a failure with the HTTP status of its code and Fabric's {"Error": message} body. */
function sendError(res: http.ServerResponse, err: unknown): void {
  sendJson(res, httpStatusOf(err), { Error: errorMessage(err) });
}

export class OperationsServer {
  private readonly server: http.Server;
  private readonly routes = new Map<string, { route: Route; secure: boolean }>();
  private readonly checks = new Map<string, HealthCheck>();
  private readonly clock: Clock;
  private boundPort = 0;
  private started = false;

  constructor(
    private readonly options: OperationsServerOptions,
    private readonly deps: OperationsServerDependencies,
  ) {
    this.clock = deps.clock;
    for (const check of deps.healthChecks ?? []) this.registerHealthCheck(check);

    const tls = options.tls;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    if (tls.enabled) {
      const read = (path: string, what: string) => {
        try {
          return readFileSync(path);
        } catch (err) {
          throw badRequest(`cannot read ${what} ${path} (Operations.TLS): ${errorMessage(err)}`);
        }
      };
      const server = https.createServer(
        {
          cert: read(tls.certificate, 'TLS certificate'),
          key: read(tls.privateKey, 'TLS private key'),
          // An explicit (possibly empty) list: never fall back to the public web CAs for clients.
          ca: tls.clientRootCAs.map((path) => read(path, 'TLS client root CA')),
          requestCert: true,
          rejectUnauthorized: tls.clientAuthRequired,
          minVersion: 'TLSv1.2',
        },
        handler,
      );
      // Go's VerifyClientCertIfGiven: a certificate that is presented must verify.
      server.on('secureConnection', (socket: TLSSocket) => {
        if (!socket.authorized && socket.getPeerCertificate()?.raw) {
          this.deps.logger.debug(
            { remote: socket.remoteAddress, err: String(socket.authorizationError) },
            'operations client presented an untrusted certificate',
          );
          socket.destroy();
        }
      });
      this.server = server;
    } else {
      this.server = http.createServer(handler);
    }
    // Fabric: ReadTimeout 10 s.
    this.server.requestTimeout = 10_000;
    this.server.headersTimeout = 10_000;

    this.routes.set('/healthz', { route: (req, res) => this.healthz(req, res), secure: false });
    this.routes.set('/version', { route: (req, res) => this.version(req, res), secure: false });
    this.routes.set('/logspec', { route: (req, res) => this.logspec(req, res), secure: true });
    if (isExposition(deps.metrics)) {
      this.routes.set('/metrics', { route: (req, res) => this.metrics(req, res), secure: true });
    }
  }

  /** Adds a health check (Fabric's RegisterChecker); one check per component name. */
  registerHealthCheck(check: HealthCheck): void {
    if (this.checks.has(check.component)) {
      throw badRequest(`a health check for component '${check.component}' is already registered`);
    }
    this.checks.set(check.component, check);
  }

  /** Starts listening; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.started) return this.boundPort;
    const { host, port } = parseListenAddress(this.options.listenAddress, 'Operations.ListenAddress');
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        reject(
          badRequest(
            `operations server cannot listen on ${this.options.listenAddress || `${host}:${port}`}: ${err.message}; check Operations.ListenAddress`,
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen({ host, port }, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.started = true;
    this.boundPort = (this.server.address() as AddressInfo).port;
    this.deps.logger.info(
      { address: `${host ?? '*'}:${this.boundPort}`, tls: this.options.tls.enabled },
      'operations server listening',
    );
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops accepting connections and closes the open ones. */
  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://operations').pathname;
    const remote = req.socket.remoteAddress;
    const entry = this.routes.get(path);
    try {
      if (!entry) {
        res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end('404 page not found\n');
      } else if (entry.secure && this.options.tls.enabled && !this.hasVerifiedClientCert(req)) {
        // Fabric's RequireCert middleware.
        sendError(
          res,
          new OrdererError(
            'client-certificate-required',
            `${path} requires a client TLS certificate issued by one of Operations.TLS.ClientRootCAs`,
            { path },
          ),
        );
      } else {
        await entry.route(req, res);
      }
    } catch (err) {
      this.deps.logger.warn({ path, err: errorMessage(err) }, 'operations request failed');
      if (!res.headersSent) sendError(res, err);
      else res.destroy();
    }
    this.deps.logger.debug(
      { method: req.method, path, status: res.statusCode, remote },
      'operations request',
    );
  }

  private hasVerifiedClientCert(req: http.IncomingMessage): boolean {
    const socket = req.socket as TLSSocket;
    return socket.authorized === true && !!socket.getPeerCertificate?.()?.raw;
  }

  private async healthz(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET') {
      res.writeHead(405, { Allow: 'GET' });
      res.end();
      return;
    }
    const timeoutMs = this.options.healthCheckTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    try {
      const failed = await Promise.race([runHealthChecks(this.checks.values()), timedOut]);
      if (failed === 'timeout') {
        sendError(
          res,
          new OrdererError(
            'health-check-timeout',
            `health checks did not complete within ${timeoutMs / 1000}s`,
            {
              timeoutMs,
            },
          ),
        );
        return;
      }
      const time = new Date(this.clock.now()).toISOString();
      if (failed.length === 0) {
        sendJson(res, 200, { status: 'OK', time });
      } else {
        this.deps.logger.warn({ failed_checks: failed }, 'health check failed');
        sendJson(res, 503, { status: 'Service Unavailable', time, failed_checks: failed });
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async version(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method !== 'GET') {
      sendError(res, badRequest(`invalid request method: ${req.method}`, { method: req.method }));
      return;
    }
    sendJson(res, 200, { CommitSHA: this.deps.version.commit, Version: this.deps.version.version });
  }

  private async logspec(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (req.method === 'GET') {
      sendJson(res, 200, { spec: this.deps.logging.spec() });
      return;
    }
    if (req.method !== 'PUT') {
      sendError(res, badRequest(`invalid request method: ${req.method}`, { method: req.method }));
      return;
    }
    const body = await this.readBody(req);
    let spec: unknown;
    try {
      spec = (JSON.parse(body) as { spec?: unknown }).spec;
    } catch (err) {
      throw badRequest(`the body must be JSON like {"spec":"info:ledger=debug"}: ${errorMessage(err)}`);
    }
    if (typeof spec !== 'string') {
      throw badRequest('the body must be JSON with a string "spec", like {"spec":"info:ledger=debug"}');
    }
    this.deps.logging.setSpec(spec);
    this.deps.logger.info({ spec }, 'logging spec changed');
    res.writeHead(204);
    res.end();
  }

  private async metrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const provider = this.deps.metrics;
    if (!isExposition(provider)) return;
    try {
      this.deps.beforeScrape?.();
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'refreshing metrics before a scrape failed');
    }
    const text = await provider.scrape();
    res.writeHead(200, { 'Content-Type': provider.contentType, 'Content-Length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  private async readBody(req: http.IncomingMessage): Promise<string> {
    const limit = this.options.maxRequestBodyBytes ?? 64 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) {
        throw new OrdererError('too-large', `the request body is larger than ${limit} bytes`);
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks).toString('utf8');
  }
}
