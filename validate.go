package ump

import (
	"strings"

	"github.com/greedc/ump-go/internal/wire"
)

// checker collects field problems for a ValidationError; every endpoint
// validates through it so that all bad fields are reported at once.
type checker struct {
	method string
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

// phone records field if value is set and is not a mainland mobile number
// (11 digits starting with 1). The number itself is not repeated.
func (v *checker) phone(field, value string) {
	if value != "" && !wire.IsMobile(value) {
		v.add(field, "must be an 11-digit mainland mobile number")
	}
}

// err returns the ValidationError, or nil if nothing was recorded.
func (v *checker) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Method: v.method, Fields: v.fields}
}
