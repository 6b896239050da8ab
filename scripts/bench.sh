#!/usr/bin/env bash
# Measures the SDK's cost per call against the floor, the same signed request
# written by hand with net/http and encoding/json (bench/floor_test.go), and
# prints the benchstat table and the SDK/floor ratios of the medians. Then
# runs the peak, token-refresh and memory benchmarks (bench/peak_test.go,
# refresh_test.go, memory_test.go; issue 17) and prints the median of each
# of their metrics and whether the goals are met.
#
#   bash scripts/bench.sh                 # COUNT=10 runs of every per-call benchmark
#   COUNT=20 BENCHTIME=2s bash scripts/bench.sh
#   BENCH='MemberGet$' COUNT=5 bash scripts/bench.sh
#   PEAK_COUNT=5 PEAK_WINDOW=8s bash scripts/bench.sh
#   COUNT=0 bash scripts/bench.sh         # the peak part only
#   PEAK_COUNT=0 bash scripts/bench.sh    # the per-call part only
#
# The peak part: PEAK_COUNT runs (default 3) of BenchmarkPeakTLS and
# BenchmarkRefreshUnderLoad, each side measured PEAK_WINDOW (default 4s) per
# run; one run of BenchmarkAllRecordsMemory and of BenchmarkManyCallsStayFlat
# with FLAT_CALLS calls (default 1,000,000).
#
# The test binaries are built once and run COUNT times in turn, so that the
# SDK and the floor are measured interleaved, minutes apart at most: on a
# shared machine only their ratio means something, not the absolute times.
# The raw output is kept in $OUT (a fresh temporary folder by default).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
# The per-call benchmarks (the peak ones are run apart, below).
BENCH=${BENCH:-'^Benchmark(MemberGet|Sign|DecodeMember)'}
PEAK_COUNT=${PEAK_COUNT:-3}
PEAK_WINDOW=${PEAK_WINDOW:-4s}
FLAT_CALLS=${FLAT_CALLS:-1000000}
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/ump-bench.XXXXXX")}
BENCHSTAT_VERSION=v0.0.0-20260908200009-22c9c6c9d4da
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
gobin=$(go env GOBIN)
export PATH="$PATH:${gobin:-$(go env GOPATH)/bin}"

if ! command -v benchstat >/dev/null 2>&1; then
  echo "installing benchstat@$BENCHSTAT_VERSION" >&2
  go install "golang.org/x/perf/cmd/benchstat@$BENCHSTAT_VERSION"
fi

echo "building test binaries in $OUT" >&2
go test -c -o "$OUT/root.test" .
go test -c -o "$OUT/bench.test" ./bench

raw="$OUT/bench.txt"
: >"$raw"
flags=(-test.run='^$' -test.bench="$BENCH" -test.benchtime="$BENCHTIME" -test.count=1)
for i in $(seq 1 "$COUNT"); do
  echo "run $i of $COUNT" >&2
  # A test binary runs in its package's folder, as go test runs it. The
  # root package holds the SDK's halves of Sign and DecodeMember.
  (cd bench && "$OUT/bench.test" "${flags[@]}") >>"$raw"
  "$OUT/root.test" "${flags[@]}" >>"$raw"
done

if [ "$COUNT" -gt 0 ]; then
  echo
  echo "## benchstat (raw results: $raw)"
  # One table for both packages: the SDK's halves of Sign and DecodeMember
  # live in the root package, the floor's in bench/.
  benchstat -ignore pkg -col '/impl@(floor sdk)' -filter '/impl:(floor OR sdk)' "$raw"
  echo
  go run ./bench/internal/benchratio "$raw"
fi

if [ "$PEAK_COUNT" -gt 0 ]; then
  peak="$OUT/peak.txt"
  : >"$peak"
  echo "peak: $PEAK_COUNT runs, window $PEAK_WINDOW; $FLAT_CALLS flat calls" >&2
  status=0
  (
    cd bench
    export UMP_PEAK_WINDOW="$PEAK_WINDOW" UMP_FLAT_CALLS="$FLAT_CALLS"
    # Each run is one round (-benchtime 1x): the sides take turns inside it.
    # A failing benchmark (ManyCallsStayFlat fails on counts) must not hide
    # the others' figures: the status is kept for the end.
    st=0
    "$OUT/bench.test" -test.run='^$' -test.bench='^Benchmark(PeakTLS|RefreshUnderLoad)' \
      -test.benchtime=1x -test.count="$PEAK_COUNT" -test.timeout=60m || st=1
    "$OUT/bench.test" -test.run='^$' -test.bench='^Benchmark(AllRecordsMemory|ManyCallsStayFlat)$' \
      -test.benchtime=1x -test.count=1 -test.timeout=60m || st=1
    exit $st
  ) >>"$peak" || status=1
  echo
  echo "## peak, token refresh and memory (raw results: $peak)"
  go run ./bench/internal/benchratio "$peak" | sed -n '/^Peak, token refresh/,$p'
  if [ "$status" -ne 0 ]; then
    echo "a peak benchmark failed; see $peak:"
    grep -A3 -- '--- FAIL' "$peak" || true
    exit 1
  fi
fi
