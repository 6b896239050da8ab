package umptest

import (
	"sync"
	"time"
)

// Clock is the test gateway's time: every timestamp check, token and code
// expiry and the Beijing day of every daily limit read it. Share it with the
// client (Server.Client does) so both sides agree on the time.
//
// A Clock from NewClock stands still until advanced or set; the zero Clock,
// and the default one of a server, follows real time plus whatever Advance
// and Set added. A Clock is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	fixed  bool
	t      time.Time     // the time, when fixed
	offset time.Duration // added to the real time, when not fixed
}

// NewClock returns a Clock that stands at t until advanced or set.
func NewClock(t time.Time) *Clock { return &Clock{fixed: true, t: t} }

// Now returns the clock's time. Its method value (c.Now) fits ump.WithClock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed {
		return c.t
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d (backward if d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed {
		c.t = c.t.Add(d)
	} else {
		c.offset += d
	}
}

// Set moves the clock to t. A clock that follows real time keeps following
// it from t on.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fixed {
		c.t = t
	} else {
		c.offset = time.Until(t)
	}
}
