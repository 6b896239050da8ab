package ump

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/wire"
)

// validator is a request that checks its own fields: every request type
// (or the wire body of a call that takes plain arguments) has a check
// method, and validate runs it before anything is sent.
type validator interface {
	check(v *checker)
}

// validate checks r for ep: a *ValidationError naming every bad field, or
// nil.
func (c *Client) validate(ep *endpoint, r validator) error {
	v := checker{method: ep.method, now: c.now}
	r.check(&v)
	return v.err()
}

// checkRequest checks a service method's request for ep and returns it: a
// nil req becomes an empty one, which fails on its required fields rather
// than with a nil dereference. The error is validate's.
func checkRequest[R any, P interface {
	*R
	validator
}](c *Client, ep *endpoint, req P) (P, error) {
	if req == nil {
		req = new(R)
	}
	return req, c.validate(ep, req)
}

// checker collects field problems for a ValidationError, so that all bad
// fields are reported at once. Each rule has one method and one phrasing;
// no rule repeats the value it refuses (it may be a phone or an identity
// number).
type checker struct {
	method string
	now    func() time.Time // the client's clock, for date rules
	fields []FieldError
}

// add records a problem with field.
func (v *checker) add(field, reason string) { v.fields = append(v.fields, FieldError{field, reason}) }

// required records field if value is blank.
func (v *checker) required(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(field, "required")
	}
}

// int32 records field if n does not fit the document's Integer, 32 bits
// (docs/spec-notes.md#24).
func (v *checker) int32(field string, n int64) {
	if n > math.MaxInt32 || n < math.MinInt32 {
		v.add(field, "must fit a 32-bit integer (at most 2147483647)")
	}
}

// key records field if value, the key a write is deduplicated on (a
// change_id), is blank or holds anything but printable ASCII: two ids that
// are not valid UTF-8 would travel as the same U+FFFD and collide
// (docs/spec-notes.md#20).
func (v *checker) key(field, value string) {
	if strings.TrimSpace(value) == "" {
		v.add(field, "required")
		return
	}
	for i := 0; i < len(value); i++ {
		if value[i] <= ' ' || value[i] > '~' {
			v.add(field, "must be printable ASCII, without spaces")
			return
		}
	}
}

// phone records field if value is set and is not a mainland mobile number
// (11 digits starting with 1).
func (v *checker) phone(field, value string) {
	if value != "" && !wire.IsMobile(value) {
		v.add(field, "must be an 11-digit mainland mobile number")
	}
}

// openIDOrPhone records both fields when neither is set.
func (v *checker) openIDOrPhone(openID, phone string) {
	if strings.TrimSpace(openID) == "" && strings.TrimSpace(phone) == "" {
		v.add("open_id", "required when phone is empty")
		v.add("phone", "required when open_id is empty")
	}
}

// positive records field if n is not above zero.
func (v *checker) positive(field string, n int64) {
	if n <= 0 {
		v.add(field, "must be above zero")
	}
}

// notNegative records field if n is below zero.
func (v *checker) notNegative(field string, n int64) {
	if n < 0 {
		v.add(field, "must not be negative")
	}
}

// between records field if n is outside lo..hi.
func (v *checker) between(field string, n, lo, hi int64) {
	if n < lo || n > hi {
		v.add(field, "must be from "+strconv.FormatInt(lo, 10)+" to "+strconv.FormatInt(hi, 10))
	}
}

// nonEmpty records field if a list has no entries.
func (v *checker) nonEmpty(field string, n int) {
	if n == 0 {
		v.add(field, "at least one required")
	}
}

// noComma records field if value holds a comma (a list the gateway joins
// with commas).
func (v *checker) noComma(field, value string) {
	if strings.Contains(value, ",") {
		v.add(field, "must not contain a comma")
	}
}

// notFuture records field if t's calendar date lies after today in Beijing.
func (v *checker) notFuture(field string, t time.Time) {
	if !t.IsZero() && t.Format(wire.DateLayout) > v.now().In(wire.Beijing).Format(wire.DateLayout) {
		v.add(field, "must not be in the future")
	}
}

// page records bad paging fields; noField and sizeField are the call's own
// wire names (3.5 spells them pageNo/pageSize, 3.8 and 5.5 page_no/page_size).
func (v *checker) page(r PageRequest, noField, sizeField string) {
	v.notNegative(noField, int64(r.PageNo))
	v.between(sizeField, int64(r.PageSize), 0, MaxPageSize)
}

// indexed names element i of a list field, such as "coupon_set[2]".
func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// err returns the ValidationError, or nil if nothing was recorded.
func (v *checker) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Method: v.method, Fields: v.fields}
}
