// The protobuf-encoded size of an Entry as gogoproto computes it (etcd's Entry.Size()), which
// etcd's flow control (MaxSizePerMsg, MaxCommittedSizePerReady) counts in. gogoproto always
// writes the non-nullable Type, Term and Index; Data is written when non-nil, and an empty
// Uint8Array here stands for Go's nil.
import type { Entry } from './types.js';
import { varintSize } from '../../../protos/varint.js';

export function entrySize(entry: Entry): number {
  let size = 1 + varintSize(entry.type) + 1 + varintSize(entry.term) + 1 + varintSize(entry.index);
  const dataLength = entry.data.length;
  if (dataLength > 0) size += 1 + varintSize(dataLength) + dataLength;
  return size;
}

// Go's math.MaxUint64 "no limit", capped at the largest index a number holds exactly.
export const NO_LIMIT = Number.MAX_SAFE_INTEGER;

// etcd util.go limitSize: at least one entry, then as many as fit into maxSize bytes.
export function limitSize(entries: Entry[], maxSize: number): Entry[] {
  if (entries.length === 0) return entries;
  let size = entrySize(entries[0] as Entry);
  let limit = 1;
  for (; limit < entries.length; limit++) {
    size += entrySize(entries[limit] as Entry);
    if (size > maxSize) break;
  }
  return limit === entries.length ? entries : entries.slice(0, limit);
}
