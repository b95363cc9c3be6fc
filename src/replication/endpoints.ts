// Where a channel's blocks can be pulled from, and which TLS roots vouch for those orderers, as
// Fabric's EndpointconfigFromSupport reads them from the channel config: the OrdererEndpoints of
// each orderer org (or the global OrdererAddresses of older configs), and for etcdraft the
// consenters' host:port, which every consenter serves Deliver on.
import { etcdraft } from '../protos/index.js';
import type { ChannelConfigBundle } from '../channelconfig/types.js';

export function replicationEndpoints(bundle: ChannelConfigBundle): string[] {
  const endpoints: string[] = [];
  for (const org of bundle.orderer?.organizations.values() ?? []) endpoints.push(...org.endpoints);
  endpoints.push(...bundle.channel.ordererAddresses);
  const orderer = bundle.orderer;
  if (orderer?.consensusType === 'etcdraft' && orderer.consensusMetadata.length > 0) {
    try {
      for (const consenter of etcdraft.ConfigMetadata.decode(orderer.consensusMetadata).consenters ?? [])
        if (consenter.host) endpoints.push(`${consenter.host}:${consenter.port ?? 0}`);
    } catch {
      // The bundle was validated when built; a consenter list that does not decode adds no endpoints.
    }
  }
  return [...new Set(endpoints.filter((endpoint) => endpoint.length > 0))];
}

/** The TLS root and intermediate CAs of the channel's orderer orgs, PEM. */
export function ordererTlsRootsPem(bundle: ChannelConfigBundle): Buffer[] {
  const pems: Buffer[] = [];
  for (const org of bundle.orderer?.organizations.values() ?? []) {
    const msp = bundle.mspManager.msps.get(org.mspId);
    if (!msp) continue;
    for (const pem of [...msp.tlsRootCertsPem, ...msp.tlsIntermediateCertsPem]) pems.push(Buffer.from(pem));
  }
  return pems;
}
