// Package testutil is the home of helpers used only by tests, kept apart
// from the SDK's production internals: logtest captures logs, redistest
// starts a throwaway redis-server.
package testutil
