package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
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
	return group("token", "Inspect and bootstrap the access token the app's services share",
		a.tokenShowCommand(), a.tokenBootstrapCommand())
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

// tokenView is the stored token and today's budget, without the tokens
// unless --reveal.
type tokenView struct {
	AppID            string    `json:"app_id"`
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

	now time.Time
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
	v := &tokenView{
		AppID: appID, Stored: st.Version != 0, Version: st.Version,
		AccessUsable: st.Usable(now), AccessExpiresAt: beijing(st.AccessExpiresAt),
		RefreshUsable: st.Refreshable(now), RefreshExpiresAt: beijing(st.RefreshExpiresAt),
		ObtainedAt: beijing(st.ObtainedAt), RefreshedAt: beijing(st.RefreshedAt),
		Day: day, ObtainsSpent: obtains, ObtainsLeft: max(ump.ObtainsPerDay-obtains, 0),
		RefreshesSpent: refreshes, RefreshesLeft: max(ump.RefreshesPerDay-refreshes, 0),
		now: now,
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
	if !v.Stored {
		fmt.Fprintln(w, `token:          none stored (run "ump token bootstrap")`)
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
	if v.AccessToken != "" || v.RefreshToken != "" {
		fmt.Fprintf(w, "access_token:   %s\n", v.AccessToken)
		fmt.Fprintf(w, "refresh_token:  %s\n", v.RefreshToken)
	}
	return nil
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

// errRefused is a bootstrap that would have spent budget for nothing.
var errRefused = errors.New("refused")

func (a *cli) tokenBootstrapCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "bootstrap",
		Short: "Obtain the app's first token into the store, only if none is usable",
		Long: `bootstrap obtains a token (2.1) and stores it. The platform allows one obtain a
day, and a new token retires the one the app's services use, so bootstrap
refuses while the store holds a usable access token or refresh token (the SDK
refreshes from it by itself), or when today's obtain is spent.`,
		Example: "  UMP_APP_SECRET=... ump token bootstrap --store redis://localhost:6379/0 --app-id APPID --base-url https://...",
		Args:    cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			appID, err := a.appIDSetting()
			if err != nil {
				return err
			}
			if _, err := a.secret(); err != nil {
				return err
			}
			store, closeStore, err := a.openStore()
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := a.loadToken(ctx, store, appID, false)
			if err != nil {
				return err
			}
			switch {
			case v.AccessUsable:
				return fmt.Errorf("%w: a usable access token is stored (version %d, expires %s); nothing to do",
					errRefused, v.Version, zoned(v.AccessExpiresAt))
			case v.RefreshUsable:
				return fmt.Errorf("%w: a usable refresh token is stored (expires %s); the SDK refreshes from it by itself, and obtaining would spend today's only obtain",
					errRefused, zoned(v.RefreshExpiresAt))
			case v.ObtainsLeft == 0:
				return fmt.Errorf("%w: today's obtain (%s, Beijing) is already spent; try again after midnight Beijing time", errRefused, v.Day)
			}
			s, err := a.clientOn(appID, store, func() {})
			if err != nil {
				return err
			}
			defer s.close()
			if _, err := s.Auth.Obtain(ctx); err != nil {
				return err
			}
			fmt.Fprintln(a.stderr, "obtained a fresh token; today's obtain is spent")
			if v, err = a.loadToken(ctx, store, appID, false); err != nil {
				return err
			}
			return a.printToken(v)
		}),
	}
}
