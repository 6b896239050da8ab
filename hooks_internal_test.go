package ump

import (
	"context"
	"testing"
	"time"
)

// TestNoteClockOffset: the clock-skew measurement reports what it learns
// through noteClockOffset, which reaches the ClockOffset hook, and does
// nothing without hooks.
func TestNoteClockOffset(t *testing.T) {
	var got []time.Duration
	c, err := NewClient("app", "secret-secret", WithHooks(Hooks{
		ClockOffset: func(_ context.Context, d time.Duration) { got = append(got, d) },
	}))
	if err != nil {
		t.Fatal(err)
	}
	c.noteClockOffset(t.Context(), -4*time.Second)
	if len(got) != 1 || got[0] != -4*time.Second {
		t.Fatalf("ClockOffset got %v, want [-4s]", got)
	}

	plain, err := NewClient("app", "secret-secret")
	if err != nil {
		t.Fatal(err)
	}
	plain.noteClockOffset(t.Context(), time.Second) // no hooks: nothing to call
}
