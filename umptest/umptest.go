package umptest

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest/internal/engine"
)

// The app a server serves unless WithApp says otherwise.
const (
	DefaultAppID     = "umptest-app"
	DefaultAppSecret = "umptest-secret-0123456789abcdef"
)

// The defaults of WithRequestHistory and WithMaxBodyBytes.
const (
	// MaxRequests is how many requests a server remembers for Requests;
	// older ones are forgotten first.
	MaxRequests = 10000
	// MaxRequestBytes bounds the bytes of the remembered requests (their
	// bodies and queries), so a flood of large requests cannot grow the
	// history without bound.
	MaxRequestBytes = 16 << 20
	// MaxBodyBytes is the largest request body the server reads; a larger
	// one is refused with HTTP 413 and a plain-text reason.
	MaxBodyBytes = 1 << 20
)

// Handler is the emulated gateway as an http.Handler, with its state. Serve
// it on any address (`ump sandbox` does); NewServer serves it on an
// httptest server. It is safe for concurrent use.
type Handler struct {
	p     *engine.Platform
	clock *Clock
	log   *slog.Logger

	mu      sync.Mutex
	rng     *rand.Rand
	faults  map[string][]*fault
	stats   Stats
	history history
	keys    keyLocks
	maxBody int64
}

// NewHandler returns an emulated gateway holding the seven levels of the
// document's 3.8 example and nothing else.
func NewHandler(opts ...Option) *Handler {
	cfg := config{appID: DefaultAppID, appSecret: DefaultAppSecret, seed: 1}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	if cfg.clock == nil {
		cfg.clock = &Clock{}
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{
		p: engine.New(engine.Config{
			AppID: cfg.appID, AppSecret: cfg.appSecret, Now: cfg.clock.Now, Seed: cfg.seed,
			RefreshGrace: cfg.grace, ObtainsPerDay: cfg.obtains, RefreshesPerDay: cfg.refreshes,
			MemberCodeTTL: cfg.codeTTL, SMSPerDay: cfg.smsPerDay, SMSEnvelope: cfg.smsEnvelope,
			PageSizeCap: int64(cfg.pageSizeCap), IgnorePageNo: cfg.ignorePageNo, NoTotalCount: cfg.noTotalCount,
			PerCallCodes: cfg.perCallCodes,
		}),
		clock:  cfg.clock,
		log:    cfg.logger,
		rng:    rand.New(rand.NewPCG(cfg.seed, cfg.seed+1)),
		faults: map[string][]*fault{},
		stats:  Stats{Calls: map[string]int{}},

		history: history{maxCount: orDefault(cfg.historyCount, MaxRequests), maxBytes: orDefault(cfg.historyBytes, MaxRequestBytes)},
		maxBody: cmp.Or(max(cfg.maxBody, 0), MaxBodyBytes),
	}
}

// Server is a Handler served by an httptest server.
type Server struct {
	*Handler
	// URL is the base URL to give ump.WithBaseURL.
	URL string
	// AppID and AppSecret are the app the server accepts.
	AppID, AppSecret string

	ts *httptest.Server
}

// NewServer starts an emulated gateway. Close it when done.
func NewServer(opts ...Option) *Server {
	cfg := config{}
	for _, o := range opts {
		if o != nil {
			o(&cfg)
		}
	}
	h := NewHandler(opts...)
	var ts *httptest.Server
	if cfg.tls {
		ts = httptest.NewTLSServer(h)
	} else {
		ts = httptest.NewServer(h)
	}
	return &Server{Handler: h, URL: ts.URL, AppID: h.p.AppID(), AppSecret: h.p.AppSecret(), ts: ts}
}

// Close shuts the server down, waiting for calls in progress.
func (s *Server) Close() { s.ts.Close() }

// Client returns a client of the server's app, sharing the server's clock:
//
//	ump.NewClient(s.AppID, s.AppSecret, ump.WithBaseURL(s.URL), ump.WithClock(s.Clock().Now), opts...)
//
// (with the server's certificate trusted under WithTLS). It panics if an
// option is invalid: a test's mistake, not a condition to handle.
func (s *Server) Client(opts ...ump.Option) *ump.Client {
	base := []ump.Option{ump.WithBaseURL(s.URL), ump.WithClock(s.Clock().Now)}
	if s.ts.TLS != nil {
		base = append(base, ump.WithHTTPClient(s.ts.Client()))
	}
	c, err := ump.NewClient(s.AppID, s.AppSecret, append(base, opts...)...)
	if err != nil {
		panic("umptest: Server.Client: " + err.Error())
	}
	return c
}

// Clock returns the gateway's clock.
func (h *Handler) Clock() *Clock { return h.clock }

// Stats counts what the gateway saw.
type Stats struct {
	// TokenObtains and TokenRefreshes count the tokens issued by 2.1 and
	// 2.2 (an answer lost to DropAfterApply or MalformedBody counts: the
	// token was issued).
	TokenObtains, TokenRefreshes int
	// Calls counts the requests received per gateway method, whatever
	// became of them (faults and refusals included).
	Calls map[string]int
	// Rejected counts the calls refused for their credentials: a bad sign,
	// a stale timestamp, an unknown or expired token or app id.
	Rejected int
}

// Stats returns a copy of the counts.
func (h *Handler) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stats
	s.Calls = make(map[string]int, len(h.stats.Calls))
	for k, v := range h.stats.Calls {
		s.Calls[k] = v
	}
	return s
}

// Request is a request as the gateway received it.
type Request struct {
	// Time is when the request arrived, on the server's clock.
	Time time.Time
	// Method is the gateway method; Verb the HTTP method.
	Method, Verb string
	// Query is the query without sign, access_token and refresh_token.
	Query url.Values
	// Body is the body exactly as received, kept only for a request that
	// passed the gateway's checks of its timestamp, credential and sign
	// (nil otherwise), so a stranger's body costs the history nothing.
	Body []byte
	// Status is the HTTP status answered (0 when the connection was
	// dropped); Code the envelope's error code (0 on success).
	Status int
	Code   int64
	// Fault is the fault that hit the request (0 for none).
	Fault FaultKind
}

// Requests returns the requests received, oldest first: the newest that fit
// WithRequestHistory's bounds (by default the last MaxRequests, holding at
// most MaxRequestBytes).
func (h *Handler) Requests() []Request {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.history.all()
}

// ResetStats forgets the counts and the recorded requests.
func (h *Handler) ResetStats() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stats = Stats{Calls: map[string]int{}}
	h.history.reset()
}

// Fail makes calls of the gateway method (or of every method, AnyMethod) go
// wrong as f describes. Several faults may be set for one method; each call
// meets the first that hits it.
func (h *Handler) Fail(method string, f Fault) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.faults[method] = append(h.faults[method], &fault{Fault: f, left: f.Times})
}

// ClearFaults removes every fault.
func (h *Handler) ClearFaults() {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.faults)
}

// pickFault returns the fault that hits a call of method, if any, and
// counts the call.
func (h *Handler) pickFault(method string) *Fault {
	h.mu.Lock()
	defer h.mu.Unlock()
	if method != "" {
		h.stats.Calls[method]++
	}
	for _, key := range [...]string{method, AnyMethod} {
		fs := h.faults[key]
		for i, f := range fs {
			if f.Rate > 0 && h.rng.Float64() >= f.Rate {
				continue
			}
			picked := f.Fault
			if f.Times > 0 {
				if f.left--; f.left <= 0 {
					h.faults[key] = append(fs[:i:i], fs[i+1:]...)
				}
			}
			return &picked
		}
	}
	return nil
}

// ServeHTTP implements http.Handler: the fault, if any, then the platform.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	method, _ := engine.ParsePath(r.URL.Path)
	rec := &Request{Time: h.clock.Now(), Method: method, Verb: r.Method}
	query, qerr := url.ParseQuery(r.URL.RawQuery)
	rec.Query = redactQuery(query)
	body, err := h.readBody(w, r)
	switch {
	case errors.As(err, new(*http.MaxBytesError)):
		rec.Status, rec.Code = http.StatusRequestEntityTooLarge, engine.CodeInvalidParams
		h.respond(w, r, rec, start, plain(rec.Status, "request body too large: the limit is "+strconv.FormatInt(h.maxBody, 10)+" bytes\n"))
		return
	case err != nil:
		rec.Status, rec.Code = http.StatusBadRequest, engine.CodeInvalidParams
		h.respond(w, r, rec, start, plain(rec.Status, "request body could not be read: "+err.Error()+"\n"))
		return
	case qerr != nil:
		rec.Status, rec.Code = http.StatusBadRequest, engine.CodeInvalidParams
		h.respond(w, r, rec, start, plain(rec.Status, "malformed query: "+qerr.Error()+"\n"))
		return
	}

	call := engine.Call{Verb: r.Method, Path: r.URL.Path, Method: method, Query: query, Body: body, Received: rec.Time}
	f := h.pickFault(method)
	if f != nil {
		rec.Fault = f.Kind
		if f.Delay > 0 && f.Kind != LateApply {
			wait(r.Context(), f.Delay)
		}
		if !f.Kind.applies() {
			if h.p.Authentic(call) {
				rec.Body = body
			}
			h.respond(w, r, rec, start, h.preApply(r, body, f, rec))
			return
		}
	}

	reply := h.apply(call, f)
	h.count(method, reply)
	rec.Status, rec.Code = reply.Status, reply.Code
	if reply.Authenticated {
		rec.Body = body
	}
	h.respond(w, r, rec, start, postApply(f, reply, rec))
}

// postApply returns the answer to a call the platform carried out: its
// reply, or what a fault that strikes after the work makes of it.
func postApply(f *Fault, reply engine.Reply, rec *Request) func(http.ResponseWriter) {
	kind := FaultKind(0)
	if f != nil {
		kind = f.Kind
	}
	switch kind {
	case DropAfterApply:
		rec.Status = 0
		return drop
	case MalformedBody:
		rec.Status = http.StatusOK
		return envelope(http.StatusOK, reply.Body[:len(reply.Body)/2])
	case OddData:
		return envelope(reply.Status, oddData(reply.Body))
	case HugeAnswer:
		return envelope(reply.Status, padded(reply.Body, orDefault(f.Size, 5<<20)))
	}
	return envelope(reply.Status, reply.Body)
}

// apply hands the call to the engine under its write key, if it has one, so
// that writes of one key are serialised like a real gateway's: a LateApply
// call holds the key through its whole delay, and a resend under the same
// key waits for it, whether or not either client is still there.
func (h *Handler) apply(call engine.Call, f *Fault) engine.Reply {
	if key := engine.WriteKey(call); key != "" {
		defer h.keys.lock(key)()
	}
	if f != nil && f.Kind == LateApply && f.Delay > 0 {
		time.Sleep(f.Delay) // the client's hanging up does not hurry a real gateway
	}
	return h.p.Handle(call)
}

// respond records the request, then answers, then logs: a client that has
// its answer (or lost its connection) finds the request already recorded.
// Every answer carries Date from the server's clock, as a real server's
// carries its own time, unless the fault is NoDate.
func (h *Handler) respond(w http.ResponseWriter, r *http.Request, rec *Request, start time.Time, answer func(http.ResponseWriter)) {
	h.mu.Lock()
	h.history.add(*rec)
	h.mu.Unlock()
	defer h.logCall(r.Context(), rec, start) // also when drop aborts the handler
	if rec.Fault == NoDate {
		w.Header()["Date"] = nil // net/http adds Date unless told not to
	} else {
		w.Header().Set("Date", h.clock.Now().UTC().Format(http.TimeFormat))
	}
	answer(w)
}

// padded returns the JSON object body with a first field of size bytes
// (HugeAnswer).
func padded(body []byte, size int) []byte {
	b := append([]byte(`{"padding":"`), strings.Repeat("x", size)...)
	b = append(b, '"')
	rest := bytes.TrimSpace(body[1:])
	if len(rest) > 0 && rest[0] != '}' {
		b = append(b, ',')
	}
	return append(b, rest...)
}

// oddData returns an envelope with its data replaced by a value of an
// unexpected shape (OddData).
func oddData(body []byte) []byte {
	var env map[string]json.RawMessage
	if json.Unmarshal(body, &env) != nil {
		return body
	}
	odd := json.RawMessage(`[1.5,"two",{"three":null}]`)
	if d := bytes.TrimSpace(env["data"]); len(d) > 0 && d[0] == '[' {
		odd = json.RawMessage(`{"unexpected":[1.5,"two"]}`)
	}
	env["data"] = odd
	b, err := json.Marshal(env)
	if err != nil {
		return body
	}
	return b
}

// readBody reads the request body, up to the server's limit, in one
// allocation when the client announced its length.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > h.maxBody {
		return nil, &http.MaxBytesError{Limit: h.maxBody} // not worth reading
	}
	var b bytes.Buffer
	if r.ContentLength > 0 {
		b.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	if b.Len() == 0 {
		return nil, err
	}
	return b.Bytes(), err
}

// preApply returns the answer of a fault that answers without applying the
// call, and notes it in rec.
func (h *Handler) preApply(r *http.Request, body []byte, f *Fault, rec *Request) func(http.ResponseWriter) {
	switch f.Kind {
	case Redirect:
		status := orDefault(f.Status, http.StatusTemporaryRedirect)
		rec.Status = status
		to := cmp.Or(f.Location, "http://redirect.invalid")
		return func(w http.ResponseWriter) {
			w.Header().Set("Location", strings.TrimSuffix(to, "/")+r.URL.RequestURI())
			plain(status, http.StatusText(status)+"\n")(w)
		}
	case EchoRequest:
		rec.Status, rec.Code = http.StatusOK, engine.CodeInvalidParams
		echo := "请求参数不合法: " + r.URL.RequestURI() + " " + string(body) + " app_secret=" + h.p.AppSecret()
		b, _ := json.Marshal(map[string]any{"success": false, "error_code": engine.CodeInvalidParams, "error_message": echo, "data": echo})
		return envelope(http.StatusOK, b)
	case HTTPStatus:
		status := orDefault(f.Status, http.StatusServiceUnavailable)
		rec.Status = status
		return plain(status, strconv.Itoa(status)+" "+http.StatusText(status)+"\n")
	case SystemBusy:
		reply := h.p.SystemBusy(rec.Method)
		rec.Status, rec.Code = reply.Status, reply.Code
		return envelope(reply.Status, reply.Body)
	case HTMLPage:
		status := orDefault(f.Status, http.StatusBadGateway)
		rec.Status = status
		text := strconv.Itoa(status) + " " + http.StatusText(status)
		page := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
			"</h1></center>\r\n<!-- request: " + r.URL.RequestURI() + " -->\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
		return answerWith(status, "text/html", []byte(page))
	default: // DropBeforeApply
		rec.Status = 0
		return drop
	}
}

// count updates the stats from the platform's reply.
func (h *Handler) count(method string, reply engine.Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if reply.Rejected {
		h.stats.Rejected++
	}
	if reply.Code == 0 && reply.Status == http.StatusOK {
		switch method {
		case "dss.auth.token.query":
			h.stats.TokenObtains++
		case "dss.auth.token.refresh":
			h.stats.TokenRefreshes++
		}
	}
}

// logCall logs a call, never its query or body.
func (h *Handler) logCall(ctx context.Context, rec *Request, start time.Time) {
	if !h.log.Enabled(ctx, slog.LevelInfo) {
		return
	}
	attrs := []slog.Attr{slog.String("method", rec.Method), slog.String("verb", rec.Verb), slog.Int("status", rec.Status)}
	if rec.Code != 0 {
		attrs = append(attrs, slog.Int64("code", rec.Code))
	}
	if rec.Fault != 0 {
		attrs = append(attrs, slog.String("fault", rec.Fault.String()))
	}
	attrs = append(attrs, slog.Duration("elapsed", time.Since(start)))
	h.log.LogAttrs(ctx, slog.LevelInfo, "umptest: call", attrs...)
}

// redactQuery drops the credentials from a recorded query.
func redactQuery(q url.Values) url.Values {
	out := make(url.Values, len(q))
	for k, v := range q {
		switch k {
		case "sign", "access_token", "refresh_token":
		default:
			out[k] = v
		}
	}
	return out
}

// answerWith returns an answer of status with body.
func answerWith(status int, contentType string, body []byte) func(http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(status)
		_, _ = w.Write(body)
	}
}

// envelope is a JSON answer, with the Content-Type of a Java gateway.
func envelope(status int, body []byte) func(http.ResponseWriter) {
	return answerWith(status, "application/json;charset=UTF-8", body)
}

func plain(status int, text string) func(http.ResponseWriter) {
	return answerWith(status, "text/plain; charset=utf-8", []byte(text))
}

// drop closes the connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			_ = conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // HTTP/2: abort the stream
}

// wait sleeps for d, or until the client gives up.
func wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func orDefault(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// mustf panics with a umptest message: seeding mistakes are a test's bugs.
func mustf(err error, format string, args ...any) {
	if err != nil {
		panic(fmt.Sprintf("umptest: "+format+": %v", append(args, err)...))
	}
}
