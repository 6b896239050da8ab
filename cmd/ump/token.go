package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
	"github.com/greedc/ump-go/tokenstore/filestore"
	"github.com/greedc/ump-go/tokenstore/redisstore"
)

func (a *cli) tokenCommand() *cobra.Command {
	return group("token", "Inspect, bootstrap and repair the access token the app's services share",
		a.tokenShowCommand(), a.tokenBootstrapCommand(), a.tokenForgetCommand(), a.tokenResetBudgetCommand())
}

// openStore opens the token store --store (or UMP_TOKEN_STORE) names.
func (a *cli) openStore() (ump.TokenStore, func(), error) {
	spec := a.setting(a.store, envStore)
	if spec == "" {
		return nil, nil, usagef("no token store: set --store or %s to the store your services share (file:/path or redis://host:port/db)", envStore)
	}
	if path, ok := strings.CutPrefix(spec, "file:"); ok {
		if strings.HasPrefix(path, "//") { // file:///abs/path
			u, err := url.Parse(spec)
			if err != nil || (u.Host != "" && u.Host != "localhost") {
				return nil, nil, usagef("--store %q: want file:/path", spec)
			}
			path = u.Path
		}
		if path == "" {
			return nil, nil, usagef("--store %q: no path", spec)
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
			return nil, nil, usagef("--store: not a usable redis:// URL")
		}
		rdb := redis.NewClient(opt)
		return redisstore.New(rdb, redisstore.WithPrefix(a.redisPrefix)), func() { _ = rdb.Close() }, nil
	}
	scheme := "schemeless"
	if i := strings.Index(spec, ":"); i > 0 {
		scheme = spec[:i]
	}
	return nil, nil, usagef("--store: want file:/path or redis://host:port/db, got a %q store", scheme)
}

// storeSpecText describes the store --store names without opening it (a
// file store creates its directory) and without a Redis password.
func (a *cli) storeSpecText() string {
	spec := a.setting(a.store, envStore)
	if path, ok := strings.CutPrefix(spec, "file:"); ok {
		if u, err := url.Parse(spec); err == nil && strings.HasPrefix(path, "//") {
			path = u.Path
		}
		return "file " + strconv.Quote(path)
	}
	if u, err := url.Parse(spec); err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") {
		return fmt.Sprintf("redis %s%s, key prefix %s", u.Host, u.Path, a.redisPrefix)
	}
	return "the store --store names"
}

// tokenView is the stored token and today's budget, without the tokens
// unless --reveal.
type tokenView struct {
	AppID string `json:"app_id"`
	// Store names the store read, so that a wrong --store or prefix shows.
	Store            string    `json:"store"`
	Stored           bool      `json:"stored"`
	Version          int64     `json:"version,omitempty"`
	AccessUsable     bool      `json:"access_usable"`
	AccessExpiresAt  time.Time `json:"access_expires_at,omitzero"`
	RefreshUsable    bool      `json:"refresh_usable"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at,omitzero"`
	ObtainedAt       time.Time `json:"obtained_at,omitzero"`
	RefreshedAt      time.Time `json:"refreshed_at,omitzero"`
	// Day is the Beijing date the budget counts are for.
	Day            string `json:"day"`
	ObtainsSpent   int    `json:"obtains_spent"`
	ObtainsLeft    int    `json:"obtains_left"`
	RefreshesSpent int    `json:"refreshes_spent"`
	RefreshesLeft  int    `json:"refreshes_left"`
	AccessToken    string `json:"access_token,omitempty"`
	RefreshToken   string `json:"refresh_token,omitempty"`
	// Spent lists today's counted token calls: when, and by which process.
	Spent []spentCall `json:"spent,omitempty"`
	// PausedUntil, when set, is when the fleet may make a token call again
	// after failed ones (PauseReason says why).
	PausedUntil time.Time `json:"paused_until,omitzero"`
	PauseReason string    `json:"pause_reason,omitempty"`

	now time.Time
}

// spentCall is one counted token call.
type spentCall struct {
	Call string    `json:"call"`
	At   time.Time `json:"at,omitzero"`
	By   string    `json:"by,omitempty"`
}

func spentCalls(d ump.TokenDay) []spentCall {
	var out []spentCall
	for _, sp := range d.Spends {
		out = append(out, spentCall{Call: sp.Kind.String(), At: beijing(sp.At), By: sp.By})
	}
	return out
}

// loadToken reads the token and today's counts, spending nothing.
func (a *cli) loadToken(ctx context.Context, store ump.TokenStore, appID string, reveal bool) (*tokenView, error) {
	now := a.now()
	st, err := store.Load(ctx, appID)
	if err != nil {
		return nil, err
	}
	day := ump.BeijingDay(now)
	spent, err := store.Spent(ctx, appID, day)
	if err != nil {
		return nil, err
	}
	obtains, refreshes := spent.Count(ump.TokenObtain), spent.Count(ump.TokenRefresh)
	pause, err := store.Pause(ctx, appID)
	if err != nil {
		return nil, err
	}
	v := &tokenView{
		AppID: appID, Store: store.String(), Stored: st.Version != 0, Version: st.Version,
		AccessUsable: st.Usable(now), AccessExpiresAt: beijing(st.AccessExpiresAt),
		RefreshUsable: st.Refreshable(now), RefreshExpiresAt: beijing(st.RefreshExpiresAt),
		ObtainedAt: beijing(st.ObtainedAt), RefreshedAt: beijing(st.RefreshedAt),
		Day: day, ObtainsSpent: obtains, ObtainsLeft: max(ump.ObtainsPerDay-obtains, 0),
		RefreshesSpent: refreshes, RefreshesLeft: max(ump.RefreshesPerDay-refreshes, 0),
		Spent: spentCalls(spent),
		now:   now,
	}
	if pause.Active(now) {
		v.PausedUntil, v.PauseReason = beijing(pause.Until), pause.Reason
	}
	if reveal {
		v.AccessToken, v.RefreshToken = st.AccessToken, st.RefreshToken
	}
	return v, nil
}

// print writes the view: JSON, or lines for people.
func (a *cli) printToken(v *tokenView) error {
	if a.format(formatJSON) == formatJSON {
		return writeJSON(a.stdout, v)
	}
	w := a.stdout
	fmt.Fprintf(w, "app id:         %s\n", v.AppID)
	fmt.Fprintf(w, "store:          %s\n", v.Store)
	if !v.Stored {
		fmt.Fprintln(w, `token:          none stored here; if the app's services use another store or key prefix, pass that one (--store, --redis-prefix): a bootstrap here would retire their token`)
	} else {
		fmt.Fprintf(w, "version:        %d\n", v.Version)
		fmt.Fprintf(w, "access token:   %s\n", expiry(v.now, v.AccessExpiresAt, v.AccessUsable))
		fmt.Fprintf(w, "refresh token:  %s\n", expiry(v.now, v.RefreshExpiresAt, v.RefreshUsable))
		if !v.ObtainedAt.IsZero() {
			fmt.Fprintf(w, "obtained at:    %s\n", zoned(v.ObtainedAt))
		}
		if !v.RefreshedAt.IsZero() {
			fmt.Fprintf(w, "refreshed at:   %s\n", zoned(v.RefreshedAt))
		}
	}
	fmt.Fprintf(w, "today:          %s (Beijing): %d of %d obtains and %d of %d refreshes left\n",
		v.Day, v.ObtainsLeft, ump.ObtainsPerDay, v.RefreshesLeft, ump.RefreshesPerDay)
	for _, c := range v.Spent {
		fmt.Fprintf(w, "  spent:        %s\n", describeCall(c))
	}
	if !v.PausedUntil.IsZero() {
		fmt.Fprintf(w, "token calls:    paused until %s after failed ones (last: %s); \"ump token reset-budget --yes\" lifts the pause\n",
			zoned(v.PausedUntil), v.PauseReason)
	}
	if v.AccessToken != "" || v.RefreshToken != "" {
		fmt.Fprintf(w, "access_token:   %s\n", v.AccessToken)
		fmt.Fprintf(w, "refresh_token:  %s\n", v.RefreshToken)
	}
	return nil
}

// describeCall writes a counted call for people: "obtain at 09:01:02 +08:00 by host/42".
func describeCall(c spentCall) string {
	if c.At.IsZero() {
		return c.Call + " (no details: counted by an older version)"
	}
	s := c.Call + " at " + c.At.Format("15:04:05 -07:00")
	if c.By != "" {
		s += " by " + c.By
	}
	return s
}

func expiry(now, at time.Time, usable bool) string {
	if !usable {
		return "expired " + zoned(at)
	}
	return fmt.Sprintf("usable, expires %s (in %s)", zoned(at), roughly(at.Sub(now)))
}

// roughly writes d for people: seconds for hours, days for longer.
func roughly(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.Round(time.Second).String()
}

func zoned(t time.Time) string { return t.In(wire.Beijing).Format("2006-01-02 15:04:05 -07:00") }

func (a *cli) tokenShowCommand() *cobra.Command {
	var reveal bool
	cmd := &cobra.Command{
		Use:   "show [--reveal]",
		Short: "Show the stored token's expiry and today's token-call budget",
		Long: `show reads the token store and prints the stored token's version and expiry
and what is left of today's token budget (Beijing day: 1 obtain, 20
refreshes). It calls nothing and needs no secret. The tokens themselves are
printed only with --reveal.`,
		Example: "  ump token show --store file:/var/lib/app/ump-tokens.json --app-id APPID -o table",
		Args:    cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			appID, err := a.appIDSetting()
			if err != nil {
				return err
			}
			store, closeStore, err := a.openStore()
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := a.loadToken(ctx, store, appID, reveal)
			if err != nil {
				return err
			}
			return a.printToken(v)
		}),
	}
	cmd.Flags().BoolVar(&reveal, "reveal", false, "print the access and refresh tokens too")
	return cmd
}
