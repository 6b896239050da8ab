package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
)

// errRefused is a bootstrap that would have spent budget for nothing.
var errRefused = errors.New("refused")

// requireYes refuses a command that changes the shared token state unless
// --yes confirms it; it runs before anything is opened, so a refusal
// changes nothing (exit 2).
func (a *cli) requireYes(yes bool, what string) error {
	if yes {
		return nil
	}
	return usagef("%s\nstore: %s\nNothing was changed; run again with --yes to do it.", what, a.storeSpecText())
}

func (a *cli) tokenBootstrapCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "bootstrap --yes",
		Short: "Obtain the app's first token into the store, only if none is usable",
		Long: `bootstrap obtains a token (2.1) and stores it. The platform allows one obtain a
day, and a new token retires the one every other process of the app holds
unless it shares this store, so bootstrap needs --yes, and refuses while the
store holds a usable access token or refresh token (the SDK refreshes from it
by itself), or when today's obtain is spent. A refused obtain (a wrong
secret, say) is not counted: fix the cause and run it again.`,
		Example: "  UMP_APP_SECRET=... ump token bootstrap --yes --store redis://localhost:6379/0 --app-id APPID --base-url https://...",
		Args:    cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			appID, err := a.appIDSetting()
			if err != nil {
				return err
			}
			if _, err := a.secret(); err != nil {
				return err
			}
			if err := a.requireYes(yes, "bootstrap obtains a fresh token, spending today's only obtain, and retires the token every process holds that does not share this store."); err != nil {
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
				return fmt.Errorf("%w: today's obtain (%s, Beijing) is already spent (%s); try again after midnight Beijing time, or, if the gateway issued nothing, see \"ump token reset-budget\"",
					errRefused, v.Day, describeCall(lastObtain(v)))
			}
			s, err := a.clientOn(appID, store, func() {})
			if err != nil {
				return err
			}
			defer s.close()
			if _, err := s.Auth.Obtain(ctx); err != nil {
				if errors.Is(err, ump.ErrTokenCallsPaused) {
					return fmt.Errorf("%w\nwait until then, or, once the cause is fixed, lift the pause with \"ump token reset-budget --yes\"", err)
				}
				return err
			}
			fmt.Fprintln(a.stderr, "obtained a fresh token; today's obtain is spent")
			if v, err = a.loadToken(ctx, store, appID, false); err != nil {
				return err
			}
			return a.printToken(v)
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: spend today's obtain and retire other holders' tokens")
	return cmd
}

// lastObtain is the view's latest counted obtain.
func lastObtain(v *tokenView) spentCall {
	for i := len(v.Spent) - 1; i >= 0; i-- {
		if v.Spent[i].Call == ump.TokenObtain.String() {
			return v.Spent[i]
		}
	}
	return spentCall{Call: ump.TokenObtain.String()}
}

func (a *cli) tokenForgetCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "forget --yes",
		Short: "Remove the stored token record (the next token costs an obtain)",
		Long: `forget removes the app's token record from the store: for a record that holds
a token the gateway no longer honours (retired by an obtain elsewhere,
revoked), which the SDK would otherwise keep trying to refresh. The app's
services keep the token they hold in memory until it is rejected; the next
token costs an obtain ("ump token bootstrap --yes", or the SDK by itself).
Today's budget and the pause stay as they are.`,
		Example: "  ump token forget --yes --store file:/var/lib/app/ump-tokens.json --app-id APPID",
		Args:    cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			appID, err := a.appIDSetting()
			if err != nil {
				return err
			}
			if err := a.requireYes(yes, "forget removes the stored token record; the next token costs an obtain (one a day)."); err != nil {
				return err
			}
			store, closeStore, err := a.openStore()
			if err != nil {
				return err
			}
			defer closeStore()
			gone, err := store.Forget(ctx, appID)
			if err != nil {
				return err
			}
			w := a.stdout
			if gone.Version == 0 {
				fmt.Fprintf(w, "no token record for %s in %s; nothing to forget\n", appID, store)
				return nil
			}
			now := a.now()
			fmt.Fprintf(w, "forgot the token record of %s in %s:\n", appID, store)
			fmt.Fprintf(w, "  version:        %d\n", gone.Version)
			fmt.Fprintf(w, "  access token:   %s\n", expiry(now, beijing(gone.AccessExpiresAt), gone.Usable(now)))
			fmt.Fprintf(w, "  refresh token:  %s\n", expiry(now, beijing(gone.RefreshExpiresAt), gone.Refreshable(now)))
			fmt.Fprintln(w, `the next token costs an obtain: run "ump token bootstrap --yes"`)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: remove the stored token record")
	return cmd
}

func (a *cli) tokenResetBudgetCommand() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:   "reset-budget --yes",
		Short: "Clear today's token-call counts and the pause after failed token calls",
		Long: `reset-budget clears today's (Beijing day's) counts of token calls in the store
and lifts the fleet's pause after failed token calls, and prints what it
cleared. Use it when the counts hold calls the gateway did not honour (the
SDK gives back a refused call's count by itself; an older version did not):
the platform still allows one obtain and twenty refreshes a day, and a call
beyond them is refused.`,
		Example: "  ump token reset-budget --yes --store redis://localhost:6379/0 --app-id APPID",
		Args:    cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			appID, err := a.appIDSetting()
			if err != nil {
				return err
			}
			if err := a.requireYes(yes, "reset-budget clears today's token-call counts and the pause after failed token calls."); err != nil {
				return err
			}
			store, closeStore, err := a.openStore()
			if err != nil {
				return err
			}
			defer closeStore()
			day := ump.BeijingDay(a.now())
			cleared, err := store.ResetSpent(ctx, appID, day)
			if err != nil {
				return err
			}
			pause, err := store.Pause(ctx, appID)
			if err != nil {
				return err
			}
			if pause != (ump.TokenPause{}) {
				if err := store.SetPause(ctx, appID, ump.TokenPause{}); err != nil {
					return err
				}
			}
			w := a.stdout
			fmt.Fprintf(w, "cleared the token budget of %s for %s (Beijing) in %s:\n", appID, day, store)
			fmt.Fprintf(w, "  obtains:    %d\n", cleared.Count(ump.TokenObtain))
			fmt.Fprintf(w, "  refreshes:  %d\n", cleared.Count(ump.TokenRefresh))
			for _, c := range spentCalls(cleared) {
				fmt.Fprintf(w, "  cleared:    %s\n", describeCall(c))
			}
			if pause.Active(a.now()) {
				fmt.Fprintf(w, "  pause:      lifted (was until %s after %d failed token calls; last: %s)\n",
					zoned(pause.Until), pause.Failures, pause.Reason)
			} else {
				fmt.Fprintln(w, "  pause:      none")
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&yes, "yes", false, "confirm: clear today's counts and the pause")
	return cmd
}
