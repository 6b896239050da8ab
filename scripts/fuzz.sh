#!/usr/bin/env bash
# Runs every fuzz target of the module for a short, bounded time each.
#
#   bash scripts/fuzz.sh                     # FUZZTIME=10s per target
#   FUZZTIME=2m bash scripts/fuzz.sh         # longer, by hand
#   FUZZ='Sign$' bash scripts/fuzz.sh        # only targets matching a pattern
#
# Targets are found with `go test -list`, so a new Fuzz function is picked up
# without editing this script. A failing input is written by go test under
# the package's testdata/fuzz/<Target>/; commit it with the fix, and plain
# `go test` replays it from then on. PARALLEL bounds the fuzzing workers
# (default 2: CI machines are shared). FUZZMINIMIZETIME (default 2s) bounds
# the minimizing of each new input: go test's default of 60s would spend a
# short run minimizing instead of exploring.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZTIME=${FUZZTIME:-10s}
FUZZ=${FUZZ:-.}
PARALLEL=${PARALLEL:-2}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-2s}

# Go 1.26's fuzz coordinator can end a -fuzztime run with a bare "context
# deadline exceeded" and no failing input (golang/go#75804, fixed in Go
# 1.27). A real failure always writes its input under testdata/fuzz/<Target>/,
# so a run counts as failed when it wrote one, or when it failed for any
# other reason; the coordinator's race alone is reported and passed over.
corpus_files() { if [ -d "$1" ]; then find "$1" -type f | sort; fi; }

status=0
ran=0
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' | grep -E -- "$FUZZ" || true)
  for target in $targets; do
    echo "== $pkg $target ($FUZZTIME)"
    ran=$((ran + 1))
    corpus="$dir/testdata/fuzz/$target"
    before=$(corpus_files "$corpus")
    log=$(mktemp)
    if go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" \
      -fuzzminimizetime "$FUZZMINIMIZETIME" -parallel "$PARALLEL" "$pkg" 2>&1 | tee "$log"; then
      :
    elif [ "$(corpus_files "$corpus")" = "$before" ] && grep -q '^    context deadline exceeded$' "$log" &&
      ! grep -q -e 'Failing input written' -e 'panic:' "$log"; then
      echo "note: $target ended on the fuzz coordinator's deadline race (golang/go#75804), no failing input: not a failure" >&2
    else
      echo "FAIL: $pkg $target" >&2
      status=1
    fi
    rm -f "$log"
  done
done
if [ "$ran" -eq 0 ]; then
  echo "no fuzz target matches $FUZZ" >&2
  exit 1
fi
exit $status
