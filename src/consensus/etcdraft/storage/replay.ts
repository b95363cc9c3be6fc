// Replays the records of a channel's WAL segments into the state raft restarts from. Pure: decoded
// records in, state or the first inconsistency (file and offset) out.
//
// Rules, as raft writes its log: an entry at index i replaces every entry >= i; a restore marker
// replaces the whole log with the snapshot; a compaction marker drops the entries up to its index
// and keeps the rest; the last HardState wins. A segment's header carries the state at the moment
// the segment was cut, so reading can start at any segment once the ones before it are deleted.
import type { PositionedRecord } from './records.js';
import type { Entry, HardState } from './types.js';

export interface ReplaySegment {
  readonly file: string;
  readonly seq: number;
  /** From the file name; the header must agree. */
  readonly firstIndex: number;
  readonly records: readonly PositionedRecord[];
}

export interface ReplayedLog {
  readonly hardState: HardState;
  /** 0 when the log has never had a snapshot. */
  readonly snapshotIndex: number;
  readonly snapshotTerm: number;
  /** The entries after the snapshot, from snapshotIndex + 1, contiguous. */
  readonly entries: Entry[];
  readonly lastIndex: number;
}

export interface ReplayFailure {
  readonly file: string;
  readonly offset: number;
  readonly reason: string;
}

export type ReplayResult =
  { readonly ok: true; readonly log: ReplayedLog } | ({ readonly ok: false } & ReplayFailure);

export function replaySegments(segments: readonly ReplaySegment[]): ReplayResult {
  let hardState: HardState = { term: 0, vote: 0, commit: 0 };
  let hardStateAt = { file: '', offset: 0 };
  let snapshotIndex = 0;
  let snapshotTerm = 0;
  let entries: Entry[] = [];
  // Index of entries[0] (or of the next entry when there are none). Above snapshotIndex + 1 when
  // the entries in between were in segments that have been deleted: a later compaction marker
  // must then cover them.
  let firstIndex = 1;
  let lastIndex = 0;

  for (const [position, segment] of segments.entries()) {
    const fail = (offset: number, reason: string): ReplayResult => ({
      ok: false,
      file: segment.file,
      offset,
      reason,
    });
    const header = segment.records[0]?.record;
    if (header?.type !== 'segment-header') return fail(0, 'the segment does not start with a segment header');
    if (header.seq !== segment.seq || header.firstIndex !== segment.firstIndex)
      return fail(
        0,
        `the header says seq ${header.seq}, first index ${header.firstIndex}, unlike the file name`,
      );
    if (position === 0) {
      if (header.snapshotIndex >= header.firstIndex)
        return fail(
          0,
          `the header's snapshot index ${header.snapshotIndex} is not below its first index ${header.firstIndex}`,
        );
      hardState = header.hardState;
      hardStateAt = { file: segment.file, offset: 0 };
      snapshotIndex = header.snapshotIndex;
      snapshotTerm = header.snapshotTerm;
      firstIndex = header.firstIndex;
      lastIndex = header.firstIndex - 1;
    } else if (header.firstIndex !== lastIndex + 1) {
      return fail(
        0,
        `the segment starts at index ${header.firstIndex} but the log before it ends at ${lastIndex}`,
      );
    }

    for (const { record, offset } of segment.records.slice(1)) {
      switch (record.type) {
        case 'segment-header':
          return fail(offset, 'a second segment header inside the segment');
        case 'hard-state':
          hardState = record.hardState;
          hardStateAt = { file: segment.file, offset };
          break;
        case 'entry': {
          const { entry } = record;
          if (entry.index <= snapshotIndex)
            return fail(offset, `entry ${entry.index} is at or below the snapshot index ${snapshotIndex}`);
          if (entry.index > lastIndex + 1)
            return fail(offset, `entry ${entry.index} leaves a gap after the last index ${lastIndex}`);
          if (entry.index < firstIndex) {
            entries = [entry];
            firstIndex = entry.index;
          } else {
            entries.length = entry.index - firstIndex;
            entries.push(entry);
          }
          lastIndex = entry.index;
          break;
        }
        case 'snapshot-marker':
          if (record.index <= snapshotIndex)
            return fail(
              offset,
              `snapshot marker ${record.index} is not after the previous snapshot ${snapshotIndex}`,
            );
          if (record.kind === 'restore') {
            entries = [];
            firstIndex = record.index + 1;
            lastIndex = record.index;
          } else {
            if (record.index > lastIndex)
              return fail(offset, `compaction marker ${record.index} is beyond the last index ${lastIndex}`);
            if (firstIndex <= record.index) {
              entries = entries.slice(record.index + 1 - firstIndex);
              firstIndex = record.index + 1;
            }
          }
          snapshotIndex = record.index;
          snapshotTerm = record.term;
          break;
      }
    }
  }

  const first = segments[0];
  if (first && firstIndex > snapshotIndex + 1)
    return {
      ok: false,
      file: first.file,
      offset: 0,
      reason:
        `entries ${snapshotIndex + 1}..${firstIndex - 1} are in no segment: a segment was deleted ` +
        `before a snapshot covered it`,
    };
  if (hardState.commit > lastIndex)
    return {
      ok: false,
      ...hardStateAt,
      reason: `the hard state commits index ${hardState.commit} but the log ends at ${lastIndex}`,
    };
  return { ok: true, log: { hardState, snapshotIndex, snapshotTerm, entries, lastIndex } };
}
