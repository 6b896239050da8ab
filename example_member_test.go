package ump_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/umptest"
)

// A member looked up by phone number, against the in-process test gateway
// holding the member of the document's own example. In production the
// client comes from ump.NewClient with your gateway's URL.
func ExampleMemberService_Get() {
	srv := umptest.NewServer()
	defer srv.Close()
	srv.AddMember(umptest.Member{Phone: "15980944959", Nickname: "李大哥", Birthday: "1994-09-28", Score: 120, Growth: 100,
		RegisteredAt: time.Date(2021, 6, 28, 18, 4, 20, 0, time.FixedZone("CST", 8*3600))})
	c := srv.Client()

	m, err := c.Member.Get(context.Background(), &ump.MemberQuery{Phone: "15980944959"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: level %d (%s), %d points\n", m.Nickname, m.LevelNumber, m.LevelName, m.Score)
	fmt.Printf("%d growth value to go to %s\n", m.NextLevelGrowthValue-m.GrowthValue, m.NextLevelName)
	fmt.Println("birthday", m.Birthday.Format("2006-01-02"), "registered", m.RegisterTime.Format("2006-01-02 15:04"))
	// Output:
	// 李大哥: level 1 (一级会员), 120 points
	// 200 growth value to go to 二级会员
	// birthday 1994-09-28 registered 2021-06-28 18:04
}
