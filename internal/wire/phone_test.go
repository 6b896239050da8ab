package wire

import "testing"

func TestIsMobile(t *testing.T) {
	for s, want := range map[string]bool{
		"13800001234":   true,
		"19999999999":   true,
		"":              false,
		"1380000123":    false, // 10 digits
		"138000012345":  false, // 12 digits
		"23800001234":   false, // not a 1
		"1380000123x":   false,
		"１３８００００１２３４":   false, // full-width digits
		"8613800001234": false, // country code
	} {
		if got := IsMobile(s); got != want {
			t.Errorf("IsMobile(%q) = %v, want %v", s, got, want)
		}
	}
}
