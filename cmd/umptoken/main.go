// Command umptoken inspects and bootstraps the access token that a fleet of
// ump-go clients shares through a token store.
//
//	umptoken status    --store file:/var/lib/app/ump-tokens.json --app-id APPID
//	umptoken bootstrap --store redis://localhost:6379/0 --app-id APPID --base-url https://...
//
// status prints the stored token's expiry and version and today's token-call
// counts (Beijing day); it prints the tokens themselves only with --reveal.
// bootstrap obtains the app's first token (section 2.1, once a day), and
// refuses when a usable access token or refresh token is stored, or today's
// obtain is spent, so the budget is never spent by accident.
//
// The app secret is read from the environment variable UMP_APP_SECRET only,
// never from a flag (flags show in process lists and shell history).
// UMP_TOKEN_STORE, UMP_APP_ID and UMP_BASE_URL supply defaults for the flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/tokenstore/redisstore"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // an error, or bootstrap refused
	exitUsage   = 2
	secretEnv   = "UMP_APP_SECRET"
	usageHeader = `usage: umptoken <command> [flags]

commands:
  status     show the stored token's expiry, version and today's counts
  bootstrap  obtain the app's first token, only if none is usable

The app secret is read from UMP_APP_SECRET (bootstrap only).
Run "umptoken <command> -h" for the flags.
`
)

// env is what the command reads from and writes to, so tests run it in
// process.
type env struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	now            func() time.Time
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], env{getenv: os.Getenv, stdout: os.Stdout, stderr: os.Stderr, now: time.Now})
	stop()
	os.Exit(code)
}

// options are the flags every command takes.
type options struct {
	store, appID, baseURL, prefix string
	reveal                        bool
	timeout                       time.Duration
}

func run(ctx context.Context, args []string, e env) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(e.stderr, usageHeader)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd := args[0]
	if cmd != "status" && cmd != "bootstrap" {
		fmt.Fprintf(e.stderr, "umptoken: unknown command %q\n\n%s", cmd, usageHeader)
		return exitUsage
	}
	var o options
	fs := flag.NewFlagSet("umptoken "+cmd, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.StringVar(&o.store, "store", e.getenv("UMP_TOKEN_STORE"), "token store: file:/path/tokens.json or redis://[user:password@]host:port/db (env UMP_TOKEN_STORE)")
	fs.StringVar(&o.appID, "app-id", e.getenv("UMP_APP_ID"), "the app id (env UMP_APP_ID)")
	fs.StringVar(&o.prefix, "redis-prefix", redisstore.DefaultPrefix, "key prefix of a Redis store")
	fs.DurationVar(&o.timeout, "timeout", 30*time.Second, "bound for the whole command")
	if cmd == "status" {
		fs.BoolVar(&o.reveal, "reveal", false, "print the access and refresh tokens too")
	} else {
		base := e.getenv("UMP_BASE_URL")
		if base == "" {
			base = ump.DefaultBaseURL
		}
		fs.StringVar(&o.baseURL, "base-url", base, "the gateway's base URL (env UMP_BASE_URL)")
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "umptoken %s: unexpected argument %q\n", cmd, fs.Arg(0))
		return exitUsage
	}
	if o.store == "" || o.appID == "" {
		fmt.Fprintf(e.stderr, "umptoken %s: --store and --app-id are required\n", cmd)
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	store, closeStore, err := openStore(o.store, o.prefix)
	if err != nil {
		fmt.Fprintf(e.stderr, "umptoken %s: %v\n", cmd, err)
		return exitUsage
	}
	defer closeStore()
	if cmd == "status" {
		err = status(ctx, e, o, store)
	} else {
		err = bootstrap(ctx, e, o, store)
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "umptoken %s: %v\n", cmd, err)
		return exitFailed
	}
	return exitOK
}

// openStore opens the store a --store value names.
func openStore(spec, prefix string) (ump.TokenStore, func(), error) {
	if path, ok := strings.CutPrefix(spec, "file:"); ok {
		if strings.HasPrefix(path, "//") { // file:///abs/path
			u, err := url.Parse(spec)
			if err != nil || (u.Host != "" && u.Host != "localhost") {
				return nil, nil, fmt.Errorf("--store %q: want file:/path", spec)
			}
			path = u.Path
		}
		if path == "" {
			return nil, nil, fmt.Errorf("--store %q: no path", spec)
		}
		s, err := filestore.New(path)
		if err != nil {
			return nil, nil, err
		}
		return s, func() {}, nil
	}
	if strings.HasPrefix(spec, "redis://") || strings.HasPrefix(spec, "rediss://") {
		opt, err := redis.ParseURL(spec)
		if err != nil {
			// ParseURL's errors can quote the URL, password included.
			return nil, nil, errors.New("--store: not a usable redis:// URL")
		}
		rdb := redis.NewClient(opt)
		return redisstore.New(rdb, redisstore.WithPrefix(prefix)), func() { _ = rdb.Close() }, nil
	}
	return nil, nil, fmt.Errorf("--store: want file:/path or redis://host:port/db, got a %q store", schemeOf(spec))
}

func schemeOf(spec string) string {
	if i := strings.Index(spec, ":"); i > 0 {
		return spec[:i]
	}
	return "schemeless"
}

// describe prints what is stored, without the tokens unless reveal.
func describe(w io.Writer, now time.Time, st ump.Token, reveal bool) {
	if st.Version == 0 {
		fmt.Fprintln(w, "token:          none stored (run umptoken bootstrap)")
		return
	}
	fmt.Fprintf(w, "version:        %d\n", st.Version)
	fmt.Fprintf(w, "access token:   %s\n", expiry(now, st.AccessExpiresAt, st.Usable(now)))
	fmt.Fprintf(w, "refresh token:  %s\n", expiry(now, st.RefreshExpiresAt, st.Refreshable(now)))
	if !st.ObtainedAt.IsZero() {
		fmt.Fprintf(w, "obtained at:    %s\n", beijing(st.ObtainedAt))
	}
	if !st.RefreshedAt.IsZero() {
		fmt.Fprintf(w, "refreshed at:   %s\n", beijing(st.RefreshedAt))
	}
	if reveal {
		fmt.Fprintf(w, "access_token:   %s\n", st.AccessToken)
		fmt.Fprintf(w, "refresh_token:  %s\n", st.RefreshToken)
	}
}

func expiry(now, at time.Time, usable bool) string {
	if !usable {
		return "expired " + beijing(at)
	}
	return fmt.Sprintf("usable, expires %s (in %s)", beijing(at), at.Sub(now).Round(time.Second))
}

func beijing(t time.Time) string { return t.In(wire.Beijing).Format("2006-01-02 15:04:05 -07:00") }

func status(ctx context.Context, e env, o options, store ump.TokenStore) error {
	now := e.now()
	st, err := store.Load(ctx, o.appID)
	if err != nil {
		return err
	}
	day := ump.BeijingDay(now)
	obtains, refreshes, err := store.Spent(ctx, o.appID, day)
	if err != nil {
		return err
	}
	w := e.stdout
	fmt.Fprintf(w, "app id:         %s\n", o.appID)
	describe(w, now, st, o.reveal)
	fmt.Fprintf(w, "today:          %s (Beijing): %d of %d obtains, %d of %d refreshes\n",
		day, obtains, ump.ObtainsPerDay, refreshes, ump.RefreshesPerDay)
	return nil
}

// errRefused is a bootstrap that would have spent budget for nothing.
var errRefused = errors.New("refused")

func bootstrap(ctx context.Context, e env, o options, store ump.TokenStore) error {
	secret := e.getenv(secretEnv)
	if strings.TrimSpace(secret) == "" {
		return fmt.Errorf("set the app secret in %s (it is never a flag)", secretEnv)
	}
	now := e.now()
	st, err := store.Load(ctx, o.appID)
	if err != nil {
		return err
	}
	switch {
	case st.Usable(now):
		return fmt.Errorf("%w: a usable access token is stored (version %d, expires %s); nothing to do",
			errRefused, st.Version, beijing(st.AccessExpiresAt))
	case st.Refreshable(now):
		return fmt.Errorf("%w: a usable refresh token is stored (expires %s); the SDK refreshes from it by itself, and obtaining would spend today's only obtain",
			errRefused, beijing(st.RefreshExpiresAt))
	}
	day := ump.BeijingDay(now)
	obtains, _, err := store.Spent(ctx, o.appID, day)
	if err != nil {
		return err
	}
	if obtains >= ump.ObtainsPerDay {
		return fmt.Errorf("%w: today's obtain (%s, Beijing) is already spent; try again after midnight Beijing time", errRefused, day)
	}
	c, err := ump.NewClient(o.appID, secret, ump.WithBaseURL(o.baseURL), ump.WithTokenStore(store), ump.WithClock(e.now))
	if err != nil {
		return err
	}
	tok, err := c.Auth.Obtain(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "obtained a fresh token")
	describe(e.stdout, e.now(), tok, false)
	return nil
}
