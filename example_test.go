package ump_test

import (
	"context"
	"fmt"
	"net/url"
	"time"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// ExampleNewClient builds a client for an app and makes a first call. The
// first call that needs a token obtains one (section 2.1, allowed once a
// day); later calls reuse it and refresh it shortly before it expires.
// umptest stands in for the gateway here and checks every request's sign,
// timestamp and token as the platform does.
func ExampleNewClient() {
	gateway := umptest.NewServer()
	defer gateway.Close()
	gateway.AddMember(umptest.Member{Phone: "13800000000", Nickname: "张三"})

	c, err := ump.NewClient(gateway.AppID, gateway.AppSecret,
		ump.WithBaseURL(gateway.URL), // your gateway's address
		ump.WithTimeout(5*time.Second),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	m, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: "13800000000"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("member:", m.Nickname)

	st, err := c.Auth.Status(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d obtain and %d refreshes spent today\n", st.Obtains, st.Refreshes)
	// Output:
	// member: 张三
	// 1 obtain and 0 refreshes spent today
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
