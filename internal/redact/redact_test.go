package redact

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

const (
	phone  = "13800001234"
	idCard = "44040219900101123X"
	token  = "atB1ABA5C50C41C5FEE3E911EC8020C32C"
	secret = "S3cr3t-App-Secret-For-Tests-0123456789"
)

func TestPhone(t *testing.T) {
	require.Equal(t, "138****1234", Phone(phone))
	require.Equal(t, "1*****7", Phone("1234567"))
	require.Equal(t, "12******90", Phone("1234567890"))
	require.Equal(t, "***", Phone("123"))
	require.Equal(t, "1****6", Phone("123456"))
	require.Equal(t, "", Phone(""))
}

func TestIDCard(t *testing.T) {
	require.Equal(t, "4****************X", IDCard(idCard))
	require.Equal(t, "**", IDCard("12"))
	require.Equal(t, "1*3", IDCard("123"))
}

func TestCredential(t *testing.T) {
	require.Equal(t, "***(34)", Credential(token))
	require.Equal(t, "", Credential(""))
	require.NotContains(t, Credential(token), token[:4])
}

func TestText(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"query credentials", "GET /gw/gateway/x/v1?access_token=" + token + "&timestamp=1&sign=0123abcd",
			"GET /gw/gateway/x/v1?access_token=***&timestamp=1&sign=***"},
		{"json credentials", `{"access_token": "` + token + `","refresh_token":"rt5ED"}`,
			`{"access_token": "***","refresh_token":"***"}`},
		{"app secret anywhere", "key " + secret + " leaked", "key *** leaked"},
		{"phone in Chinese text", "手机号" + phone + "已注册", "手机号138****1234已注册"},
		{"phone glued to letters", "tel" + phone + "x", "tel138****1234x"},
		{"phone with country code", "+86" + phone, "+86138****1234"},
		{"phone in JSON", `{"phone":"` + phone + `"}`, `{"phone":"138****1234"}`},
		{"identity number", "id:" + idCard + ",", "id:4****************X,"},
		{"identity number all digits", "身份证440402199001011234号", "身份证4****************4号"},
		{"19-digit coupon code is not personal data", "code 3733288246799497770", "code 3733288246799497770"},
		{"short numbers stay", "error 150003 at 1700000000000", "error 150003 at 1700000000000"},
		{"12-digit number is not a phone", "order 138000012345", "order 138000012345"},
		{"11 digits not starting with 1", "n 23800001234", "n 23800001234"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, Text(tc.in, secret))
		})
	}
	require.Equal(t, "abc", Text("abc", "", "ab"), "secrets shorter than 4 are not replaced (they would shred the text)")
}

func TestSample(t *testing.T) {
	html := "<html>\n<body>\n<h1>502 Bad Gateway</h1>\n<p>upstream /gw/gateway/wk.user.info.query/v1?access_token=" + token +
		"&sign=546e4aa36d2d624da5ff816ca030951c phone " + phone + "</p></body></html>"
	s := Sample([]byte(html), 1000, secret)
	require.Equal(t, "<html> <body> <h1>502 Bad Gateway</h1> <p>upstream /gw/gateway/wk.user.info.query/v1?access_token=***&sign=*** phone 138****1234</p></body></html>", s)

	// Cut, on a character boundary, with a marker.
	s = Sample([]byte("系统繁忙，请稍后再试"), 10)
	require.True(t, utf8.ValidString(s), "%q", s)
	require.Equal(t, "系统繁…", s)

	// A secret, token, phone or identity number cut by the sample length is
	// redacted before the cut, so not even its first part shows.
	for _, v := range []string{secret, phone, idCard} {
		body := strings.Repeat("x", 20) + v
		for max := 21; max < len(body); max++ {
			got := Sample([]byte(body), max, secret)
			keep := v[:min(len(v), 7)]
			if v == phone {
				keep = v[:4] // "138*" is the mask's own prefix: look for 4 clear digits
			}
			require.NotContains(t, got, keep+v[len(keep):min(len(v), len(keep)+1)], "max %d: %q", max, got)
		}
	}

	// A body that is not UTF-8 (a GBK page) is not thrown away.
	gbk := []byte{0xcf, 0xb5, 0xcd, 0xb3, 0xc3, 0xa6, 0x20, 0x35, 0x30, 0x32}
	require.NotEmpty(t, Sample(gbk, 8))
	require.Equal(t, "", Sample(nil, 10))
}

func TestTextMasksIdentityFieldsAndEscapedCredentials(t *testing.T) {
	for in, want := range map[string]string{
		`{"psea_zjhm":"M05839911","vip_name":"张三"}`:    `{"psea_zjhm":"M*******1","vip_name":"张三"}`,
		`{\"psea_zjhm\":\"M05839911\",\"x\":1}`:        `{\"psea_zjhm\":\"M*******1\",\"x\":1}`,
		`id_card=G1234567`:                             `id_card=G******7`,
		`{\"access_token\":\"at0123456789\",\"b\":2}`:  `{\"access_token\":\"***\",\"b\":2}`,
		`?access_token=at0123&sign=ABCDEF&timestamp=1`: `?access_token=***&sign=***&timestamp=1`,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%s) = %s, want %s", in, got, want)
		}
	}
}
