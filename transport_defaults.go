package ump

import (
	"errors"
	"fmt"
	"math"
	"net/http"
)

// defaultHTTPTransport is the transport of a Client built without
// WithHTTPClient: http.DefaultTransport's settings (proxy from the
// environment, dial and TLS handshake timeouts, HTTP/2 when the gateway
// offers it, idle connections closed after 90 s) with an idle pool that
// keeps every connection a peak opened.
//
// The pool is the point: net/http keeps only MaxIdleConnsPerHost idle
// connections to a host and closes the rest as their calls finish, so with
// more calls in flight than that, every burst opens connections (a TLS
// handshake each against the real gateway) and closes them again, and the
// tail latency grows with the load. With the idle pool at least as large as
// the connections in flight, a steady peak opens none; IdleConnTimeout still
// closes what a past peak left idle.
//
// maxConnsPerHost > 0 bounds the connections to the gateway (see
// WithMaxConnsPerHost) and the idle pool with them; 0 bounds neither.
func defaultHTTPTransport(maxConnsPerHost int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone() // keeps ForceAttemptHTTP2
	// The Client talks to one host, so the pool's total limit is its
	// per-host limit: 0 (none) in both cases.
	t.MaxIdleConns = 0
	t.MaxConnsPerHost = maxConnsPerHost
	t.MaxIdleConnsPerHost = maxConnsPerHost
	if maxConnsPerHost <= 0 {
		t.MaxIdleConnsPerHost = math.MaxInt // 0 would mean net/http's default of 2
	}
	return t
}

// WithMaxConnsPerHost bounds the connections the Client's default transport
// opens to the gateway, for gateways that limit connections per client; the
// idle pool keeps as many, so connections are reused, never churned. The
// default is no bound: the Client opens a connection for every call in
// flight that finds none idle, and keeps them all for reuse until they have
// been idle for 90 s.
//
// A call beyond the bound waits for a connection to come free, in the order
// the calls came. The wait counts against the call's context and against
// the per-attempt timeout (WithTimeout), and nothing else bounds it: choose
// n no smaller than the calls you run at once, or expect them to queue. A
// call whose context or timeout ends while it waits was not sent, but it
// fails like a timeout, so a call the SDK never repeats (member creation,
// order sync, coupon give and verify, SMS send) reports an
// *OutcomeUnknownError.
//
// WithMaxConnsPerHost configures the SDK's own transport: combined with
// WithHTTPClient, NewClient returns an error. A transport given to
// WithHTTPClient keeps its own settings; for peak loads the ones that
// matter are MaxIdleConnsPerHost (net/http's default of 2 reconnects under
// any concurrency; keep it at least at the calls in flight), MaxIdleConns
// (0 or at least that), MaxConnsPerHost, IdleConnTimeout and the dial and
// TLS handshake timeouts.
func WithMaxConnsPerHost(n int) Option {
	return func(s *settings) error {
		if n < 1 {
			return fmt.Errorf("ump: WithMaxConnsPerHost: %d is below 1", n)
		}
		s.maxConnsPerHost = n
		return nil
	}
}

// checkTransportOptions reports options that contradict each other, in
// whichever order they were given.
func (s *settings) checkTransportOptions() error {
	if s.httpClient != nil && s.maxConnsPerHost != 0 {
		return errors.New("ump: WithMaxConnsPerHost applies to the SDK's own transport, not to WithHTTPClient's: set MaxConnsPerHost and MaxIdleConnsPerHost on that transport")
	}
	return nil
}
