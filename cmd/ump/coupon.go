package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
)

func (a *cli) couponCommand() *cobra.Command {
	return group("coupon", "List members' coupons", a.couponListCommand())
}

// couponView is a member's coupon (5.5) as the command prints it.
type couponView struct {
	// CouponCode is a string: its 19 digits are more than a float64 (jq,
	// JavaScript) keeps.
	CouponCode      string             `json:"coupon_code"`
	ID              int64              `json:"id"`
	TemplateID      int64              `json:"coupon_info_id"`
	ThirdCouponCode string             `json:"third_coupon_code,omitempty"`
	Name            string             `json:"name"`
	Category        ump.CouponCategory `json:"coupon_category"`
	Status          ump.CouponStatus   `json:"status"`
	DiscountFee     int64              `json:"discount_fee"`
	MinimumFee      int64              `json:"minimum_fee"`
	CouponType      ump.CouponValidity `json:"coupon_type"`
	FixedTerm       int                `json:"fixed_term,omitempty"`
	BeginTime       time.Time          `json:"begin_time,omitzero"`
	EndTime         time.Time          `json:"end_time,omitzero"`
	ReceiveTime     time.Time          `json:"receive_time,omitzero"`
	UseOrderNo      string             `json:"use_order_no,omitempty"`
	Rules           string             `json:"rules,omitempty"`
}

func viewCoupon(c ump.UserCoupon) couponView {
	return couponView{
		CouponCode: strconv.FormatInt(c.CouponCode, 10), ID: c.ID, TemplateID: c.TemplateID,
		ThirdCouponCode: c.ThirdCouponCode, Name: c.Name, Category: c.Category, Status: c.Status,
		DiscountFee: c.DiscountFee, MinimumFee: c.MinimumFee, CouponType: c.Validity, FixedTerm: c.FixedTerm,
		BeginTime: beijing(c.BeginTime), EndTime: beijing(c.EndTime), ReceiveTime: beijing(c.ReceiveTime),
		UseOrderNo: c.UseOrderNo, Rules: c.Rules,
	}
}

// couponStatusNames are the states of a coupon (5.5's answer).
var couponStatusNames = map[ump.CouponStatus]string{
	ump.CouponInvalid: "invalid", ump.CouponValid: "valid", ump.CouponUsed: "used",
	ump.CouponInUse: "in-use", ump.CouponNotStarted: "not-started",
}

// couponFilters are 5.5's status filter, which means other things than the
// states: 3 asks for expired coupons.
var couponFilters = map[string]ump.CouponStatus{"all": 0, "valid": 1, "used": 2, "expired": 3}

func (c couponView) row() []string {
	status, ok := couponStatusNames[c.Status]
	if !ok {
		status = strconv.Itoa(int(c.Status))
	}
	value := ump.Amount(c.DiscountFee).String()
	if c.Category.IsDiscount() {
		value = fmt.Sprintf("pay %d%%", c.DiscountFee)
	}
	minimum := "-"
	if c.MinimumFee > 0 {
		minimum = ump.Amount(c.MinimumFee).String()
	}
	valid := fmt.Sprintf("%d days", c.FixedTerm)
	if c.CouponType == ump.ValidFixedPeriod {
		valid = date(c.BeginTime) + ".." + date(c.EndTime)
	}
	return []string{c.CouponCode, status, value, minimum, valid, wallTime(c.ReceiveTime), oneLine(c.Name)}
}

func date(t time.Time) string {
	if t.IsZero() {
		return "?"
	}
	return t.In(wire.Beijing).Format(wire.DateLayout)
}

func (a *cli) couponListCommand() *cobra.Command {
	var (
		req      ump.UserCouponsRequest
		status   string
		allPages bool
	)
	flags := map[string]string{"open_id": "--open-id", "status": "--status", "page_no": "--page", "page_size": "--page-size"}
	cmd := &cobra.Command{
		Use:   "list --open-id OPEN_ID|PHONE [--status all|valid|used|expired] [--page N] [--all]",
		Short: "List a member's coupons (5.5)",
		Example: `  ump coupon list --open-id 5f0c...
  ump coupon list --open-id 13800000000 --status valid --all -o json`,
		Args: cobra.NoArgs,
		RunE: a.act(func(ctx context.Context, _ *cobra.Command, _ []string) error {
			st, ok := couponFilters[status]
			if !ok {
				return withFlags(&ump.ValidationError{Method: "wk.coupon.user.list",
					Fields: []ump.FieldError{{Field: "status", Reason: "must be all, valid, used or expired"}}}, flags)
			}
			req.Status = st
			s, err := a.client()
			if err != nil {
				return err
			}
			defer s.close()
			var (
				items []couponView
				info  pageInfo
			)
			if allPages {
				for c, err := range s.Coupon.AllUserCoupons(ctx, &req) {
					if err != nil {
						return withFlags(err, flags)
					}
					items = append(items, viewCoupon(c))
				}
				info.total = len(items)
			} else {
				p, err := s.Coupon.ListUserCoupons(ctx, &req)
				if err != nil {
					return withFlags(err, flags)
				}
				for _, c := range p.Items {
					items = append(items, viewCoupon(c))
				}
				info = pageInfo{page: p.PageNo, size: p.PageSize, total: p.TotalCount}
			}
			return printList(a, items, info, "coupons",
				[]string{"CODE", "STATUS", "VALUE", "MIN", "VALID", "RECEIVED", "NAME"}, couponView.row)
		}),
	}
	f := cmd.Flags()
	f.StringVar(&req.OpenID, "open-id", "", "the member's open_id, or phone number")
	f.StringVar(&status, "status", "all", "all, valid, used or expired")
	f.IntVar(&req.PageNo, "page", 1, "the page to list")
	f.IntVar(&req.PageSize, "page-size", 0, fmt.Sprintf("coupons per page, 1 to %d (default %d)", ump.MaxPageSize, ump.DefaultUserCouponPageSize))
	f.BoolVar(&allPages, "all", false, "list every page")
	return cmd
}
