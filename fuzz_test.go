package ump

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// Fuzz targets; scripts/fuzz.sh runs each for a bounded time. Without -fuzz,
// go test runs their seed corpora: the document's examples in testdata and
// the seeds added below.

// addFixtures seeds f with every JSON file of testdata, through add.
func addFixtures(f *testing.F, add func(body []byte)) {
	f.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no fixtures: %v", err)
	}
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		add(b)
	}
}

// decodeEnvelopeOf checks wire.DecodeEnvelope over one data type: it never
// reports both a malformed envelope and a data mismatch, and decoding the
// same bytes twice gives the same envelope.
func decodeEnvelopeOf[T any](t *testing.T, body []byte) {
	var a, b wire.Envelope[T]
	dataErr, err := wire.DecodeEnvelope(body, &a)
	if err != nil && dataErr != nil {
		t.Fatalf("%T: both a malformed envelope (%v) and a data mismatch (%v)", a.Data, err, dataErr)
	}
	if err != nil && !errors.Is(err, wire.ErrNotJSON) {
		t.Fatalf("%T: malformed envelope not marked ErrNotJSON: %v", a.Data, err)
	}
	dataErr2, err2 := wire.DecodeEnvelope(body, &b)
	if (err == nil) != (err2 == nil) || (dataErr == nil) != (dataErr2 == nil) || !reflect.DeepEqual(a, b) {
		t.Fatalf("%T: decoding is not deterministic", a.Data)
	}
}

// FuzzDecodeEnvelope decodes arbitrary answers into the envelope of every
// data type the SDK reads: members, levels, tokens, score statements and
// records, orders and coupons.
func FuzzDecodeEnvelope(f *testing.F) {
	addFixtures(f, func(b []byte) { f.Add(b) })
	for _, s := range []string{
		`{"success":true,"data":{"statement_id":12345678901234567890}}`,
		`{"success":"true","errorCode":"500","errorMessage":null,"data":[{"code":"3733288246799497770","openId":"x"}]}`,
		`{"success":false,"error_code":1.0E3,"data":true}`,
		`{"data":{"level_number":"7","level_num":7,"birthday":"1990-01-01"}}`,
		`<html>502</html>`, `{"success":true,"data":"`, `{}`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		decodeEnvelopeOf[*memberData](t, body)
		decodeEnvelopeOf[[]levelData](t, body)
		decodeEnvelopeOf[tokenData](t, body)
		decodeEnvelopeOf[statementData](t, body)
		decodeEnvelopeOf[[]scoreRecordData](t, body)
		decodeEnvelopeOf[orderData](t, body)
		decodeEnvelopeOf[[]givenCouponData](t, body)
		decodeEnvelopeOf[[]userCouponData](t, body)
		decodeEnvelopeOf[wire.Int64](t, body)
		decodeEnvelopeOf[wire.String](t, body)
	})
}

// cannedTransport answers every request with one status and body, in which
// {TOKEN}, {SIGN}, {SECRET} and {QUERY} are replaced with the request's
// access token and sign, the app secret and the whole query, so that the
// fuzzer can build answers that echo credentials.
type cannedTransport struct {
	status int
	body   []byte
	signs  []string // signs sent for the current input
}

func (ct *cannedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	q := r.URL.Query()
	ct.signs = append(ct.signs, q.Get("sign"))
	b := bytes.ReplaceAll(ct.body, []byte("{TOKEN}"), []byte(q.Get("access_token")))
	b = bytes.ReplaceAll(b, []byte("{SIGN}"), []byte(q.Get("sign")))
	b = bytes.ReplaceAll(b, []byte("{SECRET}"), []byte(testAppSecret))
	b = bytes.ReplaceAll(b, []byte("{QUERY}"), []byte(r.URL.RawQuery))
	return &http.Response{StatusCode: ct.status, Status: http.StatusText(ct.status), Header: http.Header{},
		Body: io.NopCloser(bytes.NewReader(b)), ContentLength: int64(len(b)), Request: r}, nil
}

var fuzzStatuses = [...]int{200, 500, 502, 503, 504, 404, 400}

var signInText = regexp.MustCompile(`sign=[0-9a-f]{32}`)

// FuzzCallAnswers answers every business call of the SDK with arbitrary
// bytes: nothing panics, every error is one of the SDK's (an *APIError, a
// *ResponseError, or an *OutcomeUnknownError for a call that is not
// repeated), and no error text holds the app secret, the access token or a
// sign, whatever the answer echoed.
func FuzzCallAnswers(f *testing.F) {
	addFixtures(f, func(b []byte) { f.Add(uint8(0), b) })
	for _, s := range []struct {
		status uint8
		body   string
	}{
		{2, `<html><body>502 Bad Gateway for /gw/gateway/x/v1?{QUERY} {SECRET}</body></html>`},
		{0, `{"success":false,"error_code":1001,"error_message":"bad token {TOKEN}, sign {SIGN}, secret {SECRET}"}`},
		{0, `{"success":false,"errorCode":500,"errorMessage":"系统繁忙"}`},
		{0, `{"success":true,"error_code":200,"data":{"statement_id":"SP0`},
		{0, `{"success":false,"error_code":150002,"error_message":"唯一标识已存在","data":null}`},
		{3, ``},
		{0, `{}`},
	} {
		f.Add(s.status, []byte(s.body))
	}

	ct := &cannedTransport{}
	store := NewMemoryTokenStore()
	if _, err := store.CompareAndSwap(context.Background(), testAppID, 0, Token{
		AccessToken: testAccessToken, RefreshToken: testRefreshToken,
		AccessExpiresAt: time.Now().Add(100 * 24 * time.Hour), RefreshExpiresAt: time.Now().Add(300 * 24 * time.Hour),
	}); err != nil {
		f.Fatal(err)
	}
	c, err := NewClient(testAppID, testAppSecret, WithBaseURL("http://gateway.invalid"), WithTokenStore(store),
		WithHTTPClient(&http.Client{Transport: ct}), WithRetry(RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		f.Fatal(err)
	}
	calls := fuzzCalls()

	f.Fuzz(func(t *testing.T, status uint8, body []byte) {
		ct.status, ct.body, ct.signs = fuzzStatuses[int(status)%len(fuzzStatuses)], body, nil
		ctx := context.Background()
		for _, call := range calls {
			err := call.run(ctx, c)
			if err == nil {
				continue
			}
			var (
				apiErr  *APIError
				respErr *ResponseError
			)
			switch {
			case errors.Is(err, ErrOutcomeUnknown):
				if call.idempotent {
					t.Fatalf("%s: a repeatable call reported an unknown outcome: %v", call.name, err)
				}
			case errors.As(err, &apiErr), errors.As(err, &respErr):
			default:
				t.Fatalf("%s: unexpected error %T: %v", call.name, err, err)
			}
			text := err.Error()
			for _, secret := range append([]string{testAppSecret, testAccessToken}, ct.signs...) {
				if strings.Contains(text, secret) {
					t.Fatalf("%s: error text holds a credential: %q", call.name, text)
				}
			}
			if signInText.MatchString(text) {
				t.Fatalf("%s: error text holds a sign: %q", call.name, text)
			}
		}
	})
}

type fuzzCall struct {
	name       string
	idempotent bool
	run        func(ctx context.Context, c *Client) error
}

// fuzzCalls is one valid request for every business call.
func fuzzCalls() []fuzzCall {
	at := time.Date(2021, 7, 1, 10, 0, 0, 0, wire.Beijing)
	const openID = "25c56912e05847c0b09f03ca7e52b796"
	order := OrderDetails{OrderNo: "A1", OpenID: openID, ConsumeDate: at, OrderAmount: Yuan(10, 0), OrderScore: 10}
	change := ScoreChangeRequest{OpenID: openID, Score: 1, OutBizNo: "B1", ChangeReason: "r", ChangeEvent: EventAdd,
		ChangeID: "604becde4a097343239d2848de"}
	return []fuzzCall{
		{"Member.Create", false, func(ctx context.Context, c *Client) error {
			_, err := c.Member.Create(ctx, &CreateMemberRequest{ProjectID: "1", Nickname: "n", Phone: "13800000000"})
			return err
		}},
		{"Member.Get", true, func(ctx context.Context, c *Client) error {
			_, err := c.Member.Get(ctx, &MemberQuery{OpenID: openID})
			return err
		}},
		{"Member.GenerateCode", true, func(ctx context.Context, c *Client) error {
			_, err := c.Member.GenerateCode(ctx, openID)
			return err
		}},
		{"Member.GetByCode", true, func(ctx context.Context, c *Client) error {
			_, err := c.Member.GetByCode(ctx, "06244323958828461000")
			return err
		}},
		{"Member.ListLevels", true, func(ctx context.Context, c *Client) error {
			_, err := c.Member.ListLevels(ctx, &PageRequest{})
			return err
		}},
		{"Score.Change", false, func(ctx context.Context, c *Client) error {
			r := change
			_, err := c.Score.Change(ctx, &r)
			return err
		}},
		// A keyed write: repeated like a read, but an unknown outcome once
		// an attempt may have applied it.
		{"Score.Rollback", false, func(ctx context.Context, c *Client) error {
			_, err := c.Score.Rollback(ctx, &ScoreRollbackRequest{OpenID: openID, StatementID: "SP1", RollbackScore: 1, ChangeID: "c2"})
			return err
		}},
		{"Score.Records", true, func(ctx context.Context, c *Client) error {
			_, err := c.Score.Records(ctx, &ScoreRecordsRequest{OpenID: openID})
			return err
		}},
		{"Order.SyncConsume", false, func(ctx context.Context, c *Client) error {
			_, err := c.Order.SyncConsume(ctx, &ConsumeOrderRequest{order})
			return err
		}},
		{"Order.SyncRefund", false, func(ctx context.Context, c *Client) error {
			_, err := c.Order.SyncRefund(ctx, &RefundOrderRequest{OrderDetails: order, ParentOrderNo: "A0"})
			return err
		}},
		{"Order.ResolveConsume", false, func(ctx context.Context, c *Client) error {
			_, err := c.Order.ResolveConsume(ctx, &ConsumeOrderRequest{order})
			return err
		}},
		{"Coupon.CreateTemplate", false, func(ctx context.Context, c *Client) error {
			_, err := c.Coupon.CreateTemplate(ctx, &CouponTemplateRequest{ThirdCouponID: "t", Name: "n", DiscountFee: 1, Rules: "r", FixedTerm: 1})
			return err
		}},
		{"Coupon.Give", false, func(ctx context.Context, c *Client) error {
			_, err := c.Coupon.Give(ctx, &GiveCouponsRequest{ThirdCouponID: "t", Number: 1,
				CouponSet: []CouponGrant{{OpenID: openID, ParamsType: ParamsOpenID, CouponNumber: "n1"}}})
			return err
		}},
		{"Coupon.SyncStatus", true, func(ctx context.Context, c *Client) error {
			_, err := c.Coupon.SyncStatus(ctx, &CouponStatusRequest{ThirdCouponCode: "n1", OpenID: openID, Status: CouponUsed})
			return err
		}},
		{"Coupon.Verify", false, func(ctx context.Context, c *Client) error {
			return c.Coupon.Verify(ctx, &VerifyCouponsRequest{OpenID: openID, OrderNo: "A1", ThirdCouponCodes: []string{"n1"}})
		}},
		{"Coupon.ListUserCoupons", true, func(ctx context.Context, c *Client) error {
			_, err := c.Coupon.ListUserCoupons(ctx, &UserCouponsRequest{OpenID: openID})
			return err
		}},
		{"SMS.SendCode", false, func(ctx context.Context, c *Client) error { return c.SMS.SendCode(ctx, "13800000000") }},
		{"SMS.VerifyCode", false, func(ctx context.Context, c *Client) error {
			return c.SMS.VerifyCode(ctx, "13800000000", "123456")
		}},
	}
}

// FuzzSign: Sign never panics and is the MD5 of the canonical string with
// the secret appended, computed here independently; a sign parameter never
// counts.
func FuzzSign(f *testing.F) {
	f.Add("foo", "1", "bar", "2", []byte(`{"orderNo":123}`), "XYZ")
	addFixtures(f, func(b []byte) { f.Add("access_token", testAccessToken, "timestamp", "1543222562000", b, testAppSecret) })
	f.Add("", "", "sign", "x", []byte(nil), "")
	f.Add("a", "张三", "A", "\x00\xff", []byte("\xff"), "秘密")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string, body []byte, secret string) {
		params := url.Values{}
		params.Add(k1, v1)
		params.Add(k2, v2)
		got := Sign(params, body, secret)
		sum := md5.Sum([]byte(CanonicalString(params, body, secret)))
		if want := hex.EncodeToString(sum[:]); got != want {
			t.Fatalf("Sign = %s, md5 of the canonical string = %s", got, want)
		}
		if len(got) != 32 || strings.ToLower(got) != got {
			t.Fatalf("Sign = %q: not 32 lower-case hex digits", got)
		}
		if k1 != "sign" && k2 != "sign" {
			params.Set("sign", got)
			if again := Sign(params, body, secret); again != got {
				t.Fatalf("a sign parameter changed the sign: %s != %s", again, got)
			}
		}
	})
}
