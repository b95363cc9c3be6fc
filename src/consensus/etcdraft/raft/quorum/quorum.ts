// etcd raft v3.5.9 quorum/quorum.go.

// A log index; INDEX_INFINITY (Go's math.MaxUint64) is what an empty configuration commits.
export type Index = number;
export const INDEX_INFINITY: Index = Number.MAX_SAFE_INTEGER;

export function indexString(index: Index): string {
  return index === INDEX_INFINITY ? '∞' : String(index);
}

// Reports the highest log index a voter has acknowledged, undefined when it has none.
export interface AckedIndexer {
  ackedIndex(voterId: number): Index | undefined;
}

export const mapAckIndexer = (acked: Map<number, Index>): AckedIndexer => ({
  ackedIndex: (id) => acked.get(id),
});

export enum VoteResult {
  // Pending: the vote is still undecided (neither won nor lost yet).
  VotePending = 1,
  // Lost: the quorum has voted "no".
  VoteLost = 2,
  // Won: the quorum has voted "yes".
  VoteWon = 3,
}

export const voteResultString = (result: VoteResult): string => VoteResult[result] ?? `VoteResult(${result})`;
