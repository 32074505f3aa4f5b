package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/crowdledger/crowdledger/internal/page"
)

// pageJSON is every list's shape: the items, newest first, and the cursor
// to the next page when there is one.
type pageJSON[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// writePage answers with a page, each item turned into its response form.
func writePage[T, U any](c echo.Context, p page.Of[T], view func(T) U) error {
	out := pageJSON[U]{Items: make([]U, 0, len(p.Items)), NextCursor: p.Next}
	for _, t := range p.Items {
		out.Items = append(out.Items, view(t))
	}
	return c.JSON(http.StatusOK, out)
}

// same is the identity view, for items whose domain type is their JSON.
func same[T any](t T) T { return t }

// listQuery reads a list's query string: limit and cursor, the same on
// every list, and the filters a route allows. A parameter the route does
// not know is refused, so a misspelt filter is a 400 rather than a list
// that silently ignores it. The first fault is kept; Err returns it.
type listQuery struct {
	c   echo.Context
	req page.Request
	err error
}

// newListQuery checks the parameters against allowed (a name ending in "."
// allows every parameter with that prefix) and reads limit and cursor.
func newListQuery(c echo.Context, allowed ...string) *listQuery {
	q := &listQuery{c: c}
	for name := range c.QueryParams() {
		ok := name == "limit" || name == "cursor" || slices.ContainsFunc(allowed, func(a string) bool {
			return a == name || strings.HasSuffix(a, ".") && strings.HasPrefix(name, a) && len(name) > len(a)
		})
		if !ok {
			q.fail(problem(http.StatusBadRequest, "unknown_parameter", name, "this list has no parameter "+strconv.Quote(name)+
				"; it takes limit, cursor"+listOf(allowed)))
		}
	}
	if raw := c.QueryParam("limit"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > page.MaxLimit {
			q.fail(problem(http.StatusBadRequest, "invalid_parameter", "limit", "limit must be an integer from 1 to "+strconv.Itoa(page.MaxLimit)))
		}
		q.req.Limit = n
	}
	if slices.Contains(allowed, "cursor") {
		return q // a list whose cursor is not a page key reads it itself (a timeline's sequence number)
	}
	after, err := page.ParseCursor(c.QueryParam("cursor"))
	if err != nil {
		q.fail(problem(http.StatusBadRequest, "invalid_cursor", "cursor", "cursor must be a next_cursor value from an earlier page"))
	}
	q.req.After = after
	return q
}

func listOf(names []string) string {
	names = slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "cursor" }) // named already
	if len(names) == 0 {
		return ""
	}
	return ", " + strings.Join(names, ", ")
}

func (q *listQuery) fail(err error) {
	if q.err == nil {
		q.err = err
	}
}

// Err is the first fault in the query string, if any.
func (q *listQuery) Err() error { return q.err }

// page is the page asked for.
func (q *listQuery) page() page.Request { return q.req }

// str reads a text filter: valid UTF-8 without NUL, as PostgreSQL's text
// takes, and at most 200 bytes.
func (q *listQuery) str(name string) string {
	v := q.c.QueryParam(name)
	if !utf8.ValidString(v) || strings.ContainsRune(v, 0) || len(v) > 200 {
		q.fail(problem(http.StatusBadRequest, "invalid_parameter", name, name+" must be UTF-8 text without NUL, at most 200 bytes"))
		return ""
	}
	return v
}

// id reads a UUID filter; nil when absent.
func (q *listQuery) id(name string) *uuid.UUID {
	v := q.c.QueryParam(name)
	if v == "" {
		return nil
	}
	id, err := parseUUID(v)
	if err != nil {
		q.fail(problem(http.StatusBadRequest, "invalid_uuid", name, name+" must be a UUID in canonical form"))
		return nil
	}
	return &id
}

// instant reads an RFC 3339 instant; nil when absent.
func (q *listQuery) instant(name string) *time.Time {
	v := q.c.QueryParam(name)
	if v == "" {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.fail(problem(http.StatusBadRequest, "invalid_parameter", name, name+" must be an RFC 3339 instant, e.g. 2026-12-01T08:00:00Z"))
		return nil
	}
	return &t
}

// flag reads a boolean filter (true or false); false when absent.
func (q *listQuery) flag(name string) bool {
	switch v := q.c.QueryParam(name); v {
	case "", "false":
		return false
	case "true":
		return true
	}
	q.fail(problem(http.StatusBadRequest, "invalid_parameter", name, name+" must be true or false"))
	return false
}

// prefixed reads every parameter prefix+KEY as KEY: value.
func (q *listQuery) prefixed(prefix string) map[string]string {
	var out map[string]string
	for name := range q.c.QueryParams() {
		if key, ok := strings.CutPrefix(name, prefix); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[key] = q.str(name)
		}
	}
	return out
}
