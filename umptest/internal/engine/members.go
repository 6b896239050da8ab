package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// Member is a member of the emulated platform: the fields of 3.1, the ids
// the platform assigns, and the balances. umptest.Member has the same
// fields and converts to and from it; a field added here is added there.
type Member struct {
	// OpenID is the member's open_id, 32 lower-case hex digits unless
	// AddMember was given one.
	OpenID string
	// Phone is the 11-digit mainland mobile number the member registered
	// with; AddMember requires it, and no two members share one.
	Phone string
	// Nickname and ProjectID are required by 3.1; AddMember fills an empty
	// Nickname with "会员" and the phone's last four digits, an empty
	// ProjectID with "18756".
	Nickname    string
	RealName    string
	ProjectID   string
	OuterUserID string
	QID         string
	AvatarURL   string
	// Gender is 0 unknown, 1 male, 2 female, as 3.1 sends it.
	Gender       int64
	Birthday     string // yyyy-MM-dd
	Country      string
	Province     string
	City         string
	IDCard       string
	Email        string
	CompanyName  string
	Remark       string
	EmployeeID   int64
	EmployeeName string
	// UserNum is the platform's member number, like "58500000003";
	// registration assigns it (a value given to AddMember is replaced).
	UserNum string
	// RegisteredAt is the registration time; AddMember takes the server's
	// clock when it is zero.
	RegisteredAt time.Time
	// Score is the available points: always the sum of the member's
	// statements. Given to AddMember, it is the opening balance, booked as
	// one statement of kind "adjust".
	Score int64
	// Growth is the growth value, which decides the level; each consume
	// order (4.1) adds its order_score.
	Growth int64
}

// member is a Member with its ledger.
type member struct {
	Member
	ledger []*statement
}

// Level is a row of the level table (3.8): a member whose growth value
// reaches Growth has this level. umptest.Level has the same fields.
type Level struct {
	// ID is the level's id in 3.8's list; Number its level_number (the
	// member object's level_num), which orders the table.
	ID     int64
	Number int64
	Name   string
	// Growth is the growth value that reaches the level.
	Growth int64
	// Rights is the JSON text answered as a member's rights (may be empty).
	Rights string
}

// DefaultLevels returns the seven levels of the document's 3.8 example (ids,
// numbers and names as shown), with growth thresholds that match the 3.2
// example (level 1 at growth 0 needs 300 for level 2).
func DefaultLevels() []Level {
	names := []string{"一级会员", "二级会员", "三级会员", "四级会员", "五级会员", "六级会员", "七级会员"}
	ids := []int64{76, 82, 77, 80, 83, 81, 85}
	growth := []int64{0, 300, 1000, 3000, 6000, 10000, 20000}
	levels := make([]Level, len(names))
	for i := range names {
		levels[i] = Level{ID: ids[i], Number: int64(i + 1), Name: names[i], Growth: growth[i]}
	}
	return levels
}

// SetLevels replaces the level table.
func (p *Platform) SetLevels(levels []Level) error {
	if len(levels) == 0 {
		return errors.New("no levels")
	}
	ls := append([]Level(nil), levels...)
	sort.Slice(ls, func(i, j int) bool { return ls[i].Number < ls[j].Number })
	p.mu.Lock()
	defer p.mu.Unlock()
	p.levels = ls
	return nil
}

// Levels returns the level table.
func (p *Platform) Levels() []Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Level(nil), p.levels...)
}

// level returns the index of the level a growth value reaches.
func (p *Platform) level(growth int64) int {
	i := 0
	for j, l := range p.levels {
		if growth >= l.Growth {
			i = j
		}
	}
	return i
}

// find looks a member up by open_id, or by phone: most calls take either in
// their open_id parameter ("会员唯一标识 或者电话").
func (p *Platform) find(key string) *member {
	if m, ok := p.members[key]; ok {
		return m
	}
	return p.byPhone[key]
}

// register adds a member; m.OpenID may be preset.
func (p *Platform) register(m Member, now time.Time) (*member, error) {
	if !wire.IsMobile(m.Phone) {
		return nil, errors.New("phone is not an 11-digit mobile number")
	}
	if _, dup := p.byPhone[m.Phone]; dup {
		return nil, errors.New("phone already registered")
	}
	if !fitsInteger(m.Score) || !fitsInteger(m.Growth) {
		return nil, errors.New("score or growth outside the Integer (int32) range")
	}
	if m.OpenID == "" {
		for m.OpenID == "" || p.members[m.OpenID] != nil {
			m.OpenID = p.hex(32, false)
		}
	} else if p.find(m.OpenID) != nil {
		return nil, errors.New("open_id already in use")
	}
	p.userNums++
	m.UserNum = fmt.Sprintf("585%08d", p.userNums)
	if m.RegisteredAt.IsZero() {
		m.RegisteredAt = now
	}
	score := m.Score
	m.Score = 0
	mem := &member{Member: m}
	p.members[m.OpenID] = mem
	p.byPhone[m.Phone] = mem
	if score != 0 {
		p.post(mem, &statement{kind: KindAdjust, delta: score, desc: "初始积分", at: now})
	}
	return mem, nil
}

// AddMember registers a member directly, as a test's seed. Empty Nickname
// and ProjectID take defaults; a set OpenID is kept; Score becomes the
// opening balance (one statement of kind adjust). It returns the open_id.
func (p *Platform) AddMember(m Member) (string, error) {
	if m.Nickname == "" {
		m.Nickname = "会员" + m.Phone[max(0, len(m.Phone)-4):]
	}
	if m.ProjectID == "" {
		m.ProjectID = "18756"
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	mem, err := p.register(m, p.cfg.Now())
	if err != nil {
		return "", err
	}
	return mem.OpenID, nil
}

// Member returns the member with this open_id or phone.
func (p *Platform) Member(key string) (Member, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.find(key)
	if m == nil {
		return Member{}, false
	}
	return m.Member, true
}

// SetBalance moves a member's balance to points with one statement of kind
// adjust, so the ledger still sums to the balance.
func (p *Platform) SetBalance(key string, points int64) error {
	if !fitsInteger(points) {
		return errors.New("points outside the Integer (int32) range")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.find(key)
	if m == nil {
		return errors.New("no such member")
	}
	if d := points - m.Score; d != 0 {
		p.post(m, &statement{kind: KindAdjust, delta: d, desc: "积分调整", at: p.cfg.Now()})
	}
	return nil
}

// SetGrowth sets a member's growth value, and so the member's level.
func (p *Platform) SetGrowth(key string, growth int64) error {
	if !fitsInteger(growth) {
		return errors.New("growth outside the Integer (int32) range")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	m := p.find(key)
	if m == nil {
		return errors.New("no such member")
	}
	m.Growth = growth
	return nil
}

// memberAddIn is 3.1's body.
type memberAddIn struct {
	OuterUserID  wire.String `json:"outer_user_id"`
	QID          wire.String `json:"q_id"`
	ProjectID    wire.String `json:"project_id"`
	Nickname     wire.String `json:"nickname"`
	RealName     wire.String `json:"realname"`
	Phone        wire.String `json:"phone"`
	AvatarImgURL wire.String `json:"avatar_img_url"`
	Gender       integer     `json:"gender"`
	Birthday     wire.String `json:"birthday"`
	Country      wire.String `json:"country"`
	Province     wire.String `json:"province"`
	City         wire.String `json:"city"`
	IDCard       wire.String `json:"id_card"`
	Email        wire.String `json:"email"`
	CompanyName  wire.String `json:"company_name"`
	Remark       wire.String `json:"remark"`
	EmployeeID   optInt      `json:"employee_id"`
	EmployeeName wire.String `json:"employee_name"`
}

// memberAdd is 3.1: a phone registers once (again: 190001, a code the
// document does not have).
func (p *Platform) memberAdd(r *request) (any, *paging, *Fail) {
	var in memberAddIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.Phone) {
		return nil, nil, fail(CodePhoneEmpty)
	}
	var miss missing
	miss.str("project_id", in.ProjectID)
	miss.str("nickname", in.Nickname)
	if f := miss.fail(); f != nil {
		return nil, nil, f
	}
	if !wire.IsMobile(string(in.Phone)) {
		return nil, nil, failMsg(CodeInvalidParams, "phone")
	}
	if in.Gender.set && (in.Gender.v < 0 || in.Gender.v > 2) {
		return nil, nil, failMsg(CodeInvalidParams, "gender")
	}
	if in.Birthday != "" {
		if _, err := time.Parse(wire.DateLayout, string(in.Birthday)); err != nil {
			return nil, nil, failMsg(CodeInvalidParams, "birthday")
		}
	}
	if _, dup := p.byPhone[string(in.Phone)]; dup {
		return nil, nil, fail(CodePhoneRegistered)
	}
	m, err := p.register(Member{
		Phone: string(in.Phone), Nickname: string(in.Nickname), RealName: string(in.RealName),
		ProjectID: string(in.ProjectID), OuterUserID: string(in.OuterUserID), QID: string(in.QID),
		AvatarURL: string(in.AvatarImgURL), Gender: in.Gender.v, Birthday: string(in.Birthday),
		Country: string(in.Country), Province: string(in.Province), City: string(in.City),
		IDCard: string(in.IDCard), Email: string(in.Email), CompanyName: string(in.CompanyName),
		Remark: string(in.Remark), EmployeeID: in.EmployeeID.v, EmployeeName: string(in.EmployeeName),
	}, r.now)
	if err != nil {
		return nil, nil, failMsg(CodeInvalidParams, err.Error())
	}
	return m.OpenID, nil, nil
}

// memberQueryIn is 3.2's body.
type memberQueryIn struct {
	OpenID wire.String `json:"open_id"`
	Phone  wire.String `json:"phone"`
}

// memberQuery is 3.2: by open_id, else by phone.
func (p *Platform) memberQuery(r *request) (any, *paging, *Fail) {
	var in memberQueryIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	m, f := p.member(in.OpenID, in.Phone)
	if f != nil {
		return nil, nil, f
	}
	return p.memberView(m, r.now), nil, nil
}

// member resolves a call's open_id and phone parameters: 110002 when both
// are empty, 110003 when nobody matches.
func (p *Platform) member(openID, phone wire.String) (*member, *Fail) {
	if blank(openID) && blank(phone) {
		return nil, fail(CodeOpenIDOrPhone)
	}
	var m *member
	if !blank(openID) {
		m = p.find(string(openID))
	} else {
		m = p.byPhone[string(phone)]
	}
	if m == nil {
		return nil, fail(CodeMemberNotFound)
	}
	return m, nil
}

// memberView is the member object of 3.2 and 3.7, in the field order and
// with the spellings of the document's example (level_num, not the table's
// level_number), plus the table's q_id.
func (p *Platform) memberView(m *member, now time.Time) json.RawMessage {
	li := p.level(m.Growth)
	lv := p.levels[li]
	next, isMax := lv, 1
	if li+1 < len(p.levels) {
		next, isMax = p.levels[li+1], 0
	}
	var projectID any = strOrNil(m.ProjectID)
	if n, err := strconv.ParseInt(m.ProjectID, 10, 64); err == nil {
		projectID = n
	}
	return object(
		field{"birthday", strOrNil(m.Birthday)},
		field{"country", strOrNil(m.Country)},
		field{"gender", m.Gender},
		field{"city", strOrNil(m.City)},
		field{"open_id", m.OpenID},
		field{"level_num", lv.Number},
		field{"id_card", strOrNil(m.IDCard)},
		field{"remark", strOrNil(m.Remark)},
		field{"next_level_num", next.Number},
		field{"register_time", m.RegisteredAt.UnixMilli()},
		field{"avatar_img_url", strOrNil(m.AvatarURL)},
		field{"score", m.Score},
		field{"next_level_growth_value", next.Growth},
		field{"province", strOrNil(m.Province)},
		field{"project_id", projectID},
		field{"next_level_name", next.Name},
		field{"rights", strOrNil(lv.Rights)},
		field{"nickname", m.Nickname},
		field{"email", strOrNil(m.Email)},
		field{"growth_value", m.Growth},
		field{"is_max_level", isMax},
		field{"realname", strOrNil(m.RealName)},
		field{"user_num", m.UserNum},
		field{"level_name", lv.Name},
		field{"phone", m.Phone},
		field{"coupon_num", p.validCoupons(m.OpenID, now)},
		field{"q_id", strOrNil(m.QID)},
	)
}

// memberCode is an issued member code (3.6).
type memberCode struct {
	openID  string
	expires time.Time
}

// codeGenerate is 3.6: a 20-digit code that parses for MemberCodeTTL.
func (p *Platform) codeGenerate(r *request) (any, *paging, *Fail) {
	var in memberQueryIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	m, f := p.member(in.OpenID, "")
	if f != nil {
		return nil, nil, f
	}
	for c, mc := range p.codes {
		if !r.now.Before(mc.expires) {
			delete(p.codes, c)
		}
	}
	var code string
	for code == "" || p.codes[code].openID != "" {
		// Like the example 06244323958828461000: a 0, the time, a random tail.
		code = fmt.Sprintf("0%012d", r.now.UnixMilli()%1e12) + p.digits(7)
	}
	p.codes[code] = memberCode{openID: m.OpenID, expires: r.now.Add(p.cfg.MemberCodeTTL)}
	return code, nil, nil
}

// codeParseIn is 3.7's body.
type codeParseIn struct {
	Code wire.String `json:"code"`
}

// codeParse is 3.7: an unknown or expired code is 110006 (the global table's
// "会员码已失效"; 3.7's own table says 110001, which the global table gives
// to an empty phone).
func (p *Platform) codeParse(r *request) (any, *paging, *Fail) {
	var in codeParseIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	if blank(in.Code) {
		return nil, nil, failMsg(CodeInvalidParams, "code")
	}
	mc, ok := p.codes[string(in.Code)]
	if !ok || !r.now.Before(mc.expires) {
		if p.cfg.PerCallCodes {
			return nil, nil, &Fail{Code: CodePhoneEmpty, Message: "会员条形码失效"} // 3.7's own table
		}
		return nil, nil, fail(CodeMemberCodeExpired)
	}
	m := p.members[mc.openID]
	if m == nil {
		return nil, nil, fail(CodeMemberNotFound)
	}
	return p.memberView(m, r.now), nil, nil
}

// pageIn is the paging of 3.8 and 5.5 (snake_case there, camelCase in 3.5).
type pageIn struct {
	PageNo   integer `json:"page_no"`
	PageSize integer `json:"page_size"`
}

// page applies the defaults to a requested page: a number below 1 (or none)
// takes the default.
func page(no, size integer, defaultSize int64) (int64, int64, *Fail) {
	n, s := int64(1), defaultSize
	if no.set && no.v >= 1 {
		n = no.v
	}
	if size.set && size.v >= 1 {
		s = size.v
	}
	if s > 1000 {
		return 0, 0, failMsg(CodeInvalidParams, "page size above 1000")
	}
	return n, s, nil
}

// levelItem is one row of 3.8's answer.
type levelItem struct {
	LevelName   string `json:"level_name"`
	LevelNumber int64  `json:"level_number"`
	ID          int64  `json:"id"`
}

// levelList is 3.8: page_no defaults to 1, page_size to 10.
func (p *Platform) levelList(r *request) (any, *paging, *Fail) {
	var in pageIn
	if f := r.decode(&in); f != nil {
		return nil, nil, f
	}
	no, size, f := page(in.PageNo, in.PageSize, 10)
	if f != nil {
		return nil, nil, f
	}
	start, end := p.window(no, size, len(p.levels))
	items := make([]levelItem, 0, end-start)
	for _, l := range p.levels[start:end] {
		items = append(items, levelItem{LevelName: l.Name, LevelNumber: l.Number, ID: l.ID})
	}
	return items, &paging{PageNo: no, PageSize: size, TotalCount: int64(len(p.levels))}, nil
}
