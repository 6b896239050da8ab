package ump_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/greedc/ump-go"
)

// A member looked up by phone number, against a stand-in for the gateway
// that issues a token and answers with the document's own example.
func ExampleMemberService_Get() {
	gateway := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/gw/gateway/dss.auth.token.query/v1":
			io.WriteString(w, `{"success":true,"error_code":200,"data":{"access_token":"at-example","refresh_token":"rt-example","expire_in":7200}}`)
		case "/gw/gateway/wk.user.info.query/v1":
			io.WriteString(w, `{"success":true,"data":{"nickname":"李大哥","level_num":1,"level_name":"一级会员",
				"next_level_name":"二级会员","next_level_growth_value":300,"growth_value":0,"score":0,
				"birthday":"1994-09-28","register_time":1624874660000,"phone":"15980944959"},
				"errorCode":null,"errorMessage":null}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer gateway.Close()

	c, err := ump.NewClient("your-app-id", "your-app-secret", ump.WithBaseURL(gateway.URL))
	if err != nil {
		log.Fatal(err)
	}
	m, err := c.Member.Get(context.Background(), ump.MemberQuery{Phone: "15980944959"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: level %d (%s), %d points\n", m.Nickname, m.LevelNumber, m.LevelName, m.Score)
	fmt.Printf("%d growth value to go to %s\n", m.NextLevelGrowthValue-m.GrowthValue, m.NextLevelName)
	fmt.Println("birthday", m.Birthday.Format("2006-01-02"), "registered", m.RegisterTime.Format("2006-01-02 15:04"))
	// Output:
	// 李大哥: level 1 (一级会员), 0 points
	// 300 growth value to go to 二级会员
	// birthday 1994-09-28 registered 2021-06-28 18:04
}
