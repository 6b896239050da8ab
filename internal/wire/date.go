package wire

import (
	"fmt"
	"time"
)

// Date is a calendar date sent and received as "yyyy-MM-dd", such as a
// member's birthday.
//
// A date has no time zone, so Date sends the date the value holds in its own
// location: time.Date(1994, 9, 28, 0, 0, 0, 0, loc) is sent as "1994-09-28"
// whatever loc is. Converting to Beijing first would move a midnight in a
// zone east of Beijing to the day before. Decoded dates are midnight in
// Beijing, so a decoded Date is sent back unchanged.
//
// The zero time encodes as null (omit it with the omitzero tag); null and ""
// decode as the zero time. Decoding also accepts "yyyy-MM-dd HH:mm:ss" and
// epoch milliseconds, keeping the Beijing date.
type Date time.Time

// IsZero reports whether the date is unset; encoding/json's omitzero uses it.
func (d Date) IsZero() bool { return time.Time(d).IsZero() }

// MarshalJSON implements json.Marshaler.
func (d Date) MarshalJSON() ([]byte, error) {
	t := time.Time(d)
	if t.IsZero() {
		return []byte("null"), nil
	}
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("wire: year %d does not fit yyyy-MM-dd", y)
	}
	b := make([]byte, 0, len(DateLayout)+2)
	b = append(b, '"')
	b = t.AppendFormat(b, DateLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (d *Date) UnmarshalJSON(b []byte) error {
	s := unquote(b)
	if len(s) == 0 || string(s) == "null" {
		*d = Date{}
		return nil
	}
	var t time.Time
	var err error
	if ms, ok := intValue(s); ok {
		if ms == 0 {
			*d = Date{}
			return nil
		}
		t = time.UnixMilli(ms).In(Beijing)
	} else if b[0] != '"' {
		_, err = parseInt(s)
		return err
	} else if t, err = time.ParseInLocation(DateLayout, string(s), Beijing); err != nil {
		if t, err = time.ParseInLocation(DateTimeLayout, string(s), Beijing); err != nil {
			return fmt.Errorf("wire: %s is not a yyyy-MM-dd date", describe(b))
		}
	}
	y, m, day := t.Date()
	*d = Date(time.Date(y, m, day, 0, 0, 0, 0, Beijing))
	return nil
}
