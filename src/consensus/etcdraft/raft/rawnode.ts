// etcd raft v3.5.9 rawnode.go, bootstrap.go and node.go's Ready: the thread-unsafe Node. The
// application drives it: tick(), step() incoming messages, and loops on hasReady()/ready(),
// persisting entries and HardState, sending messages, applying committed entries, then advance().
import { ErrStepLocalMsg, ErrStepPeerNotFound, RaftError } from './errors.js';
import { Raft, isLocalMsg, isResponseMsg, softStateEqual } from './raft.js';
import type { Config, SoftState } from './raft.js';
import type { ReadState } from './read-only.js';
import { getStatus } from './status.js';
import { encodeConfChangeV2 } from './wire.js';
import type { Status } from './status.js';
import type { ConfChange, ConfChangeV2, ConfState, Entry, HardState, Message, Snapshot } from './types.js';
import {
  ConfChangeTransition,
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  emptyHardState,
  emptySnapshot,
  isEmptyHardState,
  isEmptySnap,
  isHardStateEqual,
  newEntry,
  newMessage,
} from './types.js';

// Encapsulates the entries and messages that are ready to read, be saved to stable storage,
// committed or sent to other peers. All fields are read-only.
export interface Ready {
  // The current volatile state; undefined when unchanged since the last Ready.
  softState: SoftState | undefined;
  // The state to save to stable storage before messages are sent; empty when unchanged.
  hardState: HardState;
  // Read states to answer linearizable reads with.
  readStates: ReadState[];
  // Entries to save to stable storage before messages are sent.
  entries: Entry[];
  // The snapshot to save to stable storage (empty when none).
  snapshot: Snapshot;
  // Entries to apply to the state machine; they have been committed to stable storage.
  committedEntries: Entry[];
  // Outbound messages, to send after entries are committed to stable storage. A MsgSnap
  // requires reportSnapshot once the snapshot is received or has failed.
  messages: Message[];
  // Whether hardState and entries must be written synchronously (fsync) before sending.
  mustSync: boolean;
}

export enum SnapshotStatus {
  SnapshotFinish = 1,
  SnapshotFailure = 2,
}

export interface Peer {
  id: number;
  context?: Uint8Array;
}

// etcd's MustSync: whether the HardState and entries must be synced to disk before sending.
export function mustSync(st: HardState, prevst: HardState, entsnum: number): boolean {
  // Persistent state on all servers: (Updated on stable storage before responding to RPCs)
  // currentTerm, votedFor, log entries[]
  return entsnum !== 0 || st.vote !== prevst.vote || st.term !== prevst.term;
}

// etcd's Ready.containsUpdates.
export function readyContainsUpdates(rd: Ready): boolean {
  return (
    rd.softState !== undefined ||
    !isEmptyHardState(rd.hardState) ||
    !isEmptySnap(rd.snapshot) ||
    rd.entries.length > 0 ||
    rd.committedEntries.length > 0 ||
    rd.messages.length > 0 ||
    rd.readStates.length !== 0
  );
}

const writeVarint = (out: number[], value: number): void => {
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
};

// raftpb.ConfChange.Marshal as gogoproto writes it: id(1), type(2) and node_id(3) always,
// context(4) only when set.
export function marshalConfChange(cc: ConfChange): Uint8Array {
  const out: number[] = [];
  out.push(0x08);
  writeVarint(out, cc.id);
  out.push(0x10);
  writeVarint(out, cc.type);
  out.push(0x18);
  writeVarint(out, cc.nodeId);
  if (cc.context !== undefined) {
    out.push(0x22);
    writeVarint(out, cc.context.length);
    for (const b of cc.context) out.push(b);
  }
  return Uint8Array.from(out);
}

// etcd's ConfChange.AsV2.
export const confChangeAsV2 = (cc: ConfChange): ConfChangeV2 => ({
  transition: ConfChangeTransition.Auto,
  changes: [{ type: cc.type, nodeId: cc.nodeId }],
  context: cc.context,
});

const isConfChangeV2 = (cc: ConfChange | ConfChangeV2): cc is ConfChangeV2 => 'changes' in cc;

export class RawNode {
  readonly raft: Raft;
  private prevSoftSt: SoftState;
  private prevHardSt: HardState;

  // etcd's NewRawNode: the config's storage must be initialized (or bootstrap() called next).
  constructor(config: Config) {
    this.raft = new Raft(config);
    this.prevSoftSt = this.raft.softState();
    this.prevHardSt = this.raft.hardState();
  }

  // Advances the internal logical clock by a single tick.
  tick(): void {
    this.raft.tick();
  }

  // Advances the internal logical clock by a single tick without performing any other state
  // machine processing (etcd's TickQuiesced).
  tickQuiesced(): void {
    this.raft.electionElapsed++;
  }

  // Causes this RawNode to transition to candidate state.
  campaign(): void {
    this.raft.step(newMessage({ type: MessageType.MsgHup }));
  }

  // Proposes data be appended to the raft log; throws ErrProposalDropped when it cannot be.
  propose(data: Uint8Array): void {
    this.raft.step(
      newMessage({ type: MessageType.MsgProp, from: this.raft.id, entries: [newEntry({ data })] }),
    );
  }

  // Proposes a config change (etcd's ConfChangeI): a v1 ConfChange as an EntryConfChange
  // entry, a ConfChangeV2 as an EntryConfChangeV2 entry.
  proposeConfChange(cc: ConfChange | ConfChangeV2): void {
    const entry = isConfChangeV2(cc)
      ? newEntry({ type: EntryType.ConfChangeV2, data: encodeConfChangeV2(cc) })
      : newEntry({ type: EntryType.ConfChange, data: marshalConfChange(cc) });
    this.raft.step(newMessage({ type: MessageType.MsgProp, entries: [entry] }));
  }

  // Applies a config change to the local node. The app must call this when it applies a
  // configuration change, except when it decides to reject the configuration change, in
  // which case no call must take place.
  applyConfChange(cc: ConfChange | ConfChangeV2): ConfState {
    return this.raft.applyConfChange(isConfChangeV2(cc) ? cc : confChangeAsV2(cc));
  }

  // Advances the state machine using the given message.
  step(m: Message): void {
    // ignore unexpected local messages receiving over network
    if (isLocalMsg(m.type)) throw ErrStepLocalMsg;
    if (this.raft.prs.progress.has(m.from) || !isResponseMsg(m.type)) {
      this.raft.step(m);
      return;
    }
    throw ErrStepPeerNotFound;
  }

  // The outstanding work that the application needs to handle: appending entries to stable
  // storage, committing (applying) entries and sending messages. The returned Ready *must* be
  // handled and subsequently passed back via advance().
  ready(): Ready {
    const rd = this.readyWithoutAccept();
    this.acceptReady(rd);
    return rd;
  }

  // Like ready() but does not accept it (etcd's readyWithoutAccept / newReady).
  readyWithoutAccept(): Ready {
    const r = this.raft;
    const softSt = r.softState();
    const hardSt = r.hardState();
    const entries = r.raftLog.unstableEntries();
    return {
      entries,
      committedEntries: r.raftLog.nextEnts(),
      messages: r.msgs,
      softState: softStateEqual(softSt, this.prevSoftSt) ? undefined : softSt,
      hardState: isHardStateEqual(hardSt, this.prevHardSt) ? emptyHardState() : hardSt,
      snapshot: r.raftLog.unstable.snapshot ?? emptySnapshot(),
      readStates: r.readStates.length !== 0 ? r.readStates : [],
      mustSync: mustSync(hardSt, this.prevHardSt, entries.length),
    };
  }

  // Notes that the Ready was handed to the application, so the next one excludes its
  // soft state, read states and messages.
  acceptReady(rd: Ready): void {
    if (rd.softState !== undefined) this.prevSoftSt = rd.softState;
    if (rd.readStates.length !== 0) this.raft.readStates = [];
    this.raft.msgs = [];
  }

  // Whether a Ready is pending.
  hasReady(): boolean {
    const r = this.raft;
    if (!softStateEqual(r.softState(), this.prevSoftSt)) return true;
    const hardSt = r.hardState();
    if (!isEmptyHardState(hardSt) && !isHardStateEqual(hardSt, this.prevHardSt)) return true;
    if (r.raftLog.hasPendingSnapshot()) return true;
    if (r.msgs.length > 0 || r.raftLog.unstable.entries.length > 0 || r.raftLog.hasNextEnts()) return true;
    if (r.readStates.length !== 0) return true;
    return false;
  }

  // Notifies the RawNode that the application has applied and saved progress in the last Ready.
  advance(rd: Ready): void {
    if (!isEmptyHardState(rd.hardState)) this.prevHardSt = rd.hardState;
    this.raft.advance(rd);
  }

  status(): Status {
    return getStatus(this.raft);
  }

  // Reports the given node is not reachable for the last send.
  reportUnreachable(id: number): void {
    try {
      this.raft.step(newMessage({ type: MessageType.MsgUnreachable, from: id }));
    } catch {
      // As in etcd, the error is dropped: a report about a peer cannot fail the caller.
    }
  }

  // Reports the status of the sent snapshot.
  reportSnapshot(id: number, status: SnapshotStatus): void {
    try {
      this.raft.step(
        newMessage({
          type: MessageType.MsgSnapStatus,
          from: id,
          reject: status === SnapshotStatus.SnapshotFailure,
        }),
      );
    } catch {
      // As in etcd, the error is dropped.
    }
  }

  // Tries to transfer leadership to the given transferee.
  transferLeader(transferee: number): void {
    try {
      this.raft.step(newMessage({ type: MessageType.MsgTransferLeader, from: transferee }));
    } catch {
      // As in etcd, the error is dropped.
    }
  }

  // Requests a read state. The read state will be set in ready. Read State has a read index.
  // Once the application advances further than the read index, any linearizable read requests
  // issued before the read request can be processed safely. The read state will have the same
  // rctx attached.
  readIndex(rctx: Uint8Array): void {
    try {
      this.raft.step(newMessage({ type: MessageType.MsgReadIndex, entries: [newEntry({ data: rctx })] }));
    } catch {
      // As in etcd, the error is dropped.
    }
  }

  // etcd's bootstrap.go: initializes the RawNode for first use by appending configuration
  // changes for the supplied peers (one AddNode ConfChange per peer at term 1, committed, in
  // the given order, so every member writes the identical log).
  bootstrap(peers: Peer[]): void {
    if (peers.length === 0) throw new RaftError('config', 'must provide at least one peer to Bootstrap');
    const lastIndex = this.raft.raftLog.storage.lastIndex();
    if (lastIndex !== 0) throw new RaftError('config', "can't bootstrap a nonempty Storage");

    // We've faked out initial entries above, but nothing has been persisted. Start with an
    // empty HardState (thus the first Ready will emit a HardState update for the app to
    // persist).
    this.prevHardSt = emptyHardState();

    // TODO(tbg): remove StartNode and give the application the choice of using this path or
    // the existing one.
    this.raft.becomeFollower(1, NONE);
    const ents: Entry[] = peers.map((peer, i) =>
      newEntry({
        type: EntryType.ConfChange,
        term: 1,
        index: i + 1,
        data: marshalConfChange({
          type: ConfChangeType.AddNode,
          nodeId: peer.id,
          context: peer.context,
          id: 0,
        }),
      }),
    );
    this.raft.raftLog.append(ents);

    // Now apply them, mainly so that the application can call Campaign immediately after
    // StartNode in tests. Note that these nodes will be added to raft twice: here and when
    // the application's Ready loop calls ApplyConfChange. The calls to addNode must come
    // after all calls to raftLog.append so progress.next is set after these bootstrapping
    // entries (it is an error if we try to append these entries since they have already been
    // committed). We do not set raftLog.applied so the application will be able to observe
    // all conf changes via Ready.CommittedEntries.
    //
    // TODO(bdarnell): These entries are still unstable; do we need to preserve the invariant
    // that committed < unstable?
    this.raft.raftLog.committed = ents.length;
    for (const peer of peers) {
      this.raft.applyConfChange(
        confChangeAsV2({ nodeId: peer.id, type: ConfChangeType.AddNode, context: undefined, id: 0 }),
      );
    }
  }
}
