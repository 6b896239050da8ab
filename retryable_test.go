package ump

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestRetryable(t *testing.T) {
	retryableCodes := map[int64]bool{500: true} // every other documented code is a refusal
	for code := range documentedCodes {
		want := retryableCodes[code]
		err := fmt.Errorf("wrapped: %w", &APIError{Method: "wk.user.info.query", HTTPStatus: 200, Code: code, Message: "m"})
		if got := Retryable(err); got != want {
			t.Errorf("code %d: Retryable = %v, want %v", code, got, want)
		}
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"validation", &ValidationError{Method: "m", Fields: []FieldError{{"phone", "required"}}}, false},
		{"1001 on member code parsing is system busy", &APIError{Method: "wk.user.code.parsing", Code: 1001}, true},
		{"1001 on member code generate is system busy", &APIError{Method: "wk.user.code.generate", Code: 1001}, true},
		{"1001 elsewhere is invalid parameters", &APIError{Method: "wk.user.info.add", Code: 1001}, false},
		{"token rejected", &APIError{Method: "m", HTTPStatus: 401, tokenInvalid: true}, true},
		{"undocumented code (sign, clock, quota)", &APIError{Method: "m", Code: 40001}, true},
		{"clock skew, whatever the code", &APIError{Method: "m", Code: 1001, clockSkew: true}, true},
		{"clock skew, wrapped", fmt.Errorf("ump: obtain: %w", &APIError{Method: "m", Code: 150003, clockSkew: true}), true},
		{"no code", &APIError{Method: "m", HTTPStatus: 403}, true},
		{"transport", &TransportError{Method: "m", Err: errors.New("reset")}, true},
		{"proxy page", &ResponseError{Method: "m", HTTPStatus: 502, Err: errors.New("not an envelope")}, true},
		{"outcome unknown", &OutcomeUnknownError{Method: "m", Err: errors.New("timeout")}, true},
		{"outcome unknown after a refusal", &OutcomeUnknownError{Method: "m", Err: &APIError{Method: "m", Code: 150003}}, true},
		{"budget", fmt.Errorf("ump: refresh refused: %w", ErrTokenBudgetExhausted), true},
		{"no token", fmt.Errorf("x: %w", ErrNoToken), true},
		{"deadline", fmt.Errorf("ump: m: %w", context.DeadlineExceeded), true},
		{"applied but unreadable", &AppliedUnreadableError{Method: "m", Err: &ResponseError{Method: "m", HTTPStatus: 200, Err: errors.New("bad data")}}, false},
		{"110001 on member code parsing is an expired code", &APIError{Method: "wk.user.code.parsing", Code: 110001}, false},
		{"joined token rejection", errors.Join(&APIError{Method: "m", HTTPStatus: 401, tokenInvalid: true}, ErrNoToken), true},
	}
	for _, tc := range cases {
		if got := Retryable(tc.err); got != tc.want {
			t.Errorf("%s: Retryable(%v) = %v, want %v", tc.name, tc.err, got, tc.want)
		}
	}
}
