// Package redact masks personal data and credentials in text that may reach a
// log line or an error string.
package redact

import (
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Phone masks the middle of a phone number: 13800001234 becomes 138****1234.
// A shorter value keeps at most a quarter of its characters at each end, so
// that most of it is always masked.
func Phone(s string) string {
	head, tail := 3, 4
	if len(s) < 11 {
		head, tail = len(s)/4, len(s)/4
	}
	return s[:head] + strings.Repeat("*", len(s)-head-tail) + s[len(s)-tail:]
}

// IDCard keeps the first and the last character of an identity number.
func IDCard(s string) string {
	if len(s) < 3 {
		return strings.Repeat("*", len(s))
	}
	return s[:1] + strings.Repeat("*", len(s)-2) + s[len(s)-1:]
}

// Credential hides a secret, token or sign whole, keeping only its length.
func Credential(s string) string {
	if s == "" {
		return ""
	}
	return "***(" + strconv.Itoa(len(s)) + ")"
}

var (
	// The value after a credential's name, in a query (name=value) or in
	// JSON, also JSON inside a JSON string (\"name\":\"value\").
	queryCredential = regexp.MustCompile(`(?i)((?:access_token|refresh_token|sign|app_secret|appsecret)(?:\\?["'])?\s*[=:]\s*(?:\\?["'])?)[^&\s"'\\<>,}]+`)
	// The value of a field that holds an identity document's number
	// whatever its form (a passport number is no 18-digit run): 3.1's
	// id_card and 4.1's psea_zjhm.
	identityField = regexp.MustCompile(`(?i)((?:id_card|idcard|psea_zjhm|customer_id_number)(?:\\?["'])?\s*[=:]\s*(?:\\?["'])?)([^&\s"'\\<>,}]+)`)
	// digitRun finds every maximal run of ASCII digits (an identity number
	// may end in X). Runs, not \b-bounded words: a phone number glued to
	// letters ("tel13800001234") or to a country code ("+8613800001234")
	// has no word boundary and would slip past a \b pattern.
	digitRun = regexp.MustCompile(`\d+[Xx]?`)
)

// personal masks a run of digits that is a mainland mobile number (with or
// without the 86 country code) or an 18-character identity number, and
// leaves every other run, such as a 19-digit coupon code, as it is.
func personal(run string) string {
	n := len(run)
	if n == 18 {
		return IDCard(run)
	}
	if last := run[n-1]; last == 'x' || last == 'X' {
		// Not an identity number: an x glued to digits ("13800001234x").
		return personal(run[:n-1]) + run[n-1:]
	}
	switch {
	case n == 11 && run[0] == '1':
		return Phone(run)
	case n == 13 && run[:3] == "861":
		return "86" + Phone(run[2:])
	}
	return run
}

// Text removes credentials and personal data from free text, such as a sample
// of a body that is not a gateway answer (a proxy's error page may echo the
// request URL with its access_token and sign). Every string in secrets is
// replaced wherever it appears.
func Text(s string, secrets ...string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "***")
		}
	}
	s = queryCredential.ReplaceAllString(s, "${1}***")
	s = identityField.ReplaceAllStringFunc(s, func(m string) string {
		sub := identityField.FindStringSubmatch(m)
		return sub[1] + IDCard(sub[2])
	})
	return digitRun.ReplaceAllStringFunc(s, personal)
}

// sampleWindow bounds how much of a body Sample redacts: enough that a
// secret cut at the window's edge stays far beyond any sample length even
// after everything before it shrank to "***".
const sampleWindow = 64 << 10

// Sample returns at most max bytes of body (plus "…" when cut), cut on a
// character boundary, with line breaks folded into spaces and redacted with
// Text. It redacts before it cuts, so that a secret, token, phone or identity
// number cut in half at the end cannot escape the patterns.
func Sample(body []byte, max int, secrets ...string) string {
	if len(body) > sampleWindow {
		body = body[:sampleWindow]
	}
	s := Text(strings.Join(strings.Fields(string(body)), " "), secrets...)
	if len(s) <= max {
		return s
	}
	s = s[:max]
	// Drop a character cut in half (at most UTFMax-1 bytes); a body that is
	// not UTF-8 at all (a GBK error page) keeps its bytes.
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size != 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s + "…"
}
