package keycontent_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/keycontent"
)

func TestCompare(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	before := keycontent.Content{Name: "Web", Permissions: []byte(`[{"name": "a", "n": 1.0}]`), Metadata: []byte(`{}`)}
	same := before
	same.Permissions = []byte(`[{"name": "a", "n": 1}]`)
	assert.Empty(t, keycontent.Compare(&before, &same), "the same JSON value written otherwise is no change")

	after := keycontent.Content{Universal: true, Name: "Website", Description: "Pages", Permissions: []byte(`[{"name": "b"}]`),
		Metadata: []byte(`{"team": "web"}`), ExpiresAt: &exp, Owner: "other", RevokedAt: &exp, RevokedReason: "why"}
	assert.Equal(t, []keycontent.FieldChange{
		{Field: "universal", Before: false, After: true},
		{Field: "name", Before: "Web", After: "Website"},
		{Field: "description", Before: "", After: "Pages"},
		{Field: "permissions", Before: json.RawMessage(`[{"name": "a", "n": 1.0}]`), After: json.RawMessage(`[{"name": "b"}]`),
			Added: []json.RawMessage{json.RawMessage(`{"name": "b"}`)}, Removed: []json.RawMessage{json.RawMessage(`{"name": "a", "n": 1.0}`)}},
		{Field: "metadata", Before: json.RawMessage(`{}`), After: json.RawMessage(`{"team": "web"}`)},
		{Field: "expires", Before: nil, After: exp},
	}, keycontent.Compare(&before, &after), "owner and revocation are not listed")
}

func TestListed(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.FixedZone("x", 3600))
	bare := keycontent.Content{Universal: true, Name: "Web", Permissions: []byte(`[]`), Metadata: []byte(`{}`), Owner: "o"}
	assert.Equal(t, []keycontent.FieldChange{
		{Field: "name", After: "Web"},
		{Field: "permissions", After: json.RawMessage(`[]`)},
	}, keycontent.Listed(&bare))
	full := bare
	full.Description, full.Metadata, full.ExpiresAt = "Pages", []byte(`{"a": "b"}`), &exp
	assert.Equal(t, []keycontent.FieldChange{
		{Field: "name", After: "Web"},
		{Field: "description", After: "Pages"},
		{Field: "permissions", After: json.RawMessage(`[]`)},
		{Field: "metadata", After: json.RawMessage(`{"a": "b"}`)},
		{Field: "expires", After: exp.UTC()},
	}, keycontent.Listed(&full))
}

// TestFieldsCoverContent: Fields has one entry per field of Content, and
// each entry reads its own field: changing one field of Content makes
// exactly one entry see a difference, and changes the digest.
func TestFieldsCoverContent(t *testing.T) {
	typ := reflect.TypeFor[keycontent.Content]()
	require.Equal(t, typ.NumField(), len(keycontent.Fields))
	at := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	base := keycontent.Content{Permissions: []byte(`[]`), Metadata: []byte(`{}`)}
	seen := map[string]bool{}
	for i := range typ.NumField() {
		c := base
		f := reflect.ValueOf(&c).Elem().Field(i)
		switch v := f.Interface().(type) {
		case bool:
			f.SetBool(!v)
		case string:
			f.SetString("x")
		case []byte:
			f.SetBytes([]byte(`["x"]`))
		case *time.Time:
			f.Set(reflect.ValueOf(&at))
		default:
			t.Fatalf("Content.%s: a field of an unknown kind", typ.Field(i).Name)
		}
		var differ []string
		for j := range keycontent.Fields {
			if !keycontent.Fields[j].Equal(&base, &c) {
				differ = append(differ, keycontent.Fields[j].Name)
			}
		}
		require.Len(t, differ, 1, "Content.%s is read by exactly one field", typ.Field(i).Name)
		assert.False(t, seen[differ[0]], "%s reads one field only", differ[0])
		seen[differ[0]] = true
		assert.NotEqual(t, keycontent.Digest(&base), keycontent.Digest(&c), "Content.%s is digested", typ.Field(i).Name)
	}
}

// TestFieldsAreComplete: every field says whether a new key lists it and
// whether its created event records it, so that a field added to Fields
// cannot be left out of either by omission.
func TestFieldsAreComplete(t *testing.T) {
	for i := range keycontent.Fields {
		f := &keycontent.Fields[i]
		assert.Contains(t, []keycontent.Rule{keycontent.Never, keycontent.WhenSet, keycontent.Always}, f.Listed, "%s: Listed", f.Name)
		assert.Contains(t, []keycontent.Rule{keycontent.Never, keycontent.WhenSet, keycontent.Always}, f.Created, "%s: Created", f.Name)
		assert.NotEmpty(t, f.Column, "%s: Column", f.Name)
	}
}

// TestAppendJSON: a field's JSON is the value json.Marshal gives for
// Value's, for every field, set and unset.
func TestAppendJSON(t *testing.T) {
	at := time.Date(2027, 1, 1, 12, 0, 0, 500, time.FixedZone("x", 3600))
	contents := []keycontent.Content{
		{Permissions: []byte(`[]`), Metadata: []byte(`{}`)},
		{Universal: true, Name: "W\"e\\b\n\x01 <&> ü", Description: "d", Permissions: []byte(`[{"name": "a"}]`),
			Metadata: []byte(`{"a": "b"}`), ExpiresAt: &at, Owner: "o", RevokedAt: &at, RevokedReason: "r"},
	}
	for _, c := range contents {
		for i := range keycontent.Fields {
			f := &keycontent.Fields[i]
			want, err := json.Marshal(f.Value(&c))
			require.NoError(t, err)
			got := f.AppendJSON([]byte("prefix"), &c)
			require.True(t, bytes.HasPrefix(got, []byte("prefix")), f.Name)
			assert.JSONEq(t, string(want), string(got[len("prefix"):]), f.Name)
		}
	}
}

// TestCompareSameAllocatesNothing: comparing two contents that do not
// differ allocates nothing, not even the contents themselves: a caller's
// Content built on its stack stays there (a no-op apply compares every
// key, a million of them at 1M keys).
func TestCompareSameAllocatesNothing(t *testing.T) {
	exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	stored := keycontent.Content{Name: "Web", Description: "Pages", Permissions: []byte(`[{"name": "a"}]`),
		Metadata: []byte(`{"team": "web"}`), ExpiresAt: &exp, Owner: "platform"}
	build := func() keycontent.Content {
		return keycontent.Content{Name: stored.Name, Description: stored.Description, Permissions: stored.Permissions,
			Metadata: stored.Metadata, ExpiresAt: stored.ExpiresAt, Owner: stored.Owner}
	}
	allocs := testing.AllocsPerRun(100, func() {
		want := build() // a value on the caller's stack, as reconcile's desired row
		if fs := keycontent.Compare(&stored, &want); fs != nil {
			t.Fatalf("changes: %v", fs)
		}
	})
	assert.Zero(t, allocs, "allocations per compare of equal contents")
}
