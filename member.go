package ump

import (
	"context"
	"errors"
	"iter"
	"log/slog"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/redact"
	"github.com/greedc/ump-go/internal/wire"
)

// MemberService creates and looks up members, member codes and the level
// table (document section 3, except the score calls).
type MemberService service

// The member calls. Creation is not repeated once the request may have
// reached the gateway: a second attempt could register the member twice.
var (
	epCreateMember = endpoint{method: "wk.user.info.add", retry: retryNever}
	epGetMember    = endpoint{method: "wk.user.info.query", retry: retrySafe}
	epGenerateCode = endpoint{method: "wk.user.code.generate", retry: retrySafe}
	epMemberByCode = endpoint{method: "wk.user.code.parsing", retry: retrySafe}
	epListLevels   = endpoint{method: "wk.user.level.list", retry: retrySafe}
)

// callCodes holds the codes a call's own table gives a meaning other than
// the global table's (docs/spec-notes.md#21). 3.6 and 3.7 list 1001 as
// "system busy" (globally "invalid parameters"), so it is repeated like
// 500; 3.7 lists 110001 as "member code expired" (globally "phone empty").
// An *APIError of these calls matches the sentinel given here.
var callCodes = map[string]map[int64]*codeSentinel{
	epGenerateCode.method: {1001: ErrSystemBusy.(*codeSentinel)},
	epMemberByCode.method: {1001: ErrSystemBusy.(*codeSentinel), 110001: ErrMemberCodeExpired.(*codeSentinel)},
}

// levelPageSize is the document's default page_size of the level table (3.8).
const levelPageSize = 10

// errMissingData reports a success answer without the data the call exists
// for; a *ResponseError carries it.
var errMissingData = errors.New("success, but the answer carries no data")

// CreateMemberRequest registers a member (3.1). ProjectID, Nickname and Phone
// are required; every other field is optional and left out when zero.
type CreateMemberRequest struct {
	// ProjectID is the store the member registers at, as the platform
	// assigned it to the store (project_id).
	ProjectID string
	// Nickname is the member's display name (nickname).
	Nickname string
	// Phone is the member's mainland mobile number, 11 digits (phone).
	Phone string

	// OuterUserID is the member's number in the caller's own system
	// (outer_user_id).
	OuterUserID string
	// QID identifies the QR code the member registered through (q_id).
	QID string
	// RealName is the member's legal name (realname).
	RealName string
	// AvatarURL is the address of the member's picture (avatar_img_url).
	AvatarURL string
	// Gender is left out when GenderUnknown, which the platform assumes.
	Gender Gender
	// Birthday is sent as the calendar date it holds in its own location,
	// "yyyy-MM-dd"; its time of day is ignored. It may not lie after today
	// in Beijing.
	Birthday time.Time
	Country  string
	Province string
	City     string
	// IDCard is the 18-character resident identity number (id_card).
	IDCard string
	Email  string
	// CompanyName is the company or mini-program the member came from.
	CompanyName string
	Remark      string
	// EmployeeID and EmployeeName identify the staff member who registered
	// the member (employee_id, employee_name).
	EmployeeID   int64
	EmployeeName string
}

// LogValue implements slog.LogValuer, masking the phone and identity numbers.
func (r CreateMemberRequest) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("project_id", r.ProjectID),
		slog.String("phone", redact.Phone(r.Phone)),
		slog.String("id_card", redact.IDCard(r.IDCard)),
		slog.String("outer_user_id", r.OuterUserID),
	)
}

// createMemberBody is 3.1's body. username is not sent: only the document's
// example has it, no table lists it (docs/spec-notes.md#16).
type createMemberBody struct {
	OuterUserID  string    `json:"outer_user_id,omitempty"`
	QID          string    `json:"q_id,omitempty"`
	ProjectID    string    `json:"project_id"`
	Nickname     string    `json:"nickname"`
	RealName     string    `json:"realname,omitempty"`
	Phone        string    `json:"phone"`
	AvatarImgURL string    `json:"avatar_img_url,omitempty"`
	Gender       Gender    `json:"gender,omitempty"`
	Birthday     wire.Date `json:"birthday,omitzero"`
	Country      string    `json:"country,omitempty"`
	Province     string    `json:"province,omitempty"`
	City         string    `json:"city,omitempty"`
	IDCard       string    `json:"id_card,omitempty"`
	Email        string    `json:"email,omitempty"`
	CompanyName  string    `json:"company_name,omitempty"`
	Remark       string    `json:"remark,omitempty"`
	EmployeeID   int64     `json:"employee_id,omitempty"`
	EmployeeName string    `json:"employee_name,omitempty"`
}

// Create registers a member (3.1) and returns the member's open_id. A phone
// already registered fails with an error matching ErrAlreadyExists (150002).
// Create is never sent again once the request may have reached the
// gateway: without a definite answer the error matches ErrOutcomeUnknown,
// and Get by phone tells whether the member exists.
func (s *MemberService) Create(ctx context.Context, req *CreateMemberRequest) (openID string, err error) {
	c := clientOf(s)
	req, err = checkRequest(c, &epCreateMember, req)
	if err != nil {
		return "", err
	}
	body := createMemberBody{
		OuterUserID: req.OuterUserID, QID: req.QID, ProjectID: req.ProjectID, Nickname: req.Nickname,
		RealName: req.RealName, Phone: req.Phone, AvatarImgURL: req.AvatarURL, Gender: req.Gender,
		Birthday: wire.Date(req.Birthday), Country: req.Country, Province: req.Province, City: req.City,
		IDCard: req.IDCard, Email: req.Email, CompanyName: req.CompanyName, Remark: req.Remark,
		EmployeeID: req.EmployeeID, EmployeeName: req.EmployeeName,
	}
	id, _, err := call[wire.String](ctx, c, &epCreateMember, body, "")
	if err != nil {
		return "", err
	}
	if id == "" {
		// The member exists now; only its open_id is unknown.
		return "", &ResponseError{Method: epCreateMember.method, HTTPStatus: 200,
			Err: errors.New("member created, but the answer carries no open_id: look it up by phone")}
	}
	return string(id), nil
}

// check records missing fields and values the platform would refuse.
func (r *CreateMemberRequest) check(v *checker) {
	v.required("project_id", r.ProjectID)
	v.required("nickname", r.Nickname)
	v.required("phone", r.Phone)
	v.phone("phone", r.Phone)
	v.between("gender", int64(r.Gender), int64(GenderUnknown), int64(GenderFemale))
	v.notFuture("birthday", r.Birthday)
	if r.Email != "" && !isEmail(r.Email) {
		v.add("email", "must be an email address")
	}
	if r.IDCard != "" && !isIDCard(r.IDCard) {
		v.add("id_card", "must be 18 characters: 17 digits and a digit or X")
	}
	v.notNegative("employee_id", r.EmployeeID)
}

// MemberQuery names the member to look up (3.2): exactly one of OpenID and
// Phone. Setting both is rejected rather than silently preferring one, since
// they could name two different members.
type MemberQuery struct {
	OpenID string
	Phone  string
}

// check requires exactly one of OpenID and Phone.
func (r *MemberQuery) check(v *checker) {
	v.openIDOrPhone(r.OpenID, r.Phone)
	if r.OpenID != "" && r.Phone != "" {
		v.add("open_id", "set only one of open_id and phone")
		v.add("phone", "set only one of open_id and phone")
	}
	v.phone("phone", r.Phone)
}

type memberQueryBody struct {
	OpenID string `json:"open_id,omitempty"`
	Phone  string `json:"phone,omitempty"`
}

// Get looks a member up by open_id or by phone number (3.2). A phone number
// without a member fails with the platform's code, such as ErrMemberNotBound.
func (s *MemberService) Get(ctx context.Context, req *MemberQuery) (*Member, error) {
	c := clientOf(s)
	req, err := checkRequest(c, &epGetMember, req)
	if err != nil {
		return nil, err
	}
	return s.getMember(ctx, &epGetMember, (*memberQueryBody)(req))
}

// GenerateCode returns a member code (3.6), the number a member shows at a
// till, for the member with the given open_id or phone number. The code
// stays a string: it is 20 digits with a leading zero. 3.6 gives 1001 as
// "system busy": it matches ErrSystemBusy and is repeated like 500.
func (s *MemberService) GenerateCode(ctx context.Context, openIDOrPhone string) (string, error) {
	c := clientOf(s)
	body := openIDBody{OpenID: openIDOrPhone}
	if err := c.validate(&epGenerateCode, &body); err != nil {
		return "", err
	}
	code, _, err := call[wire.String](ctx, c, &epGenerateCode, &body, "")
	if err != nil {
		return "", err
	}
	if code == "" {
		return "", &ResponseError{Method: epGenerateCode.method, HTTPStatus: 200, Err: errMissingData}
	}
	return string(code), nil
}

// openIDBody is 3.6's body: the member's open_id or phone number.
type openIDBody struct {
	OpenID string `json:"open_id"`
}

func (b *openIDBody) check(v *checker) { v.required("open_id", b.OpenID) }

// memberCodeBody is 3.7's body.
type memberCodeBody struct {
	Code string `json:"code"`
}

func (b *memberCodeBody) check(v *checker) { v.required("code", b.Code) }

// GetByCode looks a member up by a member code from GenerateCode (3.7). An
// expired code fails with ErrMemberCodeExpired: 3.7's own table gives it
// code 110001 (globally "phone empty"), the global table 110006, and both
// match. 3.7 gives 1001 as "system busy": it matches ErrSystemBusy and is
// repeated like 500.
func (s *MemberService) GetByCode(ctx context.Context, code string) (*Member, error) {
	c := clientOf(s)
	body := memberCodeBody{Code: code}
	if err := c.validate(&epMemberByCode, &body); err != nil {
		return nil, err
	}
	return s.getMember(ctx, &epMemberByCode, &body)
}

// getMember is the common path of the two calls that answer with a member.
func (s *MemberService) getMember(ctx context.Context, ep *endpoint, body any) (*Member, error) {
	w, _, err := call[*memberData](ctx, s.client, ep, body, "")
	if err != nil {
		return nil, err
	}
	if w == nil {
		return nil, &ResponseError{Method: ep.method, HTTPStatus: 200, Err: errMissingData}
	}
	return w.member(), nil
}

type levelPageBody struct {
	PageNo   int `json:"page_no"`
	PageSize int `json:"page_size"`
}

func (b *levelPageBody) check(v *checker) { v.page(PageRequest(*b), "page_no", "page_size") }

// ListLevels returns one page of the member level table (3.8). A zero PageNo
// asks for page 1, a zero PageSize for the document's default of 10; a
// PageSize above MaxPageSize is rejected.
func (s *MemberService) ListLevels(ctx context.Context, req *PageRequest) (*LevelPage, error) {
	c := clientOf(s)
	if req == nil {
		req = &PageRequest{}
	}
	if err := c.validate(&epListLevels, (*levelPageBody)(req)); err != nil {
		return nil, err
	}
	pr := req.orDefault(levelPageSize)
	return listPage(ctx, c, &epListLevels, levelPageBody(pr), pr, func(d *levelData) Level {
		return Level{ID: int64(d.ID), Number: int64(d.LevelNumber), Name: string(d.LevelName)}
	})
}

// AllLevels walks the level table page after page, starting at req's page,
// until TotalCount levels were seen or a page comes back short. An error,
// invalid paging included, is yielded once and ends the walk.
//
//	for lv, err := range c.Member.AllLevels(ctx, &ump.PageRequest{}) {
//		if err != nil { return err }
//		...
//	}
func (s *MemberService) AllLevels(ctx context.Context, req *PageRequest) iter.Seq2[Level, error] {
	clientOf(s) // fails here, not when the iteration starts
	var base PageRequest
	if req != nil {
		base = *req
	}
	return allPages(ctx, base, func(ctx context.Context, pr PageRequest) (*LevelPage, error) {
		return s.ListLevels(ctx, &pr)
	})
}

// isEmail is a shape check only (something@domain.tld, no spaces): the
// platform, not the SDK, decides what it accepts.
func isEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || strings.ContainsAny(s, " \t\r\n<>,;") {
		return false
	}
	domain := s[at+1:]
	dot := strings.LastIndexByte(domain, '.')
	return dot > 0 && dot < len(domain)-1
}

// isIDCard checks the shape of an 18-character resident identity number:
// 17 digits and a digit or X. The checksum is not verified.
func isIDCard(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := 0; i < 17; i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	last := s[17]
	return (last >= '0' && last <= '9') || last == 'X' || last == 'x'
}
