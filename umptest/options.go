package umptest

import (
	"log/slog"
	"time"
)

// config is what the options set; zero fields take the defaults.
type config struct {
	appID, appSecret string
	clock            *Clock
	logger           *slog.Logger
	seed             uint64
	grace            time.Duration
	obtains          int
	refreshes        int
	codeTTL          time.Duration
	smsPerDay        int
	tls              bool
	smsEnvelope      bool
	historyCount     int
	historyBytes     int
	maxBody          int64
	pageSizeCap      int
	ignorePageNo     bool
	noTotalCount     bool
	perCallCodes     bool
}

// Option configures a Handler or Server.
type Option func(*config)

// WithApp sets the app id and secret the server accepts. The default is
// DefaultAppID and DefaultAppSecret.
func WithApp(appID, appSecret string) Option {
	return func(c *config) { c.appID, c.appSecret = appID, appSecret }
}

// WithClock sets the server's clock. The default follows real time.
func WithClock(clk *Clock) Option {
	return func(c *config) {
		if clk != nil {
			c.clock = clk
		}
	}
}

// WithLogger logs each call at info level: the gateway method, the HTTP
// verb and status, the envelope's code and any fault. It never logs the
// query or body, so never a secret, token, sign or phone number. The default
// discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithSeed seeds the generator behind tokens, open_ids, codes and the Rate
// of faults, so a test is reproducible. The default seed is 1.
func WithSeed(seed uint64) Option { return func(c *config) { c.seed = seed } }

// WithRefreshGrace lets an access token keep working for d after an obtain
// or refresh replaced it. By default it stops at once; a negative d keeps
// every access token working until its own expiry.
func WithRefreshGrace(d time.Duration) Option { return func(c *config) { c.grace = d } }

// WithTokenLimits sets how many obtains (2.1) and refreshes (2.2) the app may
// make per Beijing day; a negative number means no limit. The default is
// the document's: 1 and 20.
func WithTokenLimits(obtainsPerDay, refreshesPerDay int) Option {
	return func(c *config) { c.obtains, c.refreshes = obtainsPerDay, refreshesPerDay }
}

// WithMemberCodeTTL sets how long a member code (3.6) parses. The default
// is 60 s.
func WithMemberCodeTTL(d time.Duration) Option { return func(c *config) { c.codeTTL = d } }

// WithSMSPerDay sets how many SMS codes one phone may receive per Beijing
// day. The default is 10.
func WithSMSPerDay(n int) Option { return func(c *config) { c.smsPerDay = n } }

// WithSMSEnvelope answers the successes of 6.1 and 6.2 in the usual
// envelope ({"success":true,"error_code":200,...}) instead of the {} the
// document shows. Failures carry the envelope either way.
func WithSMSEnvelope() Option { return func(c *config) { c.smsEnvelope = true } }

// WithPageSizeCap makes paged calls (3.5, 3.8, 5.5) serve at most n items a
// page while pageSize echoes the size asked, like a gateway with a hard
// page-size limit: asked for 100 with n = 7, page 2 holds items 8 to 14 and
// says pageSize 100. n <= 0 means no cap (the default).
func WithPageSizeCap(n int) Option { return func(c *config) { c.pageSizeCap = n } }

// WithPageNoIgnored makes paged calls serve the first page whatever page is
// asked, echoing the pageNo asked: a client paging on must notice the
// repeat rather than loop.
func WithPageNoIgnored() Option { return func(c *config) { c.ignorePageNo = true } }

// WithoutTotalCount leaves totalCount out of paged answers.
func WithoutTotalCount() Option { return func(c *config) { c.noTotalCount = true } }

// WithRequestHistory bounds what Requests remembers: at most maxRequests
// requests holding at most maxBytes bytes of bodies and queries, the oldest
// forgotten first. The defaults are MaxRequests and MaxRequestBytes; a value
// of 0 or less keeps the default.
func WithRequestHistory(maxRequests, maxBytes int) Option {
	return func(c *config) { c.historyCount, c.historyBytes = maxRequests, maxBytes }
}

// WithMaxBodyBytes sets the largest request body the server reads (default
// MaxBodyBytes); a larger one is refused with HTTP 413. A value of 0 or less
// keeps the default.
func WithMaxBodyBytes(n int64) Option { return func(c *config) { c.maxBody = n } }

// WithTLS makes NewServer serve HTTPS, like the real gateway; Server.Client
// trusts its certificate. NewHandler ignores it.
func WithTLS() Option { return func(c *config) { c.tls = true } }

// WithPerCallCodes answers with the codes of a call's own error table where
// the document gives one that differs from the global table: an expired or
// unknown member code in 3.7 is 110001 ("会员条形码失效"; globally "phone
// empty"), and the SystemBusy fault on 3.6 and 3.7 answers 1001 ("系统繁忙";
// globally "invalid parameters"). By default the emulator answers the global
// table's 110006 and 500.
func WithPerCallCodes() Option { return func(c *config) { c.perCallCodes = true } }
