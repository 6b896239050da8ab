package main

import (
	"context"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	ump "github.com/greedc/ump-go"
	"github.com/greedc/ump-go/internal/wire"
)

// memberView is a member as the command prints it; the names are the
// platform's own field names (coupon_count is its coupon_num).
type memberView struct {
	OpenID               string      `json:"open_id"`
	UserNum              string      `json:"user_num,omitempty"`
	Phone                string      `json:"phone,omitempty"`
	Nickname             string      `json:"nickname,omitempty"`
	RealName             string      `json:"realname,omitempty"`
	ProjectID            string      `json:"project_id,omitempty"`
	Gender               ump.Gender  `json:"gender"`
	Birthday             string      `json:"birthday,omitempty"`
	Email                string      `json:"email,omitempty"`
	IDCard               string      `json:"id_card,omitempty"`
	Country              string      `json:"country,omitempty"`
	Province             string      `json:"province,omitempty"`
	City                 string      `json:"city,omitempty"`
	AvatarURL            string      `json:"avatar_img_url,omitempty"`
	QID                  string      `json:"q_id,omitempty"`
	Remark               string      `json:"remark,omitempty"`
	RegisterTime         time.Time   `json:"register_time,omitzero"`
	LevelNumber          int64       `json:"level_number"`
	LevelName            string      `json:"level_name"`
	NextLevelNumber      int64       `json:"next_level_number,omitempty"`
	NextLevelName        string      `json:"next_level_name,omitempty"`
	NextLevelGrowthValue int64       `json:"next_level_growth_value,omitempty"`
	IsMaxLevel           bool        `json:"is_max_level"`
	Score                int64       `json:"score"`
	GrowthValue          int64       `json:"growth_value"`
	CouponCount          int64       `json:"coupon_count"`
	Rights               []rightView `json:"rights,omitempty"`
}

type rightView struct {
	ID       int64  `json:"id"`
	Name     string `json:"name"`
	ImageURL string `json:"image_url,omitempty"`
}

func (r rightView) String() string { return r.Name + " (" + strconv.FormatInt(r.ID, 10) + ")" }

func viewMember(m *ump.Member) memberView {
	v := memberView{
		OpenID: m.OpenID, UserNum: m.UserNum, Phone: m.Phone, Nickname: m.Nickname, RealName: m.RealName,
		ProjectID: m.ProjectID, Gender: m.Gender, Email: m.Email, IDCard: m.IDCard,
		Country: m.Country, Province: m.Province, City: m.City, AvatarURL: m.AvatarURL, QID: m.QID,
		Remark: m.Remark, RegisterTime: beijing(m.RegisterTime), LevelNumber: m.LevelNumber,
		LevelName: m.LevelName, NextLevelNumber: m.NextLevelNumber, NextLevelName: m.NextLevelName,
		NextLevelGrowthValue: m.NextLevelGrowthValue, IsMaxLevel: m.IsMaxLevel, Score: m.Score,
		GrowthValue: m.GrowthValue, CouponCount: m.CouponCount,
	}
	if !m.Birthday.IsZero() {
		v.Birthday = m.Birthday.In(wire.Beijing).Format(wire.DateLayout)
	}
	for _, r := range m.Rights {
		v.Rights = append(v.Rights, rightView{ID: r.ID, Name: r.Name, ImageURL: r.ImageURL})
	}
	return v
}

var memberFlags = map[string]string{"open_id": "--open-id", "phone": "--phone", "code": "CODE"}

func (a *cli) memberCommand() *cobra.Command {
	return group("member", "Look up members, member codes and levels",
		a.memberGetCommand(), a.memberCodeCommand(), a.memberParseCommand(), a.memberLevelsCommand())
}

func (a *cli) memberGetCommand() *cobra.Command {
	var q ump.MemberQuery
	cmd := &cobra.Command{
		Use:     "get --phone PHONE | --open-id OPEN_ID",
		Short:   "Look up a member by phone or open_id (3.2)",
		Example: "  ump member get --phone 13800000000\n  ump member get --open-id 5f0c... -o table",
		Args:    cobra.NoArgs,
		RunE: a.actWithClient(func(ctx context.Context, s *session, _ *cobra.Command, _ []string) error {
			m, err := s.Member.Get(ctx, &q)
			if err != nil {
				return withFlags(err, memberFlags)
			}
			return a.object(viewMember(m))
		}),
	}
	cmd.Flags().StringVar(&q.Phone, "phone", "", "the member's mobile number")
	cmd.Flags().StringVar(&q.OpenID, "open-id", "", "the member's open_id")
	cmd.MarkFlagsMutuallyExclusive("phone", "open-id")
	cmd.MarkFlagsOneRequired("phone", "open-id")
	return cmd
}

func (a *cli) memberCodeCommand() *cobra.Command {
	var openID, phone string
	cmd := &cobra.Command{
		Use:   "code --open-id OPEN_ID | --phone PHONE",
		Short: "Generate a member code, the number a member's QR code shows (3.6)",
		Args:  cobra.NoArgs,
		RunE: a.actWithClient(func(ctx context.Context, s *session, _ *cobra.Command, _ []string) error {
			who, flag := openID, "--open-id"
			if who == "" {
				who, flag = phone, "--phone"
			}
			code, err := s.Member.GenerateCode(ctx, who)
			if err != nil {
				return withFlags(err, map[string]string{"open_id": flag})
			}
			return a.object(struct {
				Code string `json:"code"`
			}{code})
		}),
	}
	cmd.Flags().StringVar(&openID, "open-id", "", "the member's open_id")
	cmd.Flags().StringVar(&phone, "phone", "", "the member's mobile number")
	cmd.MarkFlagsMutuallyExclusive("phone", "open-id")
	cmd.MarkFlagsOneRequired("phone", "open-id")
	return cmd
}

func (a *cli) memberParseCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "parse CODE",
		Short:   "Look up the member a member code belongs to (3.7)",
		Example: "  ump member parse 81234567890123456789",
		Args:    cobra.ExactArgs(1),
		RunE: a.actWithClient(func(ctx context.Context, s *session, _ *cobra.Command, args []string) error {
			m, err := s.Member.GetByCode(ctx, args[0])
			if err != nil {
				return withFlags(err, memberFlags)
			}
			return a.object(viewMember(m))
		}),
	}
}

type levelView struct {
	Number int64  `json:"level_number"`
	Name   string `json:"level_name"`
	ID     int64  `json:"id"`
}

func (a *cli) memberLevelsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "levels",
		Short: "List the member levels (3.8), every page",
		Args:  cobra.NoArgs,
		RunE: a.actWithClient(func(ctx context.Context, s *session, _ *cobra.Command, _ []string) error {
			var items []levelView
			for l, err := range s.Member.AllLevels(ctx, &ump.PageRequest{PageSize: 100}) {
				if err != nil {
					return err
				}
				items = append(items, levelView{Number: l.Number, Name: l.Name, ID: l.ID})
			}
			return printList(a, items, pageInfo{total: len(items)}, "levels", []string{"LEVEL", "ID", "NAME"},
				func(l levelView) []string {
					return []string{strconv.FormatInt(l.Number, 10), strconv.FormatInt(l.ID, 10), l.Name}
				})
		}),
	}
}
