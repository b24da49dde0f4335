package view

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"sort"

	"github.com/keyprov/keyprov/review"
)

// Permission objects are stored as PostgreSQL's jsonb prints them, which
// orders an object's keys by length: {"rwd": "r", "name": "wb.page"}. They
// are shown with "name" first, then their other attributes sorted:
// {"name": "wb.page", "rwd": "r"}. This is display only: what is stored,
// compared and digested keeps jsonb's order, so no key is rewritten.

// PermissionsJSON returns permissions as they are shown: raw is a JSON array
// of permission objects (a key's permissions) or one permission object (one
// added or removed). In each object "name" comes first, then the other
// attributes sorted by name; values are kept as they are written, and so
// is the spacing (jsonb's, or compact). Anything else, such as text that
// is not JSON, is returned unchanged.
func PermissionsJSON(raw []byte) json.RawMessage {
	if out, ok := permissionsJSON(raw); ok {
		return out
	}
	return json.RawMessage(raw)
}

func permissionsJSON(raw []byte) ([]byte, bool) {
	raw = bytes.TrimSpace(raw)
	if !json.Valid(raw) {
		return nil, false
	}
	spaced := spacedJSON(raw)
	switch {
	case len(raw) > 0 && raw[0] == '{':
		return nameFirst(raw, spaced)
	case len(raw) > 0 && raw[0] == '[':
		elems, ok := jsonElements(raw)
		if !ok {
			return nil, false
		}
		out := make([]byte, 0, len(raw))
		out = append(out, '[')
		for i, e := range elems {
			if i > 0 {
				out = append(out, ',')
				if spaced {
					out = append(out, ' ')
				}
			}
			if o, ok := nameFirst(e, spaced); ok {
				e = o
			}
			out = append(out, e...)
		}
		return append(out, ']'), true
	}
	return nil, false
}

// EventChangesJSON returns an event's changes document as it is shown: the
// permissions it holds ("permissions": {"old": [...], "new": [...]}) as
// PermissionsJSON shows them, every other member as it is.
func EventChangesJSON(raw []byte) json.RawMessage {
	members, ok := jsonMembers(bytes.TrimSpace(raw))
	if !ok {
		return json.RawMessage(raw)
	}
	changed := false
	for i, m := range members {
		if m.key != "permissions" {
			continue
		}
		inner, ok := jsonMembers(m.value)
		if !ok {
			continue
		}
		for j, im := range inner {
			if im.key == "old" || im.key == "new" {
				inner[j].value = PermissionsJSON(im.value)
			}
		}
		members[i].value = writeObject(inner, spacedJSON(m.value))
		changed = true
	}
	if !changed {
		return json.RawMessage(raw)
	}
	return writeObject(members, spacedJSON(bytes.TrimSpace(raw)))
}

// shownField returns f with its values as they are shown: permissions as
// PermissionsJSON shows them.
func shownField(f review.FieldChange) review.FieldChange {
	if f.Field != "permissions" {
		return f
	}
	shown := func(v any) any {
		if r, ok := v.(json.RawMessage); ok {
			return PermissionsJSON(r)
		}
		return v
	}
	f.Before, f.After = shown(f.Before), shown(f.After)
	f.Added = shownList(f.Added)
	f.Removed = shownList(f.Removed)
	return f
}

func shownList(ps []json.RawMessage) []json.RawMessage {
	if len(ps) == 0 {
		return ps
	}
	out := make([]json.RawMessage, len(ps))
	for i, p := range ps {
		out[i] = PermissionsJSON(p)
	}
	return out
}

// member is one member of a JSON object: its key (decoded), and its key
// and value as written.
type member struct {
	key           string
	rawKey, value []byte
}

// nameFirst writes a JSON object with "name" first and its other members
// sorted by key.
func nameFirst(raw []byte, spaced bool) ([]byte, bool) {
	members, ok := jsonMembers(raw)
	if !ok {
		return nil, false
	}
	sort.SliceStable(members, func(i, j int) bool {
		a, b := members[i].key, members[j].key
		if (a == "name") != (b == "name") {
			return a == "name"
		}
		return a < b
	})
	return writeObject(members, spaced), true
}

// writeObject writes members as a JSON object: spaced as jsonb prints it
// ({"a": 1, "b": 2}), or compact.
func writeObject(members []member, spaced bool) []byte {
	var b []byte
	b = append(b, '{')
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
			if spaced {
				b = append(b, ' ')
			}
		}
		b = append(b, m.rawKey...)
		b = append(b, ':')
		if spaced {
			b = append(b, ' ')
		}
		b = append(b, m.value...)
	}
	return append(b, '}')
}

// spacedJSON reports whether JSON text puts a space after its separators,
// as jsonb prints it, rather than none, as encoding/json does: it looks
// at the first separator outside a string. Text without one counts as
// spaced.
func spacedJSON(raw []byte) bool {
	inString := false
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ':' || c == ','):
			return i+1 < len(raw) && raw[i+1] == ' '
		}
	}
	return true
}

// jsonMembers splits a JSON object into its members, in their order; it
// reports false when raw is not one JSON object.
func jsonMembers(raw []byte) ([]member, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var out []member
	for dec.More() {
		start := dec.InputOffset()
		t, err := dec.Token()
		key, ok := t.(string)
		if err != nil || !ok {
			return nil, false
		}
		rawKey := raw[start:dec.InputOffset()]
		rawKey = rawKey[bytes.IndexByte(rawKey, '"'):]
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, member{key: key, rawKey: rawKey, value: v})
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('}') {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return out, true
}

// jsonElements splits a JSON array into its elements, as written.
func jsonElements(raw []byte) ([][]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if t, err := dec.Token(); err != nil || t != json.Delim('[') {
		return nil, false
	}
	var out [][]byte
	for dec.More() {
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, false
		}
		out = append(out, v)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim(']') {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return out, true
}
