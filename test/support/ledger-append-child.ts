// Child process for the kill -9 test: appends blocks forever (a few in flight, as a consenter
// pipelines them) and prints "committed N" once append(N) has resolved, i.e. once N is durable.
import { FileBlockStore } from '../../src/ledger/index.js';
import { makeBlock } from './ledger.js';
import { systemClock } from '../../src/clock.js';

const [directory, maxBlockFileSize] = process.argv.slice(2);
const store = await FileBlockStore.open(
  {
    channelId: 'killtest',
    directory: directory!,
    maxBlockFileSize: Number(maxBlockFileSize),
  },
  { clock: systemClock },
);
let previous: Uint8Array = Buffer.alloc(0);
let number = store.height();
if (number > 0) throw new Error('the kill test starts from an empty ledger');
const inFlight = new Set<Promise<void>>();
for (;;) {
  const block = makeBlock(number, previous, { seed: 'kill', transactions: 3, transactionSize: 700 });
  previous = block.headerHash;
  const committed = store.append(block).then(() => {
    process.stdout.write(`committed ${block.number}\n`);
    inFlight.delete(committed);
  });
  inFlight.add(committed);
  number++;
  if (inFlight.size >= 4) await Promise.race(inFlight);
}
