// Package logtest captures what the SDK logs, for tests that assert on it:
// above all, that no secret, token, sign or personal data is ever written.
package logtest

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// Buffer is a bytes.Buffer that concurrent writers (log handlers, a server's
// goroutines) may share.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// DebugLogger returns a logger that writes every record, debug included, to
// b as text.
func DebugLogger(b *Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// RequireNoneShown fails t if any of texts (log lines, error strings)
// contains any of secrets.
func RequireNoneShown(t testing.TB, texts, secrets []string) {
	t.Helper()
	for _, text := range texts {
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("%q shows %q", text, s)
			}
		}
	}
}
