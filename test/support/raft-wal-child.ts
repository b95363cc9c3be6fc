// Child process for the Raft WAL kill -9 test: saves one entry per Ready forever, a few saves in
// flight at once (so they share fsyncs), a compaction snapshot now and then, and prints
// "durable N" once the save of entry N has resolved, i.e. once entry N is fsync'd.
import { RaftWal } from '../../src/consensus/etcdraft/storage/index.js';
import { killTestEntry } from './raft-wal-kill.js';

const [root, segmentSizeBytes, snapshotEvery, entryBytes] = process.argv.slice(2);
const entryScale = Number(entryBytes);

const { wal, recovered } = await RaftWal.open({
  walDir: `${root}/wal`,
  snapDir: `${root}/snap`,
  channel: 'killtest',
  segmentSizeBytes: Number(segmentSizeBytes),
});
if (recovered.entries.length > 0 || recovered.snapshot)
  throw new Error('the kill test starts from an empty log');
const every = Number(snapshotEvery);
const inFlight = new Set<Promise<void>>();
for (let index = 1; ; index++) {
  const entry = killTestEntry(index, entryScale);
  const durable = wal
    .save({ entries: [entry], hardState: { term: entry.term, vote: 1, commit: index - 1 } })
    .then(() => {
      process.stdout.write(`durable ${index}\n`);
      inFlight.delete(durable);
    });
  inFlight.add(durable);
  if (every > 0 && index > 10 && index % every === 0) {
    const at = index - 10;
    const snapshot = wal.saveSnapshot({
      data: Buffer.from(`snapshot at ${at}`),
      metadata: {
        index: at,
        term: killTestEntry(at, entryScale).term,
        confState: {
          voters: [1, 2, 3],
          learners: [],
          votersOutgoing: [],
          learnersNext: [],
          autoLeave: false,
        },
      },
    });
    inFlight.add(snapshot);
    void snapshot.then(() => inFlight.delete(snapshot));
  }
  if (inFlight.size >= 8) await Promise.race(inFlight);
}
