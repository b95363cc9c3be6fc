// Shared by the Raft WAL kill -9 test and its child process: what the child writes at each index.
import { EntryType, type Entry } from '../../src/consensus/etcdraft/storage/index.js';

/** entryBytes sets the scale: large entries make a write span many pages, so a kill can tear it. */
export function killTestEntry(index: number, entryBytes: number): Entry {
  const data = Buffer.alloc(entryBytes + ((index * 37) % entryBytes));
  for (let i = 0; i < data.length; i++) data[i] = (index + i * 13) & 0xff;
  return { index, term: 1 + Math.floor(index / 1000), type: EntryType.Normal, data };
}
