package ump

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/greedc/ump-go/internal/wire"
)

// docCreateRequest is the request example of 3.1 as a CreateMemberRequest.
func docCreateRequest() *CreateMemberRequest {
	return &CreateMemberRequest{
		OuterUserID: "out001", QID: "qId=123", ProjectID: "18756", Nickname: "张三",
		Phone: "15900947949", AvatarURL: "http://sdsd.sds.com", Gender: GenderMale,
		Birthday: time.Date(1994, 9, 28, 0, 0, 0, 0, wire.Beijing),
		Country:  "中国", Province: "广东", City: "深圳", IDCard: "350322198209116378",
		CompanyName: "格力集团", Remark: "备注",
	}
}

func TestMemberCreateSendsTheDocumentedRequest(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.add", fixture(t, "member-create.json"))

	id, err := c.Member.Create(context.Background(), docCreateRequest())
	require.NoError(t, err)
	require.Equal(t, "25c56912e05847c0b09f03ca7e52b796", id)

	calls := g.calls()
	require.Len(t, calls, 1)
	require.Equal(t, "wk.user.info.add", calls[0].Method)
	// The document's example minus username (docs/spec-notes.md#16): JSONEq also
	// compares JSON types, so gender is a number and project_id a string.
	require.JSONEq(t, fixture(t, "member-create-request.json"), string(calls[0].Body))
}

func TestMemberCreateFieldTypes(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.add", fixture(t, "member-create.json"))
	tokyo := time.FixedZone("JST", 9*60*60)
	r := docCreateRequest()
	r.Gender = GenderFemale
	r.Birthday = time.Date(1994, 9, 28, 0, 0, 0, 0, tokyo) // the 27th in Beijing: the date as written counts
	r.RealName, r.Email = "张三丰", "zs@example.com"
	r.EmployeeID, r.EmployeeName = 123, "李四"
	r.IDCard = "11010519491231002X"

	_, err := c.Member.Create(context.Background(), r)
	require.NoError(t, err)
	b := g.lastBody()
	require.Equal(t, json.Number("2"), b["gender"])
	require.Equal(t, json.Number("123"), b["employee_id"])
	require.Equal(t, "1994-09-28", b["birthday"])
	require.Equal(t, "18756", b["project_id"])
	require.Equal(t, "张三丰", b["realname"])
	require.Equal(t, "zs@example.com", b["email"])
	require.Equal(t, "李四", b["employee_name"])
	require.Equal(t, "11010519491231002X", b["id_card"])
	require.NotContains(t, b, "username")
}

func TestMemberCreateLeavesOutUnsetFields(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.add", fixture(t, "member-create.json"))
	_, err := c.Member.Create(context.Background(), &CreateMemberRequest{ProjectID: "18756", Nickname: "张三", Phone: "15900947949"})
	require.NoError(t, err)
	require.JSONEq(t, `{"project_id":"18756","nickname":"张三","phone":"15900947949"}`, string(g.calls()[0].Body))
}

func TestMemberCreateAcceptsBirthdayToday(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.add", fixture(t, "member-create.json"))
	r := docCreateRequest()
	r.Birthday = time.Now().In(wire.Beijing)
	_, err := c.Member.Create(context.Background(), r)
	require.NoError(t, err)
	require.Equal(t, time.Now().In(wire.Beijing).Format("2006-01-02"), g.lastBody()["birthday"])
}

func TestMemberCreateValidation(t *testing.T) {
	tomorrow := time.Now().In(wire.Beijing).AddDate(0, 0, 1)
	cases := []struct {
		name   string
		edit   func(r *CreateMemberRequest)
		fields []string
	}{
		{"missing required", func(r *CreateMemberRequest) { r.ProjectID, r.Nickname, r.Phone = "", " ", "" },
			[]string{"project_id", "nickname", "phone"}},
		{"landline", func(r *CreateMemberRequest) { r.Phone = "02087654321" }, []string{"phone"}},
		{"short phone", func(r *CreateMemberRequest) { r.Phone = "1590094794" }, []string{"phone"}},
		{"gender", func(r *CreateMemberRequest) { r.Gender = 3 }, []string{"gender"}},
		{"negative gender", func(r *CreateMemberRequest) { r.Gender = -1 }, []string{"gender"}},
		{"birthday tomorrow", func(r *CreateMemberRequest) { r.Birthday = tomorrow }, []string{"birthday"}},
		{"email", func(r *CreateMemberRequest) { r.Email = "test@test" }, []string{"email"}},
		{"email without local part", func(r *CreateMemberRequest) { r.Email = "@test.com" }, []string{"email"}},
		{"id card too short", func(r *CreateMemberRequest) { r.IDCard = "35032219820911637" }, []string{"id_card"}},
		{"id card letter", func(r *CreateMemberRequest) { r.IDCard = "3503221982091163A8" }, []string{"id_card"}},
		{"employee id", func(r *CreateMemberRequest) { r.EmployeeID = -1 }, []string{"employee_id"}},
		{"everything at once", func(r *CreateMemberRequest) {
			r.ProjectID, r.Nickname, r.Phone, r.Gender = "", "", "1590094794", 7
			r.Birthday, r.Email, r.IDCard, r.EmployeeID = tomorrow, "x", "350322198209116378X", -2
		}, []string{"project_id", "nickname", "phone", "gender", "birthday", "email", "id_card", "employee_id"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, g := setup(t)
			r := docCreateRequest()
			tc.edit(r)
			_, err := c.Member.Create(context.Background(), r)
			ve := requireValidation(t, err, "wk.user.info.add", tc.fields...)
			require.Empty(t, g.calls(), "nothing may be sent")
			for _, secret := range []string{r.Phone, r.IDCard} {
				if len(secret) > 4 {
					require.NotContains(t, ve.Error(), secret)
				}
			}
		})
	}
	t.Run("nil request", func(t *testing.T) {
		c, g := setup(t)
		_, err := c.Member.Create(context.Background(), nil)
		requireValidation(t, err, "wk.user.info.add", "project_id", "nickname", "phone")
		require.Empty(t, g.calls())
	})
}

func TestMemberCreateWithoutOpenID(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.add", `{"success":true,"error_code":200,"data":null}`)
	_, err := c.Member.Create(context.Background(), docCreateRequest())
	var re *ResponseError
	require.ErrorAs(t, err, &re)
	require.Len(t, g.calls(), 1)
}

// docMember is the member of the 3.2 and 3.7 response examples.
func docMember() *Member {
	return &Member{
		UserNum: "58500000003", ProjectID: "18756", Nickname: "李大哥", Phone: "15980944959",
		Gender: GenderMale, Birthday: time.Date(1994, 9, 28, 0, 0, 0, 0, wire.Beijing),
		AvatarURL: "http://sdsd.sds.com", Country: "中国", Province: "广东", City: "深圳",
		IDCard: "350322198209116378", Remark: "备注",
		RegisterTime: time.UnixMilli(1624874660000).In(wire.Beijing),
		LevelNumber:  1, LevelName: "一级会员",
		NextLevelNumber: 2, NextLevelName: "二级会员", NextLevelGrowthValue: 300,
	}
}

func TestMemberGet(t *testing.T) {
	cases := []struct {
		name string
		q    MemberQuery
		body string
	}{
		{"by open_id", MemberQuery{OpenID: "25c56912e05847c0b09f03ca7e52b796"}, `{"open_id":"25c56912e05847c0b09f03ca7e52b796"}`},
		{"by phone", MemberQuery{Phone: "13800000000"}, `{"phone":"13800000000"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, g := setup(t)
			g.reply("wk.user.info.query", fixture(t, "member-get.json"))
			m, err := c.Member.Get(context.Background(), &tc.q)
			require.NoError(t, err)
			require.Equal(t, docMember(), m)
			calls := g.calls()
			require.Len(t, calls, 1)
			require.Equal(t, "wk.user.info.query", calls[0].Method)
			require.JSONEq(t, tc.body, string(calls[0].Body))
		})
	}
}

func TestMemberDecodesLeniently(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.query", `{"success":true,"error_code":200,"data":{
		"open_id":"25c56912e05847c0b09f03ca7e52b796","level_number":"2","level_num":1,
		"gender":"2","score":"245","growth_value":300,"coupon_num":"98","project_id":"18756",
		"register_time":"1543222562000","is_max_level":"1","birthday":"2019-02-27",
		"rights":"[{\"id\":1,\"name\":\"免费停车\",\"imgUrl\":\" https://img.url \"},{\"id\":\"2\",\"name\":\"生日礼\",\"imgUrl\":null}]"}}`)
	m, err := c.Member.Get(context.Background(), &MemberQuery{OpenID: "25c56912e05847c0b09f03ca7e52b796"})
	require.NoError(t, err)
	require.Equal(t, "25c56912e05847c0b09f03ca7e52b796", m.OpenID)
	require.Equal(t, int64(2), m.LevelNumber, "level_number wins over level_num")
	require.Equal(t, GenderFemale, m.Gender)
	require.Equal(t, int64(245), m.Score)
	require.Equal(t, int64(300), m.GrowthValue)
	require.Equal(t, int64(98), m.CouponCount)
	require.Equal(t, "18756", m.ProjectID)
	require.True(t, m.RegisterTime.Equal(time.UnixMilli(1543222562000)))
	require.True(t, m.IsMaxLevel)
	require.Equal(t, time.Date(2019, 2, 27, 0, 0, 0, 0, wire.Beijing), m.Birthday)
	require.Equal(t, []Right{{ID: 1, Name: "免费停车", ImageURL: "https://img.url"}, {ID: 2, Name: "生日礼"}}, m.Rights)
}

func TestMemberGetValidation(t *testing.T) {
	cases := []struct {
		name   string
		q      MemberQuery
		fields []string
	}{
		{"neither", MemberQuery{}, []string{"open_id", "phone"}},
		{"both", MemberQuery{OpenID: "25c56912e05847c0b09f03ca7e52b796", Phone: "13800000000"}, []string{"open_id", "phone"}},
		{"bad phone", MemberQuery{Phone: "+8613800000000"}, []string{"phone"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, g := setup(t)
			_, err := c.Member.Get(context.Background(), &tc.q)
			ve := requireValidation(t, err, "wk.user.info.query", tc.fields...)
			require.Empty(t, g.calls())
			require.NotContains(t, ve.Error(), "13800000000")
		})
	}
}

func TestMemberGetErrors(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.info.query", `{"success":false,"error_code":110003,"error_message":"会员未绑定","data":null}`)
	_, err := c.Member.Get(context.Background(), &MemberQuery{Phone: "13800000000"})
	require.ErrorIs(t, err, ErrMemberNotBound)
	require.NotContains(t, err.Error(), "13800000000")

	g.reply("wk.user.info.query", `{"success":true,"errorCode":null,"data":null}`)
	m, err := c.Member.Get(context.Background(), &MemberQuery{Phone: "13800000000"})
	var re *ResponseError
	require.ErrorAs(t, err, &re, "a success without a member is not a member")
	require.Nil(t, m)
}

func TestMemberGenerateCode(t *testing.T) {
	for _, who := range []string{"25c56912e05847c0b09f03ca7e52b796", "13833338888"} {
		c, g := setup(t)
		g.reply("wk.user.code.generate", fixture(t, "member-code.json"))
		code, err := c.Member.GenerateCode(context.Background(), who)
		require.NoError(t, err)
		require.Equal(t, "06244323958828461000", code, "the leading zero survives")
		calls := g.calls()
		require.Len(t, calls, 1)
		require.Equal(t, "wk.user.code.generate", calls[0].Method)
		require.JSONEq(t, `{"open_id":"`+who+`"}`, string(calls[0].Body))
	}
}

func TestMemberGenerateCodeErrors(t *testing.T) {
	c, g := setup(t)
	_, err := c.Member.GenerateCode(context.Background(), " ")
	requireValidation(t, err, "wk.user.code.generate", "open_id")
	require.Empty(t, g.calls())

	g.reply("wk.user.code.generate", `{"success":true,"data":null,"errorCode":null,"errorMessage":null}`)
	_, err = c.Member.GenerateCode(context.Background(), "13833338888")
	var re *ResponseError
	require.ErrorAs(t, err, &re)
}

func TestMemberGetByCode(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.code.parsing", fixture(t, "member-by-code.json"))
	m, err := c.Member.GetByCode(context.Background(), "06244323958828461000")
	require.NoError(t, err)
	require.Equal(t, docMember(), m)
	calls := g.calls()
	require.Len(t, calls, 1)
	require.Equal(t, "wk.user.code.parsing", calls[0].Method)
	require.JSONEq(t, `{"code":"06244323958828461000"}`, string(calls[0].Body))
}

func TestMemberGetByCodeErrors(t *testing.T) {
	c, g := setup(t)
	_, err := c.Member.GetByCode(context.Background(), "")
	requireValidation(t, err, "wk.user.code.parsing", "code")
	require.Empty(t, g.calls())

	// 3.7 documents 110001 for an expired code; the message is kept verbatim.
	g.reply("wk.user.code.parsing", `{"success":false,"errorCode":110001,"errorMessage":"会员条形码失效","data":null}`)
	_, err = c.Member.GetByCode(context.Background(), "06244323958828461000")
	var apiErr *APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, int64(110001), apiErr.Code)
	require.Equal(t, "会员条形码失效", apiErr.Message)
}

func TestMemberListLevels(t *testing.T) {
	c, g := setup(t)
	g.reply("wk.user.level.list", fixture(t, "member-levels.json"))
	p, err := c.Member.ListLevels(context.Background(), &PageRequest{})
	require.NoError(t, err)
	require.Equal(t, &LevelPage{
		Items: []Level{
			{ID: 76, Number: 1, Name: "一级会员"}, {ID: 82, Number: 2, Name: "二级会员"},
			{ID: 77, Number: 3, Name: "三级会员"}, {ID: 80, Number: 4, Name: "四级会员"},
			{ID: 83, Number: 5, Name: "五级会员"}, {ID: 81, Number: 6, Name: "六级会员"},
			{ID: 85, Number: 7, Name: "七级会员"},
		},
		PageNo: 1, PageSize: 7, TotalCount: 7,
	}, p)
	calls := g.calls()
	require.Len(t, calls, 1)
	require.Equal(t, "wk.user.level.list", calls[0].Method)
	b := g.lastBody()
	require.Equal(t, map[string]any{"page_no": json.Number("1"), "page_size": json.Number("10")}, b, "the document's defaults, as numbers")

	_, err = c.Member.ListLevels(context.Background(), &PageRequest{PageNo: 2, PageSize: 100})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"page_no": json.Number("2"), "page_size": json.Number("100")}, g.lastBody())
}

func TestMemberListLevelsValidation(t *testing.T) {
	cases := []struct {
		req    PageRequest
		fields []string
	}{
		{PageRequest{PageNo: -1}, []string{"page_no"}},
		{PageRequest{PageSize: 101}, []string{"page_size"}},
		{PageRequest{PageSize: -1}, []string{"page_size"}},
		{PageRequest{PageNo: -1, PageSize: 1000}, []string{"page_no", "page_size"}},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.req), func(t *testing.T) {
			c, g := setup(t)
			_, err := c.Member.ListLevels(context.Background(), &tc.req)
			requireValidation(t, err, "wk.user.level.list", tc.fields...)

			var n int
			for _, err := range c.Member.AllLevels(context.Background(), &tc.req) {
				n++
				requireValidation(t, err, "wk.user.level.list", tc.fields...)
			}
			require.Equal(t, 1, n, "the error is yielded once")
			require.Empty(t, g.calls())
		})
	}
}

// levelTable serves 3.8 from levels, paging by the request's page_no and
// page_size; fail, if set, answers instead for that page number.
func levelTable(t *testing.T, levels []Level, fail map[int]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct {
			PageNo   int `json:"page_no"`
			PageSize int `json:"page_size"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.PageNo < 1 || req.PageSize < 1 {
			t.Errorf("bad paging in %s", body)
			return
		}
		if answer, ok := fail[req.PageNo]; ok {
			_, _ = io.WriteString(w, answer)
			return
		}
		lo := min((req.PageNo-1)*req.PageSize, len(levels))
		hi := min(lo+req.PageSize, len(levels))
		items := make([]map[string]any, 0, hi-lo)
		for _, l := range levels[lo:hi] {
			items = append(items, map[string]any{"id": l.ID, "level_number": l.Number, "level_name": l.Name})
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"success": true, "error_code": nil, "data": items,
			"pageNo": req.PageNo, "pageSize": req.PageSize, "totalCount": len(levels),
		})
	}
}

func sevenLevels() []Level {
	levels := make([]Level, 7)
	for i := range levels {
		levels[i] = Level{ID: int64(76 + i), Number: int64(i + 1), Name: fmt.Sprintf("%d级会员", i+1)}
	}
	return levels
}

func pageNumbers(t *testing.T, g *gateway) []int {
	t.Helper()
	var nos []int
	for _, r := range g.calls() {
		b := decodeObject(t, r.Body)
		n, err := b["page_no"].(json.Number).Int64()
		require.NoError(t, err)
		nos = append(nos, int(n))
	}
	return nos
}

func TestMemberAllLevels(t *testing.T) {
	levels := sevenLevels()
	cases := []struct {
		name  string
		req   PageRequest
		want  []Level
		pages []int
	}{
		{"pages of 3", PageRequest{PageSize: 3}, levels, []int{1, 2, 3}},
		{"from page 2", PageRequest{PageNo: 2, PageSize: 3}, levels[3:], []int{2, 3}},
		{"default size", PageRequest{}, levels, []int{1}},
		{"exact pages", PageRequest{PageSize: 7}, levels, []int{1}},
		{"pages of 1", PageRequest{PageSize: 1}, levels, []int{1, 2, 3, 4, 5, 6, 7}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, g := setup(t)
			g.handle("wk.user.level.list", levelTable(t, levels, nil))
			var got []Level
			for l, err := range c.Member.AllLevels(context.Background(), &tc.req) {
				require.NoError(t, err)
				got = append(got, l)
			}
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.pages, pageNumbers(t, g))
		})
	}
}

func TestMemberAllLevelsEmpty(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.level.list", levelTable(t, nil, nil))
	for l, err := range c.Member.AllLevels(context.Background(), &PageRequest{PageSize: 3}) {
		t.Fatalf("yielded %v, %v from an empty table", l, err)
	}
	require.Len(t, g.calls(), 1)
}

func TestMemberAllLevelsStopsAtAnError(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.level.list", levelTable(t, sevenLevels(), map[int]string{
		2: `{"success":false,"error_code":110004,"error_message":"应用不存在"}`,
	}))
	var got []Level
	var errs []error
	for l, err := range c.Member.AllLevels(context.Background(), &PageRequest{PageSize: 3}) {
		if err != nil {
			errs = append(errs, err)
			continue // the iterator must stop by itself
		}
		got = append(got, l)
	}
	require.Equal(t, sevenLevels()[:3], got)
	require.Len(t, errs, 1)
	require.ErrorIs(t, errs[0], ErrAppNotFound)
	require.Equal(t, []int{1, 2}, pageNumbers(t, g))
}

func TestMemberAllLevelsStopsWhenTheCallerDoes(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.level.list", levelTable(t, sevenLevels(), nil))
	n := 0
	for _, err := range c.Member.AllLevels(context.Background(), &PageRequest{PageSize: 3}) {
		require.NoError(t, err)
		if n++; n == 4 {
			break
		}
	}
	require.Equal(t, []int{1, 2}, pageNumbers(t, g))
}

// TestMemberCallsRetryOnlyReads pins each call's retry class: after an
// answer that leaves the outcome open, reads are repeated and creation is
// not.
func TestMemberCallsRetryOnlyReads(t *testing.T) {
	cases := []struct {
		method string
		call   func(c *Client) error
		repeat bool
	}{
		{"wk.user.info.add", func(c *Client) error { _, err := c.Member.Create(context.Background(), docCreateRequest()); return err }, false},
		{"wk.user.info.query", func(c *Client) error {
			_, err := c.Member.Get(context.Background(), &MemberQuery{Phone: "13800000000"})
			return err
		}, true},
		{"wk.user.code.generate", func(c *Client) error {
			_, err := c.Member.GenerateCode(context.Background(), "13800000000")
			return err
		}, true},
		{"wk.user.code.parsing", func(c *Client) error { _, err := c.Member.GetByCode(context.Background(), "0624"); return err }, true},
		{"wk.user.level.list", func(c *Client) error { _, err := c.Member.ListLevels(context.Background(), &PageRequest{}); return err }, true},
	}
	for _, tc := range cases {
		t.Run(tc.method, func(t *testing.T) {
			c, g := setup(t)
			g.handle(tc.method, func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusBadGateway)
				_, _ = io.WriteString(w, "<html>502 Bad Gateway</html>")
			})
			err := tc.call(c)
			require.Error(t, err)
			if tc.repeat {
				require.Len(t, g.calls(), 3)
				require.False(t, errors.Is(err, ErrOutcomeUnknown))
			} else {
				require.Len(t, g.calls(), 1)
				require.ErrorIs(t, err, ErrOutcomeUnknown)
			}
		})
	}
}

func TestMemberLogValueMasksPersonalData(t *testing.T) {
	m := docMember()
	r := docCreateRequest()
	for _, s := range []string{m.LogValue().String(), r.LogValue().String()} {
		require.NotContains(t, s, "15980944959")
		require.NotContains(t, s, "15900947949")
		require.NotContains(t, s, "350322198209116378")
	}
	require.True(t, strings.Contains(m.LogValue().String(), "159****4959"))
}

func TestGenderString(t *testing.T) {
	require.Equal(t, "unknown", GenderUnknown.String())
	require.Equal(t, "male", GenderMale.String())
	require.Equal(t, "female", GenderFemale.String())
	require.Equal(t, "Gender(9)", Gender(9).String())
}
