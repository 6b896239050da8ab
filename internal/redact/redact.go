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
// Anything shorter than seven characters is masked whole.
func Phone(s string) string {
	if len(s) < 7 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
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
	queryCredential = regexp.MustCompile(`(?i)((?:access_token|refresh_token|sign|app_secret|appsecret)["']?\s*[=:]\s*["']?)[^&\s"'<>]+`)
	idCardPattern   = regexp.MustCompile(`\b\d{17}[\dXx]\b`)
	phonePattern    = regexp.MustCompile(`\b1\d{10}\b`)
)

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
	s = idCardPattern.ReplaceAllStringFunc(s, IDCard)
	return phonePattern.ReplaceAllStringFunc(s, Phone)
}

// Sample returns at most max bytes of body, cut on a character boundary,
// redacted with Text and with line breaks folded into spaces.
func Sample(body []byte, max int, secrets ...string) string {
	cut := len(body) > max
	if cut {
		body = body[:max]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	s := strings.Join(strings.Fields(string(body)), " ")
	s = Text(s, secrets...)
	if cut {
		s += "…"
	}
	return s
}
