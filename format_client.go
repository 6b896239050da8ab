package ump

import (
	"fmt"
	"log/slog"
)

// LogValue implements slog.LogValuer: the app id and the gateway, never the
// app secret.
func (c *Client) LogValue() slog.Value {
	if c == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.String("app_id", c.appID), slog.String("base_url", c.baseURL),
		slog.String("app_secret", "***"))
}

// Format implements fmt.Formatter: LogValue's fields whatever the verb, so
// that no verb prints the app secret.
func (c *Client) Format(f fmt.State, verb rune) { formatMasked(f, verb, "&ump.Client", c.LogValue()) }

// String returns LogValue's fields.
func (c *Client) String() string { return maskedString("&ump.Client", c.LogValue(), false) }

// GoString returns LogValue's fields in Go syntax.
func (c *Client) GoString() string { return maskedString("&ump.Client", c.LogValue(), true) }

// LogValue is what printing the settings shows: no token store, logger or
// clock internals, which may hold tokens.
func (s settings) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", s.baseURL), slog.Duration("timeout", s.timeout),
		slog.Bool("http_client", s.httpClient != nil), slog.String("user_agent", s.userAgent),
		slog.Int("max_attempts", s.retry.MaxAttempts), slog.Int64("max_body", s.maxBody),
		slog.Int("max_conns_per_host", s.maxConnsPerHost))
}

func (s settings) Format(f fmt.State, verb rune) { formatMasked(f, verb, "ump.settings", s.LogValue()) }
func (s settings) String() string                { return maskedString("ump.settings", s.LogValue(), false) }
func (s settings) GoString() string              { return maskedString("ump.settings", s.LogValue(), true) }

// LogValue implements slog.LogValuer: the refresh window and the budget,
// never the tokens the service holds (print Auth.Status for those,
// redacted).
func (s *AuthService) LogValue() slog.Value {
	if s == nil {
		return slog.StringValue("<nil>")
	}
	return slog.GroupValue(slog.Duration("refresh_window", s.window), slog.Any("budget", s.budget))
}

// Format implements fmt.Formatter: LogValue's fields whatever the verb.
func (s *AuthService) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, "&ump.AuthService", s.LogValue())
}

// String returns LogValue's fields.
func (s *AuthService) String() string { return maskedString("&ump.AuthService", s.LogValue(), false) }

// GoString returns LogValue's fields in Go syntax.
func (s *AuthService) GoString() string { return maskedString("&ump.AuthService", s.LogValue(), true) }

// LogValue implements slog.LogValuer: String, never the tokens.
func (m *MemoryTokenStore) LogValue() slog.Value { return slog.StringValue(m.String()) }

// Format implements fmt.Formatter: String whatever the verb, so that no
// verb prints the tokens the store holds.
func (m *MemoryTokenStore) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(m.String())) }

// GoString is String, so that %#v does not print the tokens either.
func (m *MemoryTokenStore) GoString() string { return m.String() }
