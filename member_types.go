package ump

import (
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// The member model of section 3: gender, a member as 3.2 and 3.7 answer it
// and the level table of 3.8. The calls are in member.go.

// Gender is a member's gender as the platform codes it.
type Gender int

// The platform's genders (3.1, 3.2).
const (
	GenderUnknown Gender = 0
	GenderMale    Gender = 1
	GenderFemale  Gender = 2
)

// String returns "unknown", "male" or "female".
func (g Gender) String() string {
	switch g {
	case GenderUnknown:
		return "unknown"
	case GenderMale:
		return "male"
	case GenderFemale:
		return "female"
	}
	return "Gender(" + strconv.Itoa(int(g)) + ")"
}

// Member is a member as 3.2 and 3.7 describe it. Fields the answer leaves
// out or sends as null are zero.
type Member struct {
	// OpenID is the member's id on the platform. The document's own example
	// answers with null here, so do not rely on it being set.
	OpenID string
	// UserNum is the platform's member number (user_num).
	UserNum   string
	ProjectID string
	Nickname  string
	RealName  string
	Phone     string
	Gender    Gender
	// Birthday is midnight in Beijing, or zero when unknown.
	Birthday  time.Time
	AvatarURL string
	Country   string
	Province  string
	City      string
	IDCard    string
	Email     string
	Remark    string
	QID       string
	// RegisterTime is when the member registered.
	RegisterTime time.Time

	// LevelNumber and LevelName are the member's level (level_number, which
	// the document's examples spell level_num).
	LevelNumber int64
	LevelName   string
	// NextLevelNumber, NextLevelName and NextLevelGrowthValue describe the
	// next level and the growth value it needs.
	NextLevelNumber      int64
	NextLevelName        string
	NextLevelGrowthValue int64
	// IsMaxLevel reports that there is no next level.
	IsMaxLevel bool
	// Score is the member's available points.
	Score int64
	// GrowthValue is the member's growth value, which decides the level.
	GrowthValue int64
	// CouponCount is how many coupons the member holds (coupon_num).
	CouponCount int64
	// Rights are the benefits of the member's level.
	Rights []Right
	// RightsRaw holds the gateway's text of rights when it is not the JSON
	// list it should be (docs/spec-notes.md#22); Rights is empty then.
	RightsRaw string
}

// LogValue implements slog.LogValuer, masking the phone and identity numbers.
func (m Member) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("open_id", m.OpenID),
		slog.String("user_num", m.UserNum),
		slog.String("phone", redact.Phone(m.Phone)),
		slog.String("id_card", redact.IDCard(m.IDCard)),
		slog.Int64("level", m.LevelNumber),
	)
}

// Right is one benefit of a member level, such as free parking.
type Right struct {
	ID       int64
	Name     string
	ImageURL string
}

// memberData is the data of 3.2 and 3.7 as the wire has it.
type memberData struct {
	OpenID               wire.String                         `json:"open_id"`
	UserNum              wire.String                         `json:"user_num"`
	ProjectID            wire.String                         `json:"project_id"`
	Nickname             wire.String                         `json:"nickname"`
	RealName             wire.String                         `json:"realname"`
	Phone                wire.String                         `json:"phone"`
	Gender               wire.Int64                          `json:"gender"`
	Birthday             wire.Date                           `json:"birthday"`
	AvatarImgURL         wire.String                         `json:"avatar_img_url"`
	Country              wire.String                         `json:"country"`
	Province             wire.String                         `json:"province"`
	City                 wire.String                         `json:"city"`
	IDCard               wire.String                         `json:"id_card"`
	Email                wire.String                         `json:"email"`
	Remark               wire.String                         `json:"remark"`
	QID                  wire.String                         `json:"q_id"`
	RegisterTime         wire.Millis                         `json:"register_time"`
	LevelNumber          *wire.Int64                         `json:"level_number"`
	LevelNum             *wire.Int64                         `json:"level_num"` // docs/spec-notes.md#4
	LevelName            wire.String                         `json:"level_name"`
	NextLevelNum         wire.Int64                          `json:"next_level_num"`
	NextLevelName        wire.String                         `json:"next_level_name"`
	NextLevelGrowthValue wire.Int64                          `json:"next_level_growth_value"`
	IsMaxLevel           wire.Bool                           `json:"is_max_level"`
	Score                wire.Int64                          `json:"score"`
	GrowthValue          wire.Int64                          `json:"growth_value"`
	CouponNum            wire.Int64                          `json:"coupon_num"`
	Rights               wire.LenientJSONString[[]rightData] `json:"rights"`
}

type rightData struct {
	ID     wire.Int64  `json:"id"`
	Name   wire.String `json:"name"`
	ImgURL wire.String `json:"imgUrl"`
}

func (w *memberData) member() *Member {
	m := &Member{
		OpenID: string(w.OpenID), UserNum: string(w.UserNum), ProjectID: string(w.ProjectID),
		Nickname: string(w.Nickname), RealName: string(w.RealName), Phone: string(w.Phone),
		Gender: Gender(w.Gender), Birthday: time.Time(w.Birthday), AvatarURL: string(w.AvatarImgURL),
		Country: string(w.Country), Province: string(w.Province), City: string(w.City),
		IDCard: string(w.IDCard), Email: string(w.Email), Remark: string(w.Remark), QID: string(w.QID),
		RegisterTime: time.Time(w.RegisterTime), LevelName: string(w.LevelName),
		NextLevelNumber: int64(w.NextLevelNum), NextLevelName: string(w.NextLevelName),
		NextLevelGrowthValue: int64(w.NextLevelGrowthValue), IsMaxLevel: bool(w.IsMaxLevel),
		Score: int64(w.Score), GrowthValue: int64(w.GrowthValue), CouponCount: int64(w.CouponNum),
		RightsRaw: w.Rights.Raw,
	}
	switch {
	case w.LevelNumber != nil:
		m.LevelNumber = int64(*w.LevelNumber)
	case w.LevelNum != nil:
		m.LevelNumber = int64(*w.LevelNum)
	}
	if len(w.Rights.V) > 0 {
		m.Rights = make([]Right, len(w.Rights.V))
		for i, r := range w.Rights.V {
			m.Rights[i] = Right{ID: int64(r.ID), Name: string(r.Name), ImageURL: strings.TrimSpace(string(r.ImgURL))}
		}
	}
	return m
}

// Level is one entry of the platform's member level table (3.8).
type Level struct {
	// ID is the level's record id.
	ID int64
	// Number is the level number that Member.LevelNumber refers to.
	Number int64
	Name   string
}

// LevelPage is one page of the level table.
type LevelPage = Page[Level]

type levelData struct {
	ID          wire.Int64  `json:"id"`
	LevelNumber wire.Int64  `json:"level_number"`
	LevelName   wire.String `json:"level_name"`
}
