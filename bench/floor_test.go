package bench_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	ump "github.com/greedc/ump-go"
)

// The floor: the same signed member lookup (3.2) written by hand with
// net/http and encoding/json, the way a careful integrator would without the
// SDK. It does what the SDK must do for this call and nothing more: marshal
// the body once, stamp, sign, send, read the answer, decode envelope and
// member in one json.Unmarshal, and hand back the same *ump.Member. The SDK's
// overhead is measured against it.

// floorClient holds what a hand-written client would keep between calls.
type floorClient struct {
	hc     *http.Client
	base   string
	token  string
	secret string
}

type floorQuery struct {
	OpenID string `json:"open_id,omitempty"`
	Phone  string `json:"phone,omitempty"`
}

// floorEnvelope is the gateway's answer with plain Go types: the fields the
// document's example carries (both error spellings, as the SDK reads them).
type floorEnvelope struct {
	Success           bool         `json:"success"`
	ErrorCode         *int64       `json:"error_code"`
	ErrorCodeCamel    *int64       `json:"errorCode"`
	ErrorMessage      string       `json:"error_message"`
	ErrorMessageCamel string       `json:"errorMessage"`
	Data              *floorMember `json:"data"`
	PageNo            *int64       `json:"pageNo"`
	PageSize          *int64       `json:"pageSize"`
	TotalCount        *int64       `json:"totalCount"`
}

// floorMember has the same fields as the SDK's wire struct. project_id is a
// number in the document's example and a string elsewhere: json.Number reads
// both.
type floorMember struct {
	OpenID               string      `json:"open_id"`
	UserNum              string      `json:"user_num"`
	ProjectID            json.Number `json:"project_id"`
	Nickname             string      `json:"nickname"`
	RealName             string      `json:"realname"`
	Phone                string      `json:"phone"`
	Gender               int         `json:"gender"`
	Birthday             string      `json:"birthday"`
	AvatarImgURL         string      `json:"avatar_img_url"`
	Country              string      `json:"country"`
	Province             string      `json:"province"`
	City                 string      `json:"city"`
	IDCard               string      `json:"id_card"`
	Email                string      `json:"email"`
	Remark               string      `json:"remark"`
	QID                  string      `json:"q_id"`
	RegisterTime         int64       `json:"register_time"`
	LevelNumber          *int64      `json:"level_number"`
	LevelNum             *int64      `json:"level_num"`
	LevelName            string      `json:"level_name"`
	NextLevelNum         int64       `json:"next_level_num"`
	NextLevelName        string      `json:"next_level_name"`
	NextLevelGrowthValue int64       `json:"next_level_growth_value"`
	IsMaxLevel           int         `json:"is_max_level"`
	Score                int64       `json:"score"`
	GrowthValue          int64       `json:"growth_value"`
	CouponNum            int64       `json:"coupon_num"`
	Rights               string      `json:"rights"` // JSON inside a string; null here
}

var beijing = time.FixedZone("CST", 8*60*60)

// getMember is the floor's Member.Get.
func (f *floorClient) getMember(ctx context.Context, q floorQuery) (*ump.Member, error) {
	body, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(time.Now().UnixMilli(), 10)
	target := f.base + "/gw/gateway/wk.user.info.query/v1?access_token=" + url.QueryEscape(f.token) +
		"&timestamp=" + ts + "&sign=" + signFloor(f.token, ts, body, f.secret)

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "floor/1")
	resp, err := f.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	var env floorEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("HTTP %d: %w", resp.StatusCode, err)
	}
	if !env.Success {
		return nil, fmt.Errorf("HTTP %d: gateway error %v %q", resp.StatusCode, env.ErrorCodeCamel, env.ErrorMessageCamel)
	}
	if env.Data == nil {
		return nil, errors.New("no data")
	}
	return env.Data.member()
}

// member converts the wire struct into the SDK's result type, so that both
// sides hand back the same value.
func (w *floorMember) member() (*ump.Member, error) {
	m := &ump.Member{
		OpenID: w.OpenID, UserNum: w.UserNum, ProjectID: string(w.ProjectID), Nickname: w.Nickname,
		RealName: w.RealName, Phone: w.Phone, Gender: ump.Gender(w.Gender), AvatarURL: w.AvatarImgURL,
		Country: w.Country, Province: w.Province, City: w.City, IDCard: w.IDCard, Email: w.Email,
		Remark: w.Remark, QID: w.QID, LevelName: w.LevelName, NextLevelNumber: w.NextLevelNum,
		NextLevelName: w.NextLevelName, NextLevelGrowthValue: w.NextLevelGrowthValue,
		IsMaxLevel: w.IsMaxLevel == 1, Score: w.Score, GrowthValue: w.GrowthValue, CouponCount: w.CouponNum,
	}
	if w.Birthday != "" {
		d, err := time.ParseInLocation("2006-01-02", w.Birthday, beijing)
		if err != nil {
			return nil, err
		}
		m.Birthday = d
	}
	if w.RegisterTime != 0 {
		m.RegisterTime = time.UnixMilli(w.RegisterTime).In(beijing)
	}
	switch {
	case w.LevelNumber != nil:
		m.LevelNumber = *w.LevelNumber
	case w.LevelNum != nil:
		m.LevelNumber = *w.LevelNum
	}
	if w.Rights != "" {
		var rs []struct {
			ID     int64  `json:"id"`
			Name   string `json:"name"`
			ImgURL string `json:"imgUrl"`
		}
		if err := json.Unmarshal([]byte(w.Rights), &rs); err != nil {
			return nil, err
		}
		for _, r := range rs {
			m.Rights = append(m.Rights, ump.Right{ID: r.ID, Name: r.Name, ImageURL: r.ImgURL})
		}
	}
	return m, nil
}

// decodeFloor is the floor's decoding alone, for BenchmarkDecodeMember.
func decodeFloor(raw []byte) (*ump.Member, error) {
	var env floorEnvelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, err
	}
	if !env.Success || env.Data == nil {
		return nil, errors.New("not a success")
	}
	return env.Data.member()
}

// signFloor is the floor's signature over the canonical string: the two
// query parameters in name order, the body, the secret.
func signFloor(token, ts string, body []byte, secret string) string {
	canonical := make([]byte, 0, 64+len(token)+len(body)+len(secret))
	canonical = append(canonical, "access_token"...)
	canonical = append(canonical, token...)
	canonical = append(canonical, "timestamp"...)
	canonical = append(canonical, ts...)
	canonical = append(canonical, body...)
	canonical = append(canonical, secret...)
	sum := md5.Sum(canonical)
	return hex.EncodeToString(sum[:])
}
