package ump

import (
	"net/http"

	"github.com/go-resty/resty/v2"
)

// newTransport builds the resty client once; it is never changed afterwards,
// which is what makes it safe for concurrent use.
func newTransport(s settings) *resty.Client {
	var hc http.Client
	if s.httpClient != nil {
		hc = *s.httpClient
	} else {
		hc.Transport = defaultHTTPTransport(s.maxConnsPerHost)
	}
	hc.Timeout = s.timeout
	rc := resty.NewWithClient(&hc)
	// resty's own logger prints full URLs (access_token and sign are query
	// parameters); the SDK logs through slog instead.
	rc.SetLogger(discardLogger{})
	// The SDK reads and decodes answers itself: resty's parsing would run a
	// content-type regex and reflection on every call.
	rc.SetDoNotParseResponse(true)
	rc.SetHeader("Content-Type", "application/json; charset=utf-8")
	rc.SetHeader("Accept", "application/json")
	rc.SetHeader("User-Agent", s.userAgent)
	return rc
}

// discardLogger silences resty's logger (see newTransport).
type discardLogger struct{}

func (discardLogger) Errorf(string, ...any) {}
func (discardLogger) Warnf(string, ...any)  {}
func (discardLogger) Debugf(string, ...any) {}
