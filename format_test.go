package ump

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Personal data and secrets the printed values hold.
const (
	fmtPhone    = "13812345678"
	fmtIDCard   = "440402199001011234"
	fmtPassport = "M05833549"
	fmtSecret   = "s3cr3t-app-secret-value"
	fmtToken    = "at0123456789abcdef0123456789abcdef"
)

// printables lists every exported request type, zero and filled in, and the
// other values that hold a secret or personal data.
func printables(t *testing.T) []any {
	c, err := NewClient("app1", fmtSecret, WithBaseURL("http://gw.example"))
	require.NoError(t, err)
	_, err = c.Auth.store.CompareAndSwap(t.Context(), "app1", 0, Token{AccessToken: fmtToken, RefreshToken: fmtToken + "r"})
	require.NoError(t, err)
	c.Auth.recoveredTo = fmtToken
	sale := OrderDetails{OrderNo: "S1", Phone: fmtPhone, ConsumeDate: time.Now(), OrderAmount: Yuan(1, 0),
		CustomerIDType: 14, CustomerIDNumber: fmtPassport, VIPName: "张三"}
	page := PageRequest{PageNo: 1, PageSize: 10}
	filled := []any{
		CreateMemberRequest{ProjectID: "p", Phone: fmtPhone, IDCard: fmtIDCard, RealName: "张三"},
		MemberQuery{Phone: fmtPhone, OpenID: fmtPhone},
		ScoreChangeRequest{OpenID: fmtPhone, Score: 1, ChangeID: "c"},
		ScoreRollbackRequest{OpenID: fmtPhone, StatementID: "st", ChangeID: "c"},
		ScoreRecordsRequest{OpenID: fmtPhone, PageRequest: page},
		page,
		sale,
		ConsumeOrderRequest{OrderDetails: sale},
		RefundOrderRequest{OrderDetails: sale, ParentOrderNo: "S0"},
		CouponTemplateRequest{ThirdCouponID: "T", Name: fmtPhone},
		CouponGrant{OpenID: fmtPhone, ParamsType: ParamsPhone, CouponNumber: "CN"},
		GiveCouponsRequest{ThirdCouponID: "T", Number: 1, CouponSet: []CouponGrant{{OpenID: fmtPhone, ParamsType: ParamsPhone}}},
		CouponStatusRequest{ThirdCouponCode: "CN", OpenID: fmtPhone},
		VerifyCouponsRequest{OpenID: fmtPhone, OrderNo: "S1", ThirdCouponCodes: []string{"CN"}},
		UserCouponsRequest{OpenID: fmtPhone, PageRequest: page},
		Member{OpenID: "o1", Phone: fmtPhone, IDCard: fmtIDCard},
	}
	var all []any
	for _, v := range filled {
		all = append(all, v, ptrTo(v))
	}
	for _, v := range filled {
		all = append(all, ptrTo(v)) // zero-valued: a nil pointer of the type
	}
	return append(all, c, (*Client)(nil), c.Auth, c.Auth.store,
		settings{baseURL: "http://gw.example", httpClient: &http.Client{}, timeout: time.Second})
}

// ptrTo returns a pointer to a copy of v.
func ptrTo(v any) any {
	switch v := v.(type) {
	case CreateMemberRequest:
		return &v
	case MemberQuery:
		return &v
	case ScoreChangeRequest:
		return &v
	case ScoreRollbackRequest:
		return &v
	case ScoreRecordsRequest:
		return &v
	case PageRequest:
		return &v
	case OrderDetails:
		return &v
	case ConsumeOrderRequest:
		return &v
	case RefundOrderRequest:
		return &v
	case CouponTemplateRequest:
		return &v
	case CouponGrant:
		return &v
	case GiveCouponsRequest:
		return &v
	case CouponStatusRequest:
		return &v
	case VerifyCouponsRequest:
		return &v
	case UserCouponsRequest:
		return &v
	case Member:
		return &v
	}
	panic(fmt.Sprintf("ptrTo: %T", v))
}

// TestPrintingShowsNoSecretOrPersonalData prints every value in every verb
// and through both slog handlers, also nested in a struct and a slice.
func TestPrintingShowsNoSecretOrPersonalData(t *testing.T) {
	never := []string{fmtPhone, fmtIDCard, fmtPassport, fmtSecret, fmtToken}
	for _, v := range printables(t) {
		name := fmt.Sprintf("%T", v)
		var out []string
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%q", "%x"} {
			out = append(out, fmt.Sprintf(verb, v), fmt.Sprintf(verb, []any{v}),
				fmt.Sprintf(verb, struct{ V any }{v}))
		}
		for _, h := range []func(*bytes.Buffer) slog.Handler{
			func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
			func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		} {
			var b bytes.Buffer
			slog.New(h(&b)).Info("printing", "value", v)
			out = append(out, b.String())
		}
		for _, o := range out {
			for _, s := range never {
				if strings.Contains(o, s) {
					t.Errorf("%s prints %q: %s", name, s, o)
				}
			}
		}
	}
}

func TestPrintingShowsMaskedFields(t *testing.T) {
	req := CreateMemberRequest{ProjectID: "p", Phone: fmtPhone, IDCard: fmtIDCard}
	require.Equal(t, "{project_id:p phone:138****5678 id_card:4****************4 outer_user_id:}", fmt.Sprintf("%+v", req))
	require.Equal(t, `ump.CreateMemberRequest{project_id:"p", phone:"138****5678", id_card:"4****************4", outer_user_id:""}`,
		fmt.Sprintf("%#v", &req))
	q := MemberQuery{Phone: fmtPhone}
	require.Contains(t, fmt.Sprint(q), "Phone:138****5678")
	c, err := NewClient("app1", fmtSecret, WithBaseURL("http://gw.example"))
	require.NoError(t, err)
	require.Equal(t, "{app_id:app1 base_url:http://gw.example app_secret:***}", fmt.Sprintf("%+v", c))
}
