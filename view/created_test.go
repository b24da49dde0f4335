package view_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/keycontent"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/view"
)

// TestCreatedShowsEveryField: a new key that sets every field of
// keycontent.Fields shows each field, with its value, in the text, JSON
// and Markdown plans, except those named here, which a new key's list
// leaves out on purpose (and the Markdown cell's own omissions). A field
// added to keycontent.Fields fails here until its Listed rule says
// whether a new key shows it.
func TestCreatedShowsEveryField(t *testing.T) {
	notListed := []string{"universal", "owner", "revoked_at", "revoked_reason"} // universal: in the label and JSONChange.Universal
	mdLeftOut := []string{"description", "metadata"}

	// Every field set, each to a value of its own.
	var full store.Content
	v := reflect.ValueOf(&full).Elem()
	for i := range v.NumField() {
		switch f := v.Field(i); f.Interface().(type) {
		case bool:
			f.SetBool(true)
		case string:
			f.SetString(fmt.Sprintf("text-%d", i))
		case []byte:
			f.SetBytes(fmt.Appendf(nil, `[{"name": "json-%d"}]`, i))
		case *time.Time:
			at := time.Date(2027, 1, 1+i, 0, 0, 0, 0, time.UTC)
			f.Set(reflect.ValueOf(&at))
		default:
			t.Fatalf("Content.%s: a field of an unknown kind", v.Type().Field(i).Name)
		}
	}
	// shown is the text of f's value that every format must show.
	shown := func(f *keycontent.Field) string {
		switch x := f.Value(&full).(type) {
		case string:
			return x
		case json.RawMessage:
			var ps []map[string]string
			require.NoError(t, json.Unmarshal(x, &ps))
			return ps[0]["name"]
		case time.Time:
			return x.Format("2006-01-02")
		}
		t.Fatalf("%s: a value of an unknown kind", f.Name)
		return ""
	}

	c := reconcile.Change{Address: addr("acme/every"), Action: reconcile.Create, Universal: full.Universal,
		Row:   &store.KeyRow{Tenant: "acme", Slug: "every", Content: full},
		Token: &reconcile.TokenChange{After: "wat_…Zr4T"}}
	r := &view.Report{Plan: &reconcile.Plan{Owner: "platform", Now: planNow, Changes: []reconcile.Change{c}}, Command: "plan"}
	var text, js, md bytes.Buffer
	require.NoError(t, (&view.TextView{}).Render(&text, r))
	require.NoError(t, view.JSONView{}.Render(&js, r))
	require.NoError(t, view.MarkdownView{}.Render(&md, r))
	var doc struct {
		Changes []struct {
			Create map[string]json.RawMessage `json:"create"`
		} `json:"changes"`
	}
	require.NoError(t, json.Unmarshal(js.Bytes(), &doc))
	require.Len(t, doc.Changes, 1)
	created := doc.Changes[0].Create

	for i := range keycontent.Fields {
		f := &keycontent.Fields[i]
		if slices.Contains(notListed, f.Name) {
			assert.Equal(t, keycontent.Never, f.Listed, "a new key does not list %s", f.Name)
			assert.NotContains(t, created, f.Name)
			continue
		}
		want := shown(f)
		line := ""
		for l := range strings.Lines(text.String()) {
			if strings.HasPrefix(l, fmt.Sprintf("    %-12s ", f.Name)) {
				line = l
			}
		}
		assert.Contains(t, line, want, "the text plan shows %s", f.Name)
		assert.Contains(t, string(created[f.Name]), want, "the JSON plan shows %s", f.Name)
		if slices.Contains(mdLeftOut, f.Name) {
			assert.NotContains(t, md.String(), want, "the Markdown cell leaves out %s", f.Name)
		} else {
			assert.Regexp(t, `\b`+f.Name+` [^<|]*`+regexp.QuoteMeta(want), md.String(), "the Markdown plan shows %s", f.Name)
		}
		delete(created, f.Name)
	}
	assert.Equal(t, []string{"disabled", "revoked"}, slices.Sorted(maps.Keys(created)), "the JSON plan's members of a new key besides its content fields")
	assert.Contains(t, text.String(), "(create, universal)")
}
