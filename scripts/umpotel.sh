#!/usr/bin/env bash
# CI for the umpotel module, which has its own go.mod (the root's ./...
# does not reach it): tidy, vet, builds on Go 1.24, staticcheck, tests with
# -race; then checks that the core module still builds no OpenTelemetry.
#
#   bash scripts/umpotel.sh
set -euo pipefail
cd "$(dirname "$0")/../umpotel"
gobin=$(go env GOBIN)
export PATH="$PATH:${gobin:-$(go env GOPATH)/bin}"

step() { printf '\n=== umpotel: %s\n' "$*"; }

step "go.mod and go.sum tidy"
go mod tidy -diff

step "go vet"
go vet ./...

step "builds on Go 1.24 (otel v1.41.0 is the last release that does)"
GOTOOLCHAIN=go1.24.13 go vet ./...

step "staticcheck"
if command -v staticcheck >/dev/null 2>&1; then
  staticcheck ./...
else
  echo "staticcheck not installed (.ci/run installs it): skipped"
fi

step "tests"
go test -race ./...

step "the core module depends on no OpenTelemetry package"
if (cd .. && go list -deps . | grep '^go\.opentelemetry\.io/'); then
  echo "github.com/greedc/ump-go imports the packages above"; exit 1
fi
echo ok
