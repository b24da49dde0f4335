package review

import (
	"bytes"
	"encoding/json"
	"math/big"
	"reflect"
	"time"

	"github.com/keyprov/keyprov/spec"
)

// Content is what the store keeps of a key besides its tokens, its
// revocation and its owner: the fields a plan updates and a review
// compares. CompareContent is their one comparison, used by Compare (two
// specs) and by reconcile's plan (the store and a spec).
type Content struct {
	Universal   bool
	Name        string
	Description string
	// Permissions is the canonical JSON array of the permissions, as
	// PostgreSQL prints the jsonb value; Metadata the JSON object ("{}").
	Permissions []byte
	Metadata    []byte
	Expires     *time.Time
}

// ContentOf returns the content a spec's key asks for.
func ContentOf(k *spec.Key) Content {
	return Content{Universal: k.Universal, Name: k.Name, Description: k.Description,
		Permissions: k.PermissionsJSON, Metadata: k.MetadataJSON, Expires: k.Expires}
}

// CompareContent lists the fields that differ between before and after,
// in this order: universal, name, description, permissions (with the
// permissions added and removed), metadata, expires. Before and After are
// bool, string ("" for no description), json.RawMessage, and time.Time or
// nil for expires.
func CompareContent(before, after *Content) []FieldChange {
	var fs []FieldChange
	if before.Universal != after.Universal {
		fs = append(fs, FieldChange{Field: "universal", Before: before.Universal, After: after.Universal})
	}
	if before.Name != after.Name {
		fs = append(fs, FieldChange{Field: "name", Before: before.Name, After: after.Name})
	}
	if before.Description != after.Description {
		fs = append(fs, FieldChange{Field: "description", Before: before.Description, After: after.Description})
	}
	if !sameJSON(before.Permissions, after.Permissions) {
		fs = append(fs, FieldChange{Field: "permissions",
			Before: json.RawMessage(before.Permissions), After: json.RawMessage(after.Permissions),
			Added: setDiff(after.Permissions, before.Permissions), Removed: setDiff(before.Permissions, after.Permissions)})
	}
	if !sameJSON(before.Metadata, after.Metadata) {
		fs = append(fs, FieldChange{Field: "metadata", Before: json.RawMessage(before.Metadata), After: json.RawMessage(after.Metadata)})
	}
	if !sameTime(before.Expires, after.Expires) {
		fs = append(fs, FieldChange{Field: "expires", Before: optTime(before.Expires), After: optTime(after.Expires)})
	}
	return fs
}

func optTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

func sameTime(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}

// sameJSON compares two JSON texts. Both are normally canonical (the
// spec's, or PostgreSQL's jsonb text), so equal values are equal bytes; the
// decoded comparison guards against a value keyprov would print
// differently (e.g. a number written by hand as 1.0), so that it never
// causes an update on every run.
func sameJSON(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	va, errA := decodeJSON(a)
	vb, errB := decodeJSON(b)
	return errA == nil && errB == nil && reflect.DeepEqual(va, vb)
}

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normNumbers(v), nil
}

// normNumbers replaces json.Numbers by a canonical decimal form.
func normNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		f, ok := new(big.Float).SetPrec(512).SetString(string(x))
		if !ok {
			return string(x)
		}
		return f.Text('g', 100)
	case []any:
		for i := range x {
			x[i] = normNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normNumbers(x[k])
		}
	}
	return v
}

// setDiff returns the items of JSON array a that are not in JSON array b.
func setDiff(a, b []byte) []json.RawMessage {
	var ia, ib []json.RawMessage
	if json.Unmarshal(a, &ia) != nil {
		return nil
	}
	_ = json.Unmarshal(b, &ib)
	var out []json.RawMessage
	for _, x := range ia {
		found := false
		for _, y := range ib {
			if sameJSON(x, y) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

// permissionsOf parses a canonical JSON array of permissions (the store's
// form) into the spec's; an element that is not an object with a string
// name is left out.
func permissionsOf(b []byte) []spec.Permission {
	var elems []json.RawMessage
	if json.Unmarshal(b, &elems) != nil {
		return nil
	}
	out := make([]spec.Permission, 0, len(elems))
	for _, e := range elems {
		var p struct {
			Name *string `json:"name"`
		}
		if json.Unmarshal(e, &p) != nil || p.Name == nil {
			continue
		}
		out = append(out, spec.Permission{Name: *p.Name, JSON: e})
	}
	return out
}
