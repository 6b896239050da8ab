package engine

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSignatureMatchesTheDocumentsExample is the document's own vector
// (section 1), computed by the emulator's implementation.
func TestSignatureMatchesTheDocumentsExample(t *testing.T) {
	q := url.Values{"foo": {"1"}, "bar": {"2"}, "foo_bar": {"3"}, "foobar": {"4"}}
	require.Equal(t, "546e4aa36d2d624da5ff816ca030951c", signature(q, []byte(`{"orderNo":123}`), "XYZ"))
	q.Set("sign", "546e4aa36d2d624da5ff816ca030951c")
	require.True(t, signed(q, []byte(`{"orderNo":123}`), "XYZ"), "sign itself is not signed")
	require.False(t, signed(q, []byte(`{"orderNo":124}`), "XYZ"))
}
