package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
)

func (a *cli) scoreCommand() *cobra.Command {
	return group("score", "List and change members' points", a.scoreRecordsCommand(), a.scoreChangeCommand())
}

// recordView is a points statement (3.5) as the command prints it.
type recordView struct {
	ID         int64     `json:"id"`
	Amount     int64     `json:"amount"`
	Desc       string    `json:"desc"`
	CreateTime time.Time `json:"create_time,omitzero"`
	UpdateTime time.Time `json:"update_time,omitzero"`
}

var scoreTypes = map[string]ump.ScoreType{"all": ump.ScoreAll, "income": ump.ScoreIncome, "expense": ump.ScoreExpense}

var recordFlags = map[string]string{"open_id": "--open-id", "score_type": "--type", "pageNo": "--page", "pageSize": "--page-size"}

func (a *cli) scoreRecordsCommand() *cobra.Command {
	var (
		req      ump.ScoreRecordsRequest
		kind     string
		allPages bool
	)
	cmd := &cobra.Command{
		Use:   "records --open-id OPEN_ID [--type all|income|expense] [--page N] [--all]",
		Short: "List a member's points statements, newest first (3.5)",
		Example: `  ump score records --open-id 5f0c...
  ump score records --open-id 5f0c... --type expense --all -o json`,
		Args: cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			t, ok := scoreTypes[kind]
			if !ok {
				return withFlags(&ump.ValidationError{Method: "wk.user.score.record",
					Fields: []ump.FieldError{{Field: "score_type", Reason: "must be all, income or expense"}}}, recordFlags)
			}
			req.ScoreType = t
			s, err := a.client()
			if err != nil {
				return err
			}
			defer s.close()
			var (
				items []recordView
				info  pageInfo
			)
			if allPages {
				for r, err := range s.Score.AllRecords(ctx, &req) {
					if err != nil {
						return withFlags(err, recordFlags)
					}
					items = append(items, viewRecord(r))
				}
				info.total = len(items)
			} else {
				p, err := s.Score.Records(ctx, &req)
				if err != nil {
					return withFlags(err, recordFlags)
				}
				for _, r := range p.Items {
					items = append(items, viewRecord(r))
				}
				info = pageInfo{page: p.PageNo, size: p.PageSize, total: p.TotalCount}
			}
			return printList(a, items, info, "records", []string{"ID", "AMOUNT", "TIME", "DESC"},
				func(r recordView) []string {
					return []string{strconv.FormatInt(r.ID, 10), signed(r.Amount), wallTime(r.CreateTime), oneLine(r.Desc)}
				})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.OpenID, "open-id", "", "the member's open_id")
	f.StringVar(&kind, "type", "all", "all, income or expense")
	f.IntVar(&req.PageNo, "page", 1, "the page to list")
	f.IntVar(&req.PageSize, "page-size", 0, "statements per page, 1 to 100 (default 10)")
	f.BoolVar(&allPages, "all", false, "list every page")
	return cmd
}

func viewRecord(r ump.ScoreRecord) recordView {
	return recordView{ID: r.ID, Amount: r.Amount, Desc: r.Desc, CreateTime: beijing(r.CreateTime), UpdateTime: beijing(r.UpdateTime)}
}

// signed writes points with their sign, as a statement moves them.
func signed(n int64) string {
	if n > 0 {
		return "+" + strconv.FormatInt(n, 10)
	}
	return strconv.FormatInt(n, 10)
}

var changeFlags = map[string]string{
	"open_id": "--open-id", "score": "--score", "out_biz_no": "--out-biz-no", "order_amount": "--order-amount",
	"change_reason": "--reason", "change_event": "--event", "change_id": "--change-id",
}

var changeEvents = map[string]ump.ChangeEvent{
	"add": ump.EventAdd, "subtract": ump.EventSubtract,
	string(ump.EventAdd): ump.EventAdd, string(ump.EventSubtract): ump.EventSubtract,
}

// derivedChangeID is the change_id of a change given without --change-id: a
// digest of what makes two command lines the same change (the app, the
// member, the business number, the event and the points), 26 lower-case hex
// digits like NewChangeID's and the document's example. Each field goes in
// with its length, so that no two different lines share their input.
func derivedChangeID(appID string, r *ump.ScoreChangeRequest) string {
	h := sha256.New()
	for _, f := range [...]string{"ump-cli/score-change/v1", appID, r.OpenID, r.OutBizNo,
		string(r.ChangeEvent), strconv.FormatInt(r.Score, 10)} {
		_, _ = fmt.Fprintf(h, "%d:%s", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil)[:13])
}

func (a *cli) scoreChangeCommand() *cobra.Command {
	var (
		req           ump.ScoreChangeRequest
		event, amount string
		resolve       bool
		fresh         bool
	)
	cmd := &cobra.Command{
		Use:   "change --open-id OPEN_ID --score N --event add|subtract --reason TEXT --out-biz-no NO --order-amount YUAN [--change-id ID | --new] [--resolve]",
		Short: "Add points to or take points from a member (3.3)",
		Long: `change adds or takes points and prints the change_id that applied and the
statement_id.

The change_id identifies the change to the platform, which never applies one
twice: keep it. Without --change-id it is derived from the app, --open-id,
--out-biz-no, --event and --score, and printed on stderr before the call, so
running the same line twice changes points once: the second run says the
change had already been applied. --new sends under a new random change_id
instead, for a second change that is meant to repeat the first.

A change whose answer is lost is sent again by the SDK under the same
change_id until the platform answers: it applies once. If no answer comes
(the gateway stays unreachable, an interrupt), the error names the change_id
of unknown outcome: run the same command with --change-id set to it and
--resolve, which sends it again and says whether it had applied.

A --change-id used before by another change is refused: nothing moves.`,
		Example: `  ump score change --open-id 5f0c... --score 100 --event add --reason "goodwill" \
      --out-biz-no TICKET-881 --order-amount 0`,
		Args: cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, cmd *cobra.Command, _ []string) error {
			var (
				bad []ump.FieldError
				err error
			)
			ev, ok := changeEvents[event]
			if !ok {
				bad = append(bad, ump.FieldError{Field: "change_event", Reason: "must be add or subtract"})
			}
			req.ChangeEvent = ev
			if !cmd.Flags().Changed("order-amount") {
				bad = append(bad, ump.FieldError{Field: "order_amount", Reason: "required: the order's amount in yuan, such as 12.34 (0 if none)"})
			} else if req.OrderAmount, err = ump.ParseAmount(strings.TrimSpace(amount)); err != nil {
				bad = append(bad, ump.FieldError{Field: "order_amount", Reason: "must be an amount in yuan with at most 2 decimals, such as 12.34"})
			}
			if len(bad) > 0 {
				return withFlags(&ump.ValidationError{Method: "wk.user.event.score.change", Fields: bad}, changeFlags)
			}
			s, err := a.client()
			if err != nil {
				return err
			}
			defer s.close()
			derived := false
			switch {
			case req.ChangeID != "":
			case fresh:
				req.ChangeID = ump.NewChangeID()
				fmt.Fprintf(a.stderr, "change_id %s (generated: keep it to reconcile this change)\n", req.ChangeID)
			default:
				req.ChangeID, derived = derivedChangeID(s.AppID(), &req), true
				fmt.Fprintf(a.stderr, "change_id %s (derived from the app, --open-id, --out-biz-no, --event and --score)\n", req.ChangeID)
			}
			change := s.Score.Change
			if resolve {
				change = s.Score.Resolve
			}
			res, err := change(ctx, &req)
			if err != nil && derived && errors.Is(err, ump.ErrAlreadyExists) {
				// The derived change_id names this very line, so the
				// platform holding it means this change was made before.
				res, err = &ump.ScoreChangeResult{ChangeID: req.ChangeID, AlreadyApplied: true}, nil
			}
			if err != nil {
				return withFlags(err, changeFlags)
			}
			if res.AlreadyApplied {
				fmt.Fprintf(a.stderr, "change_id %s had already been applied (150002): nothing moved now\n", res.ChangeID)
			}
			return a.object(struct {
				ChangeID    string `json:"change_id"`
				StatementID string `json:"statement_id"`
			}{res.ChangeID, res.StatementID})
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.OpenID, "open-id", "", "the member's open_id")
	f.Int64Var(&req.Score, "score", 0, "the points to add or take, above zero")
	f.StringVar(&event, "event", "", "add or subtract")
	f.StringVar(&req.ChangeReason, "reason", "", "why, as the member's statement shows it")
	f.StringVar(&req.OutBizNo, "out-biz-no", "", "your own reference for the change, such as a ticket or order number")
	f.StringVar(&amount, "order-amount", "", "the related order's amount in yuan, such as 12.34 (0 if none)")
	f.StringVar(&req.ChangeID, "change-id", "", "the change's unique id (default: derived from the app, --open-id, --out-biz-no, --event and --score; printed on stderr)")
	f.BoolVar(&fresh, "new", false, "send under a new random change_id: the same line again changes points again")
	f.BoolVar(&resolve, "resolve", false, "finish a change whose outcome is unknown: --change-id names it")
	cmd.MarkFlagsMutuallyExclusive("change-id", "new")
	cmd.MarkFlagsMutuallyExclusive("resolve", "new")
	return cmd
}
