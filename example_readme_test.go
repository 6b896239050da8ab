package ump_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/greedc/ump-go"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/umptest"
)

// The README's Go snippets, each the body of a function below, verbatim
// (TestREADMESnippetsAreExamples checks it), run by the Examples that follow
// against the in-process test gateway.

func readmeUsage(ctx context.Context, appID, appSecret, baseURL string) error {
	c, err := ump.NewClient(appID, appSecret,
		ump.WithBaseURL(baseURL),       // default: the document's test host
		ump.WithLogger(slog.Default()), // default: silent
	)
	if err != nil {
		return err
	}

	m, err := c.Member.Get(ctx, &ump.MemberQuery{Phone: "13800000000"})
	switch {
	case errors.Is(err, ump.ErrMemberNotBound):
		fmt.Println("not a member yet")
		return nil
	case err != nil:
		return err
	}
	fmt.Println(m.Nickname, m.LevelName, m.Score)
	return nil
}

func readmeAllRecords(ctx context.Context, c *ump.Client, openID string) error {
	for rec, err := range c.Score.AllRecords(ctx, &ump.ScoreRecordsRequest{OpenID: openID}) {
		if err != nil {
			return err
		}
		fmt.Println(rec.Amount, rec.Desc)
	}
	return nil
}

func readmeTokenStore(appID, appSecret, baseURL, tokenFile string) error {
	store, err := filestore.New(tokenFile) // one host: a file locked across processes
	if err != nil {
		return err
	}
	c, err := ump.NewClient(appID, appSecret, ump.WithBaseURL(baseURL), ump.WithTokenStore(store))
	if err != nil {
		return err
	}
	fmt.Println(c.AppID())
	return nil
}

func readmeTesting(ctx context.Context) error {
	srv := umptest.NewServer()
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{Phone: "13800000000", Score: 100})
	c := srv.Client() // a *ump.Client for the server's app, on the server's clock

	// Exercise your code with c, then look at what happened:
	if _, err := c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID}); err != nil {
		return err
	}
	fmt.Println(srv.Balance(openID), len(srv.Requests()), srv.Stats().TokenObtains)

	srv.Clock().Advance(2 * time.Hour) // expire tokens without sleeping
	srv.Fail("wk.user.event.score.change", umptest.Fault{Kind: umptest.DropAfterApply, Rate: 0.2})
	return nil
}

// The README's Usage: a member found, then a phone without a member.
func Example_readmeUsage() {
	ctx := context.Background()
	srv := umptest.NewServer()
	defer srv.Close()
	srv.AddMember(umptest.Member{Phone: "13800000000", Nickname: "小明", Score: 100})
	if err := readmeUsage(ctx, srv.AppID, srv.AppSecret, srv.URL); err != nil {
		log.Fatal(err)
	}

	empty := umptest.NewServer()
	defer empty.Close()
	if err := readmeUsage(ctx, empty.AppID, empty.AppSecret, empty.URL); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 小明 一级会员 100
	// not a member yet
}

// The README's iterator over score records.
func Example_readmeAllRecords() {
	ctx := context.Background()
	srv := umptest.NewServer()
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{Phone: "13800000000"})
	c := srv.Client()
	for i, score := range []int64{100, 20} {
		_, err := c.Score.Change(ctx, &ump.ScoreChangeRequest{OpenID: openID, Score: score, OutBizNo: fmt.Sprint("T", i),
			ChangeReason: "补发积分", ChangeEvent: ump.EventAdd, ChangeID: ump.NewChangeID()})
		if err != nil {
			log.Fatal(err)
		}
	}
	if err := readmeAllRecords(ctx, c, openID); err != nil {
		log.Fatal(err)
	}
	// Unordered output:
	// 100 补发积分
	// 20 补发积分
}

// The README's shared token store.
func Example_readmeTokenStore() {
	srv := umptest.NewServer()
	defer srv.Close()
	dir, err := os.MkdirTemp("", "ump-readme")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := readmeTokenStore(srv.AppID, srv.AppSecret, srv.URL, filepath.Join(dir, "tokens.json")); err != nil {
		log.Fatal(err)
	}
	// Output:
	// umptest-app
}

// The README's test gateway.
func Example_readmeTesting() {
	if err := readmeTesting(context.Background()); err != nil {
		log.Fatal(err)
	}
	// Output:
	// 100 2 1
}

func readmeObservability(ctx context.Context, appID, appSecret, baseURL, openID string) error {
	hooks := ump.Hooks{
		CallDone: func(_ context.Context, call ump.CallDoneInfo) {
			fmt.Printf("%s: %s after %d attempt(s)\n", call.Method, call.Outcome, call.Attempts)
		},
		TokenCall: func(_ context.Context, tc ump.TokenCallInfo) {
			fmt.Printf("token %s: %s, %d left today\n", tc.Kind, tc.Result, tc.BudgetLeft)
		},
	}
	c, err := ump.NewClient(appID, appSecret, ump.WithBaseURL(baseURL), ump.WithHooks(hooks))
	if err != nil {
		return err
	}
	_, err = c.Member.Get(ctx, &ump.MemberQuery{OpenID: openID})
	return err
}

// The README's Observability: hooks that print each call and token call.
func Example_readmeObservability() {
	srv := umptest.NewServer()
	defer srv.Close()
	openID := srv.AddMember(umptest.Member{Phone: "13800000000"})
	if err := readmeObservability(context.Background(), srv.AppID, srv.AppSecret, srv.URL, openID); err != nil {
		log.Fatal(err)
	}
	// Output:
	// dss.auth.token.query: ok after 1 attempt(s)
	// token obtain: ok, 0 left today
	// wk.user.info.query: ok after 1 attempt(s)
}
