package ump

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Amount is a sum of money in yuan, held as a whole number of fen (0.01
// yuan), so int64(a) is the fen count. The platform types order amounts as
// Double (order_amount 1000.4); a float64 cannot hold 1000.4 exactly and
// sums of them drift, so the SDK never lets an amount pass through a float:
// it is built from integers (Yuan) or decimal text (ParseAmount), written
// digit for digit as the JSON number the platform expects (Yuan(1000, 40)
// becomes 1000.4, trailing zeros trimmed), and read exactly from a JSON
// number or numeric string, exponent form included (1.0E7), rejecting
// anything finer than a fen.
type Amount int64

// Yuan returns the amount yuan + fen/100, such as Yuan(1000, 40) for
// 1000.40 yuan. fen is meant to be 0..99; the result is yuan*100 + fen.
func Yuan(yuan, fen int64) Amount { return Amount(yuan*100 + fen) }

// ParseAmount reads decimal yuan such as "1000.4", "1000.40" or "12". It
// rejects a sign, an exponent, a value finer than a fen ("1.005") and values
// beyond the range of Amount, so typed-in prices cannot be silently rounded.
func ParseAmount(s string) (Amount, error) {
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("ump: ParseAmount: %q is negative", s)
	}
	n, err := parseDecimal(s, false)
	if err != nil {
		return 0, fmt.Errorf("ump: ParseAmount: %w", err)
	}
	return Amount(n), nil
}

// String returns the amount with two decimals, such as "1000.40".
func (a Amount) String() string {
	b := a.appendYuan(nil)
	if i := strings.IndexByte(string(b), '.'); i < 0 {
		b = append(b, ".00"...)
	} else if len(b)-i == 2 {
		b = append(b, '0')
	}
	return string(b)
}

// MarshalJSON writes the amount as a JSON number in yuan with trailing zeros
// trimmed: 100040 fen is 1000.4, 100000 fen is 1000.
func (a Amount) MarshalJSON() ([]byte, error) { return a.appendYuan(nil), nil }

// UnmarshalJSON reads a JSON number or a string holding one, exactly; null
// and "" read as zero.
func (a *Amount) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*a = 0
		return nil
	}
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = strings.TrimSpace(s[1 : len(s)-1])
		if s == "" {
			*a = 0
			return nil
		}
	}
	n, err := parseDecimal(s, true)
	if err != nil {
		return fmt.Errorf("ump: amount: %w", err)
	}
	*a = Amount(n)
	return nil
}

// appendYuan appends the amount in yuan, without trailing fractional zeros.
func (a Amount) appendYuan(b []byte) []byte {
	n := int64(a)
	u := uint64(n)
	if n < 0 {
		b = append(b, '-')
		u = -u // two's complement: exact for math.MinInt64 too
	}
	b = strconv.AppendUint(b, u/100, 10)
	if fen := u % 100; fen != 0 {
		b = append(b, '.', byte('0'+fen/10))
		if fen%10 != 0 {
			b = append(b, byte('0'+fen%10))
		}
	}
	return b
}

var (
	errNotDecimal   = errors.New("is not a decimal number")
	errFinerThanFen = errors.New("has more than 2 decimals")
	errAmountRange  = errors.New("is out of range")
)

// parseDecimal returns s, decimal yuan, as a whole number of fen, exactly. The
// syntax is a JSON number's; the exponent is accepted only if allowExp.
func parseDecimal(s string, allowExp bool) (int64, error) {
	bad := func(err error) (int64, error) { return 0, fmt.Errorf("%q %w", truncateText(s), err) }
	rest := s
	neg := false
	if strings.HasPrefix(rest, "-") {
		neg, rest = true, rest[1:]
	}
	intPart := leadingDigits(rest)
	rest = rest[len(intPart):]
	if intPart == "" {
		return bad(errNotDecimal)
	}
	var frac string
	if strings.HasPrefix(rest, ".") {
		frac = leadingDigits(rest[1:])
		if frac == "" {
			return bad(errNotDecimal)
		}
		rest = rest[1+len(frac):]
	}
	exp := 0
	if rest != "" {
		if !allowExp || (rest[0] != 'e' && rest[0] != 'E') {
			return bad(errNotDecimal)
		}
		e := rest[1:]
		d := e
		if len(d) > 0 && (d[0] == '+' || d[0] == '-') {
			d = d[1:]
		}
		if d == "" || leadingDigits(d) != d {
			return bad(errNotDecimal)
		}
		v, err := strconv.Atoi(e)
		if err != nil || v > 400 || v < -400 {
			return bad(errAmountRange)
		}
		exp = v
	}
	// The value is digits * 10^scale fen.
	digits := strings.TrimLeft(intPart+frac, "0")
	scale := exp - len(frac) + 2
	if digits == "" {
		return 0, nil
	}
	if scale < 0 {
		cut := len(digits) + scale
		if cut < 0 || strings.Trim(digits[max(cut, 0):], "0") != "" {
			return bad(errFinerThanFen)
		}
		digits = digits[:cut]
	} else {
		if len(digits)+scale > 19 {
			return bad(errAmountRange)
		}
		digits += strings.Repeat("0", scale)
	}
	if neg {
		digits = "-" + digits
	}
	if digits == "" || digits == "-" {
		return 0, nil
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		return bad(errAmountRange)
	}
	return n, nil
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

func truncateText(s string) string {
	const max = 32
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
