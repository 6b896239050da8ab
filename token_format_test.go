package ump

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A Token, and a TokenStatus holding one, print no token with any verb.
func TestTokenPrintsNoTokenWithAnyVerb(t *testing.T) {
	tok := Token{AccessToken: "at-SECRET-ACCESS-0123456789", RefreshToken: "rt-SECRET-REFRESH-0123456789",
		AccessExpiresAt: time.Now(), Version: 3}
	for _, v := range []any{tok, &tok, TokenStatus{Token: tok, Day: "2026-12-01"}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, "SECRET") || strings.Contains(out, fmt.Sprintf("%x", "at-SECRET")) {
				t.Errorf("%s of %T reveals a token: %s", verb, v, out)
			}
		}
	}
}
