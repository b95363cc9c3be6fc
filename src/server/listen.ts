// Listen addresses as Fabric's orderer.yaml writes them: "host:port", "[::1]:port", ":port" (every
// interface, as Go listens). Port 0 picks a free port.
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
