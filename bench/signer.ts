// The client every benchmark signs as: User1 of Org1MSP from the Fabric fixtures' crypto material.
import { join } from 'node:path';
import type { ClientSigner } from '../src/bench/index.js';
import { systemClock } from '../src/clock.js';
import { loadLocalMsp } from '../src/msp/index.js';
import { CRYPTO } from '../test/support/fabric-clients.js';

export function org1UserSigner(): ClientSigner {
  const dir = join(CRYPTO, 'peerOrganizations/org1.example.com/users/User1@org1.example.com/msp');
  return loadLocalMsp({ dir, mspId: 'Org1MSP', clock: systemClock }).signer;
}
