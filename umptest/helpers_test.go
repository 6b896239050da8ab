package umptest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
	"github.com/greedc/ump-go/umptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is a Beijing morning, far from a day boundary.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, wire.Beijing)

// raw is a request built by hand, signed with ump.Sign the way the document
// says, so the tests do not depend on the SDK's request path.
type raw struct {
	verb   string     // default POST
	cred   string     // credential parameter; default access_token
	value  string     // its value
	body   string     // sent as is
	params url.Values // more query parameters, signed
	at     time.Time  // timestamp; default the server's clock
	secret string     // default the server's
	// after changes the query after signing (a tampered request).
	after func(q url.Values)
}

// answer is what came back; err is a transport failure.
type answer struct {
	status int
	header http.Header
	body   []byte
	env    map[string]any
	err    error
}

// code returns the envelope's error code under either spelling, 0 if none.
func (a answer) code() int64 {
	v := a.env["error_code"]
	if v == nil {
		v = a.env["errorCode"]
	}
	n, _ := strconv.ParseInt(fmt.Sprint(v), 10, 64)
	if n == 200 {
		return 0
	}
	return n
}

func (a answer) success() bool { return a.env["success"] == true }

// newHTTPClient returns a client that follows no redirect and whose idle
// connections close with the test.
func newHTTPClient(t *testing.T) *http.Client {
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// sendE sends r to the gateway method; safe to call from any goroutine.
func sendE(hc *http.Client, srv *umptest.Server, method string, r raw) answer {
	q := url.Values{}
	for k, v := range r.params {
		q[k] = v
	}
	cred := r.cred
	if cred == "" {
		cred = "access_token"
	}
	q.Set(cred, r.value)
	at := r.at
	if at.IsZero() {
		at = srv.Clock().Now()
	}
	q.Set("timestamp", strconv.FormatInt(at.UnixMilli(), 10))
	secret := r.secret
	if secret == "" {
		secret = srv.AppSecret
	}
	q.Set("sign", ump.Sign(q, []byte(r.body), secret))
	if r.after != nil {
		r.after(q)
	}
	verb := r.verb
	if verb == "" {
		verb = http.MethodPost
	}
	var body io.Reader
	if r.body != "" {
		body = bytes.NewReader([]byte(r.body))
	}
	req, err := http.NewRequest(verb, srv.URL+"/gw/gateway/"+method+"/v1?"+q.Encode(), body)
	if err != nil {
		return answer{err: err}
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, header: resp.Header}
	a.body, a.err = io.ReadAll(resp.Body)
	if json.Valid(a.body) {
		dec := json.NewDecoder(bytes.NewReader(a.body))
		dec.UseNumber()
		_ = dec.Decode(&a.env)
	}
	return a
}

// send is sendE for the test goroutine, failing on a transport error.
func send(t *testing.T, hc *http.Client, srv *umptest.Server, method string, r raw) answer {
	t.Helper()
	a := sendE(hc, srv, method, r)
	require.NoError(t, a.err)
	return a
}

// js marshals v for a request body.
func js(v any) string {
	b, err := wire.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// changeBody is a 3.3 body.
func changeBody(openID, changeID, event string, score int64) string {
	return js(map[string]any{"open_id": openID, "score": score, "out_biz_no": "biz-" + changeID, "order_amount": 1,
		"change_reason": "test", "change_event": event, "change_id": changeID})
}
