// raft-diff hosts etcd's real raft (go.etcd.io/etcd/raft/v3 v3.5.9) RawNodes for the differential
// test of the TypeScript Raft core (test/integration/raft-differential.test.ts). It is test
// infrastructure only: the product never imports or ships it.
//
// Protocol: one JSON request per stdin line, {"cmds":[...]}, answered by one JSON line on stdout,
// {"results":[...]}, one result per command in order. Bytes travel as base64 of the raftpb
// encoding (gogoproto Marshal), so the TypeScript side compares them byte for byte with wire.ts.
//
// Randomness: etcd draws each randomized election timeout from an unexported package global
// (globalRand, math/rand seeded with the wall clock). We reach it with go:linkname and swap in a
// math/rand Source that serves, for the node being driven, the next value of a per-node mulberry32
// stream seeded by the test. The TypeScript side feeds our core's injected Config.random from the
// same stream through the same Int31n algorithm, so both implementations draw identical timeouts
// without patching etcd.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand"
	"os"
	"runtime/debug"
	"sync"
	_ "unsafe" // for go:linkname

	"go.etcd.io/etcd/raft/v3"
	pb "go.etcd.io/etcd/raft/v3/raftpb"
	"go.etcd.io/etcd/raft/v3/tracker"
)

// The layout of etcd raft v3.5.9's unexported lockedRand (raft.go).
type lockedRand struct {
	mu   sync.Mutex
	rand *rand.Rand
}

//go:linkname etcdGlobalRand go.etcd.io/etcd/raft/v3.globalRand
var etcdGlobalRand *lockedRand

// mulberry32, identical to the TypeScript stream in test/support/raft-diff.ts.
type stream struct{ state uint32 }

func (s *stream) next31() int64 {
	s.state += 0x6d2b79f5
	t := s.state
	t = (t ^ (t >> 15)) * (t | 1)
	t ^= t + (t^(t>>7))*(t|61)
	return int64((t ^ (t >> 14)) >> 1)
}

// streamSource is the math/rand Source behind etcd's globalRand: Rand.Intn(n) takes
// Int31() = Int63()>>32, so placing the 31-bit stream value in the high bits hands it over intact.
type streamSource struct{ current *stream }

func (s *streamSource) Int63() int64 {
	if s.current == nil {
		panic("raft-diff: etcd drew a random number outside of a node command")
	}
	return s.current.next31() << 32
}
func (s *streamSource) Seed(int64) {}

var source = &streamSource{}

type node struct {
	id        uint64
	storage   *raft.MemoryStorage
	rn        *raft.RawNode
	rnd       *stream
	confState pb.ConfState
	applied   uint64
	cfg       config
}

type config struct {
	ElectionTick    int    `json:"electionTick"`
	HeartbeatTick   int    `json:"heartbeatTick"`
	MaxSizePerMsg   uint64 `json:"maxSizePerMsg"`
	MaxInflightMsgs int    `json:"maxInflightMsgs"`
	PreVote         bool   `json:"preVote"`
	CheckQuorum     bool   `json:"checkQuorum"`
	// Fabric sets DisableProposalForwarding (orderer/consensus/etcdraft/chain.go).
	DisableProposalForwarding bool `json:"disableProposalForwarding"`
}

type command struct {
	Op      string   `json:"op"`
	Node    string   `json:"node"`
	ID      uint64   `json:"id"`
	Seed    uint32   `json:"seed"`
	Peers   []uint64 `json:"peers"`
	Config  config   `json:"config"`
	Data    []byte   `json:"data"` // base64 in JSON
	To      uint64   `json:"to"`
	Failure bool     `json:"failure"`
	Keep    uint64   `json:"keep"`
	// For ready: a proposal made after Ready() and before Advance(), as etcd's Node takes
	// proposals while the application handles a Ready.
	During []byte `json:"during"`
}

type softState struct {
	Lead      uint64 `json:"lead"`
	RaftState int    `json:"raftState"`
}

type readyResult struct {
	SoftState *softState `json:"softState"`
	HardState []byte     `json:"hardState"`
	Entries   [][]byte   `json:"entries"`
	Committed [][]byte   `json:"committed"`
	Snapshot  []byte     `json:"snapshot"`
	Messages  [][]byte   `json:"messages"`
	MustSync  bool       `json:"mustSync"`
	ConfState []byte     `json:"confState"`
}

type result struct {
	Error  string       `json:"error,omitempty"`
	Ready  *readyResult `json:"ready,omitempty"`
	Status *statusInfo  `json:"status,omitempty"`
	Index  uint64       `json:"index,omitempty"`
	// The error of the proposal a ready command made while handling its Ready.
	ProposeError string `json:"proposeError,omitempty"`
	// After a restart: the ConfState the state machine restarts with (its snapshot's).
	ConfState []byte `json:"confState,omitempty"`
}

type statusInfo struct {
	Lead      uint64   `json:"lead"`
	RaftState int      `json:"raftState"`
	Term      uint64   `json:"term"`
	Commit    uint64   `json:"commit"`
	Applied   uint64   `json:"applied"`
	LastIndex uint64   `json:"lastIndex"`
	Voters    []uint64 `json:"voters"`
	Learners  []uint64 `json:"learners"`
	// The leader's view of each peer: [id, match, next, state, pendingSnapshot, recentActive,
	// probeSent, isLearner, inflight count], in ID order.
	LeadTransferee uint64     `json:"leadTransferee"`
	Progress       [][]uint64 `json:"progress"`
}

func progressRows(prs map[uint64]tracker.Progress) [][]uint64 {
	ids := make([]uint64, 0, len(prs))
	for id := range prs {
		ids = append(ids, id)
	}
	sortIDs(ids)
	rows := [][]uint64{}
	b := func(v bool) uint64 {
		if v {
			return 1
		}
		return 0
	}
	for _, id := range ids {
		pr := prs[id]
		rows = append(rows, []uint64{id, pr.Match, pr.Next, uint64(pr.State), pr.PendingSnapshot,
			b(pr.RecentActive), b(pr.ProbeSent), b(pr.IsLearner), uint64(pr.Inflights.Count())})
	}
	return rows
}

var nodes = map[string]*node{}

func (n *node) start(peers []uint64) error {
	c := &raft.Config{
		ID:              n.id,
		ElectionTick:    n.cfg.ElectionTick,
		HeartbeatTick:   n.cfg.HeartbeatTick,
		Storage:         n.storage,
		MaxSizePerMsg:   n.cfg.MaxSizePerMsg,
		MaxInflightMsgs: n.cfg.MaxInflightMsgs,
		PreVote:         n.cfg.PreVote,
		CheckQuorum:     n.cfg.CheckQuorum,
		Logger:          discardLogger,

		DisableProposalForwarding: n.cfg.DisableProposalForwarding,
	}
	rn, err := raft.NewRawNode(c)
	if err != nil {
		return err
	}
	n.rn = rn
	if len(peers) > 0 {
		ps := make([]raft.Peer, len(peers))
		for i, p := range peers {
			ps[i] = raft.Peer{ID: p}
		}
		if err := rn.Bootstrap(ps); err != nil {
			return err
		}
	}
	return nil
}

// The application's Ready loop, the same steps in the same order as the TypeScript side: save
// the snapshot, entries and HardState, apply committed conf changes, then Advance.
func (n *node) ready(during []byte, proposeErr *error) (*readyResult, error) {
	if !n.rn.HasReady() {
		if during != nil {
			*proposeErr = n.rn.Propose(during)
		}
		return nil, nil
	}
	rd := n.rn.Ready()
	if during != nil {
		*proposeErr = n.rn.Propose(during)
	}
	out := &readyResult{MustSync: rd.MustSync, Entries: [][]byte{}, Committed: [][]byte{}, Messages: [][]byte{}}
	if rd.SoftState != nil {
		out.SoftState = &softState{Lead: rd.SoftState.Lead, RaftState: int(rd.SoftState.RaftState)}
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		out.HardState = mustMarshal(&rd.HardState)
	}
	if !raft.IsEmptySnap(rd.Snapshot) {
		out.Snapshot = mustMarshal(&rd.Snapshot)
		if err := n.storage.ApplySnapshot(rd.Snapshot); err != nil {
			return nil, fmt.Errorf("apply snapshot: %w", err)
		}
		n.confState = rd.Snapshot.Metadata.ConfState
		n.applied = rd.Snapshot.Metadata.Index
		out.ConfState = mustMarshal(&n.confState)
	}
	for i := range rd.Entries {
		out.Entries = append(out.Entries, mustMarshal(&rd.Entries[i]))
	}
	if err := n.storage.Append(rd.Entries); err != nil {
		return nil, fmt.Errorf("append: %w", err)
	}
	if !raft.IsEmptyHardState(rd.HardState) {
		if err := n.storage.SetHardState(rd.HardState); err != nil {
			return nil, err
		}
	}
	for i := range rd.CommittedEntries {
		e := rd.CommittedEntries[i]
		out.Committed = append(out.Committed, mustMarshal(&e))
		// After a restart raft hands again the entries after the compaction point, which may
		// precede the snapshot the state machine restarted from: those are in its ConfState.
		if e.Index <= n.applied {
			continue
		}
		var cc pb.ConfChangeI
		switch e.Type {
		case pb.EntryConfChange:
			var c pb.ConfChange
			if err := c.Unmarshal(e.Data); err != nil {
				return nil, fmt.Errorf("conf change at %d: %w", e.Index, err)
			}
			cc = c
		case pb.EntryConfChangeV2:
			var c pb.ConfChangeV2
			if err := c.Unmarshal(e.Data); err != nil {
				return nil, fmt.Errorf("conf change v2 at %d: %w", e.Index, err)
			}
			cc = c
		}
		if cc != nil {
			n.confState = *n.rn.ApplyConfChange(cc)
			out.ConfState = mustMarshal(&n.confState)
		}
		n.applied = e.Index
	}
	for i := range rd.Messages {
		out.Messages = append(out.Messages, mustMarshal(&rd.Messages[i]))
	}
	n.rn.Advance(rd)
	return out, nil
}

type marshaler interface{ Marshal() ([]byte, error) }

func mustMarshal(m marshaler) []byte {
	b, err := m.Marshal()
	if err != nil {
		panic(err)
	}
	if b == nil {
		b = []byte{}
	}
	return b
}

func execute(c command) (res result) {
	defer func() {
		if p := recover(); p != nil {
			res = result{Error: fmt.Sprintf("panic: %v\n%s", p, debug.Stack())}
		}
		source.current = nil
	}()
	if c.Op == "new" {
		n := &node{id: c.ID, storage: raft.NewMemoryStorage(), rnd: &stream{state: c.Seed}, cfg: c.Config}
		nodes[c.Node] = n
		source.current = n.rnd
		if err := n.start(c.Peers); err != nil {
			return result{Error: err.Error()}
		}
		return result{}
	}
	n, ok := nodes[c.Node]
	if !ok {
		return result{Error: fmt.Sprintf("raft-diff: no node %q", c.Node)}
	}
	source.current = n.rnd
	var err error
	switch c.Op {
	case "drop":
		delete(nodes, c.Node)
	case "restart":
		// A crash: everything not saved by a handled Ready is lost; storage survives.
		err = n.start(nil)
		// The state machine restarts from the snapshot; raft hands the entries after it again.
		snap, _ := n.storage.Snapshot()
		n.applied = snap.Metadata.Index
		n.confState = snap.Metadata.ConfState
		if err == nil {
			return result{ConfState: mustMarshal(&n.confState)}
		}
	case "tick":
		n.rn.Tick()
	case "campaign":
		err = n.rn.Campaign()
	case "propose":
		err = n.rn.Propose(c.Data)
	case "proposeConfChange":
		var cc pb.ConfChange
		if err = cc.Unmarshal(c.Data); err == nil {
			err = n.rn.ProposeConfChange(cc)
		}
	case "proposeConfChangeV2":
		var cc pb.ConfChangeV2
		if err = cc.Unmarshal(c.Data); err == nil {
			err = n.rn.ProposeConfChange(cc)
		}
	case "step":
		var m pb.Message
		if err = m.Unmarshal(c.Data); err == nil {
			err = n.rn.Step(m)
		}
	case "ready":
		var rd *readyResult
		var proposeErr error
		rd, err = n.ready(c.During, &proposeErr)
		if err == nil {
			res := result{Ready: rd}
			if proposeErr != nil {
				res.ProposeError = proposeErr.Error()
			}
			return res
		}
	case "reportSnapshot":
		st := raft.SnapshotFinish
		if c.Failure {
			st = raft.SnapshotFailure
		}
		n.rn.ReportSnapshot(c.To, st)
	case "reportUnreachable":
		n.rn.ReportUnreachable(c.To)
	case "transferLeader":
		n.rn.TransferLeader(c.To)
	case "snapshot":
		// Snapshot at the applied index and compact the log up to it, keeping c.Keep entries
		// before it (Fabric's SnapshotCatchUpEntries).
		snap, _ := n.storage.Snapshot()
		if n.applied <= snap.Metadata.Index {
			return result{Index: 0}
		}
		cs := n.confState
		if _, err = n.storage.CreateSnapshot(n.applied, &cs, c.Data); err == nil {
			first, _ := n.storage.FirstIndex()
			if compactTo := n.applied - c.Keep; n.applied >= c.Keep && compactTo >= first {
				err = n.storage.Compact(compactTo)
			}
		}
		if err == nil {
			return result{Index: n.applied}
		}
	case "status":
		st := n.rn.Status()
		last, _ := n.storage.LastIndex()
		return result{Status: &statusInfo{
			Lead: st.Lead, RaftState: int(st.RaftState), Term: st.Term, Commit: st.Commit,
			Applied: st.Applied, LastIndex: last,
			Voters: orEmpty(st.Config.Voters.IDs()), Learners: orEmpty(st.Config.Learners),
			LeadTransferee: st.LeadTransferee, Progress: progressRows(st.Progress),
		}}
	default:
		err = fmt.Errorf("raft-diff: unknown op %q", c.Op)
	}
	if err != nil {
		return result{Error: err.Error()}
	}
	return result{}
}

func orEmpty(ids interface{}) []uint64 {
	out := []uint64{}
	switch s := ids.(type) {
	case map[uint64]struct{}:
		for id := range s {
			out = append(out, id)
		}
	}
	sortIDs(out)
	return out
}

func sortIDs(ids []uint64) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j-1] > ids[j]; j-- {
			ids[j-1], ids[j] = ids[j], ids[j-1]
		}
	}
}

var discardLogger = &raft.DefaultLogger{Logger: log.New(io.Discard, "", 0)}

func main() {
	if etcdGlobalRand == nil {
		log.Fatal("raft-diff: etcd's globalRand not found; the etcd raft version changed?")
	}
	etcdGlobalRand.mu.Lock()
	etcdGlobalRand.rand = rand.New(source)
	etcdGlobalRand.mu.Unlock()
	raft.SetLogger(discardLogger)

	in := bufio.NewReaderSize(os.Stdin, 1<<20)
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	enc := json.NewEncoder(out)
	for {
		line, err := in.ReadBytes('\n')
		if len(line) > 0 {
			var req struct {
				Cmds []command `json:"cmds"`
			}
			if jerr := json.Unmarshal(line, &req); jerr != nil {
				log.Fatalf("raft-diff: bad request line: %v", jerr)
			}
			results := make([]result, len(req.Cmds))
			for i, c := range req.Cmds {
				results[i] = execute(c)
			}
			if err := enc.Encode(struct {
				Results []result `json:"results"`
			}{results}); err != nil {
				log.Fatal(err)
			}
			if err := out.Flush(); err != nil {
				log.Fatal(err)
			}
		}
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			log.Fatal(err)
		}
	}
}
