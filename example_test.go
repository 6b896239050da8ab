package ump_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"

	ump "github.com/greedc/ump-go"
)

// ExampleNewClient builds a client for an app and lets it obtain its first
// access token. The test server stands in for the gateway and checks every
// request's sign with ump.Sign, as the platform does.
func ExampleNewClient() {
	const appID, appSecret = "wkb1ag2hdad7e6jw1r", "your-app-secret"
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		q := r.URL.Query()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case q.Get("sign") != ump.Sign(q, body, appSecret):
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"success":false,"error_message":"sign mismatch"}`)
		case r.URL.Path == "/gw/gateway/dss.auth.token.query/v1":
			_, _ = io.WriteString(w, `{"success":true,"data":{"access_token":"atB1ABA5C50C41C5FEE3E911EC8020C32C",`+
				`"refresh_token":"rt5ED02D25F23917092218565B9DDAF657","expire_in":7200}}`)
		case r.URL.Path == "/gw/gateway/wk.user.info.query/v1":
			_, _ = io.WriteString(w, `{"success":true,"data":{"open_id":"o-1","phone":"13800000000","score":100}}`)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer gateway.Close()

	c, err := ump.NewClient(appID, appSecret, ump.WithBaseURL(gateway.URL))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	// The first call that needs a token obtains one (section 2.1, once a
	// day); later calls reuse it and refresh it shortly before it expires.
	token, err := c.Auth.AccessToken(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("token length:", len(token))

	st, err := c.Auth.Status(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("app %s: %d obtain and %d refreshes spent today\n", c.AppID(), st.Obtains, st.Refreshes)
	// Output:
	// token length: 34
	// app wkb1ag2hdad7e6jw1r: 1 obtain and 0 refreshes spent today
}

// ExampleSign reproduces the example of the platform document's section 1.
func ExampleSign() {
	params := url.Values{"foo": {"1"}, "bar": {"2"}, "foo_bar": {"3"}, "foobar": {"4"}}
	body := []byte(`{"orderNo":123}`)
	fmt.Println(ump.CanonicalString(params, body, "<appSecret>"))
	fmt.Println(ump.Sign(params, body, "XYZ"))
	// Output:
	// bar2foo1foo_bar3foobar4{"orderNo":123}<appSecret>
	// 546e4aa36d2d624da5ff816ca030951c
}
