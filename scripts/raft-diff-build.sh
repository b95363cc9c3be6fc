#!/usr/bin/env bash
# Builds the etcd raft differential-test harness (test/differential/raft, etcd raft v3.5.9) into
# the given file (default: $TMPDIR/raft-diff/raft-diff). Test infrastructure only: the product
# never uses it. Needs Go >= 1.22 and the Go module proxy (or a warm module cache).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${TMPDIR:-/tmp}/raft-diff/raft-diff}"
# RAFT_DIFF_GO names the go binary; otherwise go on PATH, or the default install location.
if [[ -n "${RAFT_DIFF_GO:-}" ]]; then
  go_bin="$RAFT_DIFF_GO"
else
  go_bin="$(command -v go || true)"
  if [[ -z "$go_bin" && -x /usr/local/go/bin/go ]]; then go_bin=/usr/local/go/bin/go; fi
fi
if [[ -z "$go_bin" || ! -x "$go_bin" ]]; then
  echo "raft-diff-build: Go is not installed (need Go >= 1.22 on PATH, or RAFT_DIFF_GO, to build the etcd harness)" >&2
  exit 3
fi
mkdir -p "$(dirname "$out")"
cd "$here/test/differential/raft"
# Build to a temporary name and rename, so a concurrent run never executes a half-written binary.
tmp="$out.tmp.$$"
GOFLAGS=-mod=readonly "$go_bin" build -trimpath -o "$tmp" .
mv -f "$tmp" "$out"
echo "$out"
