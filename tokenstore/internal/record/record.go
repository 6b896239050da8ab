// Package record is the stored form of an ump.Token, shared by the file and
// Redis stores so that both keep the same, documented JSON.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	ump "github.com/greedc/ump-go"
)

// Record is the JSON form of an ump.Token without its version, which each
// store keeps beside it (the version is what compare-and-swap compares).
type Record struct {
	AccessToken      string    `json:"access_token"`
	RefreshToken     string    `json:"refresh_token"`
	AccessExpiresAt  time.Time `json:"access_expires_at"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
	ObtainedAt       time.Time `json:"obtained_at,omitzero"`
	RefreshedAt      time.Time `json:"refreshed_at,omitzero"`
}

// FromToken returns the stored form of t.
func FromToken(t ump.Token) Record {
	return Record{
		AccessToken: t.AccessToken, RefreshToken: t.RefreshToken,
		AccessExpiresAt: t.AccessExpiresAt, RefreshExpiresAt: t.RefreshExpiresAt,
		ObtainedAt: t.ObtainedAt, RefreshedAt: t.RefreshedAt,
	}
}

// Token returns r as an ump.Token with version v.
func (r Record) Token(v int64) ump.Token {
	return ump.Token{
		AccessToken: r.AccessToken, RefreshToken: r.RefreshToken,
		AccessExpiresAt: r.AccessExpiresAt, RefreshExpiresAt: r.RefreshExpiresAt,
		ObtainedAt: r.ObtainedAt, RefreshedAt: r.RefreshedAt,
		Version: v,
	}
}

// Check reports a record that cannot have been written by a store: one
// without any token is damage, not "nothing stored", and must not make the
// SDK spend the day's obtain.
func (r Record) Check() error {
	if r.AccessToken == "" && r.RefreshToken == "" {
		return errors.New("record holds neither an access token nor a refresh token")
	}
	return nil
}

// Encode returns the JSON of t's record.
func Encode(t ump.Token) ([]byte, error) {
	return json.Marshal(FromToken(t))
}

// Decode parses the JSON of a record stored with version v. The error never
// quotes the input, which holds the tokens.
func Decode(b []byte, v int64) (ump.Token, error) {
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return ump.Token{}, fmt.Errorf("record is not valid JSON: %w", sanitize(err))
	}
	if err := r.Check(); err != nil {
		return ump.Token{}, err
	}
	return r.Token(v), nil
}

// sanitize drops the parts of a JSON error that could quote a token.
func sanitize(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Errorf("syntax error at byte %d", syn.Offset)
	case errors.As(err, &typ):
		return fmt.Errorf("field %q has the wrong type (%s)", typ.Field, typ.Value)
	}
	var terr *time.ParseError
	if errors.As(err, &terr) {
		return errors.New("a time field is not RFC 3339")
	}
	return errors.New("malformed")
}
