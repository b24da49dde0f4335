package planfile_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/planfile"
	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/review"
	"github.com/keyprov/keyprov/store"
)

var when = time.Date(2026, 11, 23, 10, 4, 0, 0, time.UTC)

// fill sets every field of v that it can reach to a value that is not
// the zero value, so that a field the format drops, today or once a type
// gains one, fails the round trip. Values of interface type are left to
// the test.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(3) // review.High for a severity
	case reflect.Uint, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(3)
	case reflect.Array:
		for i := range v.Len() {
			v.Index(i).SetUint(uint64(i + 1))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // JSON text: permissions, metadata, added, removed
			v.SetBytes([]byte(`[{"name": "x", "rwd": "r"}]`))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k)
		fill(e)
		v.SetMapIndex(k, e)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(when))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(v.Field(i))
			}
		}
	}
}

func filledPlan(t *testing.T) *reconcile.Plan {
	t.Helper()
	var p reconcile.Plan
	fill(reflect.ValueOf(&p).Elem())
	p.Unlisted = 0
	c := &p.Changes[0]
	// A row an apply writes never holds an operator's disable (saving one
	// is an error: TestRowWithOperatorRefused).
	c.Row.Disabled.Operator = nil
	c.Action = reconcile.Update
	// The values a field change holds.
	c.Fields = []reconcile.FieldChange{
		{Field: "name", Before: "Old", After: "New"},
		{Field: "revoked", Before: false, After: true},
		{Field: "expires", Before: nil, After: when},
		{Field: "permissions", Before: json.RawMessage(`[{"name": "a"}]`), After: json.RawMessage(`[{"name": "a"}, {"name": "b", "rwd": "r"}]`),
			Added: []json.RawMessage{json.RawMessage(`{"name": "b", "rwd": "r"}`)}},
		{Field: "disabled_by", Before: []string{"operator"}, After: nil},
	}
	// A create and an unchanged key: the second is counted, not listed.
	create := p.Changes[0]
	create.Action, create.KeyID = reconcile.Create, 0
	p.Changes = append(p.Changes, create, reconcile.Change{Action: reconcile.NoOp})
	require.NotEmpty(t, p.Changes[0].Risks)
	return &p
}

// A saved plan reads back as the plan that was saved, every field of it,
// and an apply of it writes the same rows and events.
func TestRoundTrip(t *testing.T) {
	p := filledPlan(t)
	until := when.Add(time.Hour)
	f := &planfile.File{Keyprov: "1.2.3", SchemaVersion: 6, RunID: "run", InputDigest: "ab",
		Store: store.Position{StoreID: "6f1c3c1e-7a53-4b8e-9a52-2a4f6a1a0b11", Counter: 42}, StoreInputDigest: "cd",
		Record: &store.InputRecord{Owner: "x", Digest: []byte{1, 2}, ValidUntil: &until, Names: json.RawMessage(`[{"kind":"env","name":"A"}]`),
			Plan: json.RawMessage(`{"Owner":"x"}`), Keyprov: "1.2.3"},
		Plan: p}
	var buf bytes.Buffer
	require.NoError(t, planfile.Write(&buf, f))
	got, err := planfile.Read(&buf)
	require.NoError(t, err)

	want := *p
	want.Changes = want.Changes[:2]
	want.Unlisted = 1
	assert.Equal(t, &want, got.Plan)
	got.Plan, f.Plan = nil, nil
	assert.Equal(t, f, got)

	// The same writes, event documents included.
	meta := reconcile.Meta{RunID: "r", Actor: "a"}
	a, b := reconcile.Batch(&want, meta), reconcile.Batch(p, meta)
	require.Len(t, a.Keys, len(b.Keys))
	for i := range a.Keys {
		for j := range a.Keys[i].Events {
			assert.Equal(t, string(b.Keys[i].Events[j].Document()), string(a.Keys[i].Events[j].Document()))
			a.Keys[i].Events[j].ChangesFunc, b.Keys[i].Events[j].ChangesFunc = nil, nil
			a.Keys[i].Events[j].Changes, b.Keys[i].Events[j].Changes = nil, nil
		}
	}
	assert.Equal(t, b, a)
}

// JSON columns keep their bytes: a key's content digest is computed from them.
func TestJSONTextKept(t *testing.T) {
	p := &reconcile.Plan{Now: when, Changes: []reconcile.Change{{Action: reconcile.Create,
		Row: &store.KeyRow{Content: store.Content{Name: "A", Permissions: []byte(`[{"name": "cms.read"}]`), Metadata: []byte(`{"team": "web"}`)}}}}}
	var buf bytes.Buffer
	require.NoError(t, planfile.Write(&buf, &planfile.File{Plan: p}))
	got, err := planfile.Read(&buf)
	require.NoError(t, err)
	assert.Equal(t, `[{"name": "cms.read"}]`, string(got.Plan.Changes[0].Row.Permissions))
	assert.Equal(t, store.ContentDigest(p.Changes[0].Row), store.ContentDigest(got.Plan.Changes[0].Row))
}

// A value the format cannot carry is an error when the plan is saved.
func TestUnknownValue(t *testing.T) {
	p := &reconcile.Plan{Changes: []reconcile.Change{{Action: reconcile.Update, Fields: []reconcile.FieldChange{{Field: "f", Before: 1.5}}}}}
	err := planfile.Write(&bytes.Buffer{}, &planfile.File{Plan: p})
	assert.ErrorContains(t, err, "float64")
}

// Another document, or another version of the format, is refused.
func TestReadRefuses(t *testing.T) {
	for name, doc := range map[string]string{
		"not JSON":                      "plan",
		"another document":              `{"format_version": "1"}`,
		"a later version":               `{"format": "keyprov-plan", "format_version": 2, "plan": {}}`,
		"no plan":                       `{"format": "keyprov-plan", "format_version": 1}`,
		"a bad severity":                `{"format": "keyprov-plan", "format_version": 1, "plan": {"Changes": [{"Risks": [{"Severity": "dire"}]}]}}`,
		"a bad token digest":            `{"format": "keyprov-plan", "format_version": 1, "plan": {"Changes": [{"NewTokens": [{"Digest": "zz"}]}]}}`,
		"a store id that is not a UUID": "{\"format\": \"keyprov-plan\", \"format_version\": 1, \"store\": {\"id\": \"\\u001b]0;pwned\\u0007\"}, \"plan\": {}}",
	} {
		_, err := planfile.Read(strings.NewReader(doc))
		assert.ErrorIs(t, err, planfile.ErrFormat, name)
	}
}

var _ = review.High

// A row holds what an apply writes: an operator's disable, which no apply
// writes, is refused rather than dropped.
func TestRowWithOperatorRefused(t *testing.T) {
	p := &reconcile.Plan{Now: when, Changes: []reconcile.Change{{Action: reconcile.Update,
		Row: &store.KeyRow{Disabled: store.Disabled{At: &when, Operator: &store.OperatorHold{At: when, Actor: "a", Reason: "r"}}}}}}
	assert.Error(t, planfile.Write(&bytes.Buffer{}, &planfile.File{Plan: p}))
}
