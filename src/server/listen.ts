// Listen addresses as Fabric's orderer.yaml writes them: "host:port", "[::1]:port", ":port" (every
// interface, as Go listens). Port 0 picks a free port.
import { createServer } from 'node:net';
import { badRequest } from '../errors.js';

export function parseListenAddress(
  address: string,
  setting: string,
): { host: string | undefined; port: number } {
  const value = address.trim();
  if (value === '') return { host: '127.0.0.1', port: 0 };
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 0 && port <= 65535)) {
    throw badRequest(
      `invalid ${setting} '${address}': use host:port, e.g. 127.0.0.1:8443, [::1]:8443, or :8443 for every interface (port 0 picks a free port)`,
    );
  }
  const host = match[1] ?? match[2];
  return { host: host ? host : undefined, port };
}

/** Why a listen failed: the errno code (EADDRINUSE, ...) and the reason as an operator reads it. */
export interface ListenProblem {
  code: string | undefined;
  reason: string;
}

/**
 * Why nothing can listen on host:port right now, found by trying it (a plain TCP listen, closed at
 * once): for explaining a listener that failed, whose own error (gRPC's "No address added out of
 * total 1 resolved") does not say. Undefined when the listen succeeds.
 */
export function listenProblem(host: string | undefined, port: number): Promise<ListenProblem | undefined> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.unref();
    probe.once('error', (err: NodeJS.ErrnoException) =>
      resolve({ code: err.code, reason: describeListenError(err, port) }),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
}

/** A listen error as an operator reads it. */
export function describeListenError(err: NodeJS.ErrnoException, port: number): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${port} is already in use by another process`;
    case 'EADDRNOTAVAIL':
      return 'that is not an address of this host';
    case 'EACCES':
      return `port ${port} needs privileges this process does not have`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    default:
      return err.message;
  }
}

/** What to do about a listen problem; `settings` names the keys (and variables) to change. */
export function listenRemedy(code: string | undefined, settings: string): string {
  switch (code) {
    case 'EADDRINUSE':
      return `stop the process that holds it, or set ${settings} to a free port`;
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `set ${settings} to an address of this host (0.0.0.0 listens on all of them)`;
    case 'EACCES':
      return `set ${settings} to a port above 1023, or grant the process CAP_NET_BIND_SERVICE`;
    default:
      return `check ${settings}`;
  }
}
