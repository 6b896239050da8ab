#!/usr/bin/env bash
# Measures the SDK's cost per call against the floor, the same signed request
# written by hand with net/http and encoding/json (bench/floor_test.go), and
# prints the benchstat table and the SDK/floor ratios of the medians.
#
#   bash scripts/bench.sh                 # COUNT=10 runs of every benchmark
#   COUNT=20 BENCHTIME=2s bash scripts/bench.sh
#   BENCH='MemberGet$' COUNT=5 bash scripts/bench.sh
#
# The test binaries are built once and run COUNT times in turn, so that the
# SDK and the floor are measured interleaved, minutes apart at most: on a
# shared machine only their ratio means something, not the absolute times.
# The raw output is kept in $OUT (a fresh temporary folder by default).
set -euo pipefail
cd "$(dirname "$0")/.."

COUNT=${COUNT:-10}
BENCHTIME=${BENCHTIME:-1s}
BENCH=${BENCH:-.}
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

echo
echo "## benchstat (raw results: $raw)"
# One table for both packages: the SDK's halves of Sign and DecodeMember
# live in the root package, the floor's in bench/.
benchstat -ignore pkg -col '/impl@(floor sdk)' -filter '/impl:(floor OR sdk)' "$raw"
echo
go run ./bench/internal/benchratio "$raw"
