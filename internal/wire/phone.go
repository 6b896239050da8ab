package wire

// IsMobile reports an 11-digit mainland mobile number (a 1 and ten ASCII
// digits): the shape the platform demands of a phone parameter, and what
// tells a phone from an open_id where a parameter takes either ("会员唯一标识
// 或者电话"). The SDK validates with it and the emulated platform enforces
// it, so both sides agree on what a phone is.
func IsMobile(s string) bool {
	if len(s) != 11 || s[0] != '1' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
