package ump

import (
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/greedc/ump-go/internal/redact"
)

// Printing a value of the SDK never shows a secret, a token, a sign or a
// full phone or identity number, whatever the verb (%v, %+v, %#v, %s, %d)
// and whatever the slog handler: each type below implements fmt.Formatter,
// fmt.Stringer, fmt.GoStringer and slog.LogValuer, all rendering one
// masked slog.Value. fmt's default rendering prints every field, unexported
// ones too, so a type without these methods would print the app secret of
// a *Client or the phone of a request in clear.

// maskedValue renders a request struct (or a pointer to one) as a group of
// its exported fields, by field name, with every string masked: a phone or
// identity field by its own rule, a credential whole, any other string by
// redact.Text, which masks a phone or identity number wherever it appears
// (an OpenID may hold a phone number).
func maskedValue(v any) slog.Value {
	return maskReflect(reflect.ValueOf(v), 0)
}

func maskReflect(rv reflect.Value, depth int) slog.Value {
	if !rv.IsValid() {
		return slog.StringValue("<nil>")
	}
	if depth > 0 && rv.CanInterface() {
		if lv, ok := rv.Interface().(slog.LogValuer); ok {
			if rv.Kind() == reflect.Pointer && rv.IsNil() {
				return slog.StringValue("<nil>")
			}
			return lv.LogValue()
		}
	}
	switch rv.Kind() {
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return slog.StringValue("<nil>")
		}
		return maskReflect(rv.Elem(), depth)
	case reflect.Struct:
		if t, ok := rv.Interface().(time.Time); ok {
			if t.IsZero() {
				return slog.StringValue("")
			}
			return slog.TimeValue(t)
		}
		if s, ok := rv.Interface().(fmt.Stringer); ok && depth > 0 {
			return slog.StringValue(s.String())
		}
		var attrs []slog.Attr
		for i := 0; i < rv.NumField(); i++ {
			f := rv.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			fv := rv.Field(i)
			if f.Anonymous && fv.Kind() == reflect.Struct && !fv.Type().Implements(logValuerType) {
				attrs = append(attrs, maskReflect(fv, depth+1).Group()...) // flatten embedded fields
				continue
			}
			if fv.Kind() == reflect.String {
				attrs = append(attrs, slog.String(f.Name, maskField(f.Name, fv.String())))
				continue
			}
			attrs = append(attrs, slog.Attr{Key: f.Name, Value: maskReflect(fv, depth+1)})
		}
		return slog.GroupValue(attrs...)
	case reflect.Slice, reflect.Array:
		attrs := make([]slog.Attr, rv.Len())
		for i := range attrs {
			attrs[i] = slog.Attr{Key: strconv.Itoa(i), Value: maskReflect(rv.Index(i), depth+1)}
		}
		return slog.GroupValue(attrs...)
	case reflect.String:
		return slog.StringValue(redact.Text(rv.String()))
	case reflect.Bool:
		return slog.BoolValue(rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s, ok := rv.Interface().(fmt.Stringer); ok {
			return slog.StringValue(s.String())
		}
		return slog.Int64Value(rv.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return slog.Uint64Value(rv.Uint())
	case reflect.Float32, reflect.Float64:
		return slog.Float64Value(rv.Float())
	}
	return slog.StringValue("<" + rv.Type().String() + ">") // maps, funcs, channels: nothing a request holds
}

var logValuerType = reflect.TypeFor[slog.LogValuer]()

// maskField masks a string field by its name.
func maskField(name, s string) string {
	lower := strings.ToLower(name)
	switch {
	case s == "":
		return ""
	case strings.Contains(lower, "phone"):
		return redact.Phone(s)
	case strings.Contains(lower, "idcard") || strings.Contains(lower, "idnumber"):
		return redact.IDCard(s)
	case strings.Contains(lower, "secret") || strings.Contains(lower, "token") || strings.Contains(lower, "sign") ||
		lower == "code" || strings.HasSuffix(lower, "verifycode"):
		return redact.Credential(s)
	}
	return redact.Text(s)
}

// formatMasked writes v, a masked rendering of a value of type name, as
// fmt's verb would print a struct: {a:1 b:x} for %v and %s, with field
// names for %+v, ump.Name{a:1, b:"x"} for %#v. Every verb prints the same
// masked fields, so no verb reaches fmt's default printing of the struct.
func formatMasked(f fmt.State, verb rune, name string, v slog.Value) {
	var b strings.Builder
	writeMasked(&b, v, verb == 'v' && f.Flag('#'), name)
	_, _ = f.Write([]byte(b.String()))
}

func writeMasked(b *strings.Builder, v slog.Value, goSyntax bool, name string) {
	v = v.Resolve()
	if v.Kind() != slog.KindGroup {
		if goSyntax {
			if v.Kind() == slog.KindString {
				b.WriteString(strconv.Quote(v.String()))
				return
			}
		}
		b.WriteString(v.String())
		return
	}
	if goSyntax {
		b.WriteString(name)
	}
	b.WriteByte('{')
	for i, a := range v.Group() {
		if i > 0 {
			if goSyntax {
				b.WriteString(", ")
			} else {
				b.WriteByte(' ')
			}
		}
		b.WriteString(a.Key)
		b.WriteByte(':')
		writeMasked(b, a.Value, goSyntax, "")
	}
	b.WriteByte('}')
}

// maskedString is what String and GoString return: fmt's %v and %#v of v.
func maskedString(name string, v slog.Value, goSyntax bool) string {
	var b strings.Builder
	writeMasked(&b, v, goSyntax, name)
	return b.String()
}
