package ump

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// levelGateway serves the level table (3.8) of total levels, pageCap a page
// at most whatever page_size is asked for, echoing the size asked.
// ignorePageNo serves page 1 whatever is asked; withTotal sends totalCount.
func levelGateway(t *testing.T, g *gateway, total, pageCap int, ignorePageNo, withTotal bool) {
	g.handle("wk.user.level.list", func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			PageNo   int `json:"page_no"`
			PageSize int `json:"page_size"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			t.Errorf("body: %v", err)
		}
		if ignorePageNo {
			in.PageNo = 1
		}
		served := min(in.PageSize, pageCap)
		var items []string
		for i := (in.PageNo - 1) * served; i < min(in.PageNo*served, total); i++ {
			items = append(items, fmt.Sprintf(`{"id":%d,"level_number":%d,"level_name":"L%d"}`, i+1, i+1, i+1))
		}
		paging := fmt.Sprintf(`"pageNo":%d,"pageSize":%d`, in.PageNo, in.PageSize)
		if withTotal {
			paging += fmt.Sprintf(`,"totalCount":%d`, total)
		}
		_, _ = fmt.Fprintf(w, `{"success":true,"data":[%s],%s}`, strings.Join(items, ","), paging)
	})
}

func levelIDs(t *testing.T, c *Client, req PageRequest) ([]int64, error) {
	t.Helper()
	var ids []int64
	for lv, err := range c.Member.AllLevels(t.Context(), &req) {
		if err != nil {
			return ids, err
		}
		ids = append(ids, lv.ID)
	}
	return ids, nil
}

func count(n int) []int64 {
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(i + 1)
	}
	return out
}

// A gateway serving 7 a page whatever is asked: the iterator reads on until
// totalCount, not up to the first page shorter than asked.
func TestIteratorsReadUntilTheTotal(t *testing.T) {
	c, g := setup(t)
	levelGateway(t, g, 23, 7, false, true)
	ids, err := levelIDs(t, c, PageRequest{PageSize: 10})
	require.NoError(t, err)
	require.Equal(t, count(23), ids)
	require.Len(t, g.calls(), 4, "7+7+7+2")

	// Without totalCount: on to the empty page.
	c, g = setup(t)
	levelGateway(t, g, 23, 7, false, false)
	ids, err = levelIDs(t, c, PageRequest{PageSize: 10})
	require.NoError(t, err)
	require.Equal(t, count(23), ids)
	require.Len(t, g.calls(), 5, "four pages and the empty one")
}

// A gateway that ignores pageNo serves page 1 for ever: the iterator ends.
func TestIteratorsEndWhenAPageRepeats(t *testing.T) {
	c, g := setup(t)
	levelGateway(t, g, 23, 7, true, false)
	ids, err := levelIDs(t, c, PageRequest{PageSize: 10})
	require.NoError(t, err, "without totalCount nothing says more remain")
	require.Equal(t, count(7), ids, "each item once")
	require.Len(t, g.calls(), 2)

	// With totalCount, the short list is an error, after the real items.
	c, g = setup(t)
	levelGateway(t, g, 23, 7, true, true)
	ids, err = levelIDs(t, c, PageRequest{PageSize: 10})
	require.ErrorIs(t, err, ErrIncompletePages)
	require.Contains(t, err.Error(), "page 2 repeats the one before after 7 of 23 items")
	require.Equal(t, count(7), ids)
	require.Len(t, g.calls(), 2)
}

// An empty page before totalCount is reached ends the walk with an error.
func TestIteratorsEmptyPageBeforeTheTotal(t *testing.T) {
	c, g := setup(t)
	g.handle("wk.user.level.list", sequence(
		answerWith(`{"success":true,"data":[{"id":1},{"id":2}],"pageNo":1,"pageSize":2,"totalCount":5}`),
		answerWith(`{"success":true,"data":[],"pageNo":2,"pageSize":2,"totalCount":5}`)))
	ids, err := levelIDs(t, c, PageRequest{PageSize: 2})
	require.ErrorIs(t, err, ErrIncompletePages)
	require.Equal(t, []int64{1, 2}, ids)
	require.Len(t, g.calls(), 2)
}
