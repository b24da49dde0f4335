package fast

import (
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// The large JSON inputs of a spec are flat: a secrets file mapping tenants
// to tokens, a variable file listing 100,000 tenants. These functions read
// exactly that shape (an object of strings, an array of strings) with no
// escapes, in one pass, making cty strings that share the input's memory.
// Anything else (nesting, escapes, numbers, duplicate keys, invalid UTF-8)
// makes them report false, and the caller decodes the input the general way,
// which also produces the error messages.

// StringMap reads {"key": "value", …}.
func StringMap(s string) (map[string]cty.Value, bool) {
	m, end, ok := jsonStringMapAt(s, skipJSONSpace(s, 0))
	return m, ok && skipJSONSpace(s, end) == len(s)
}

// StringArray reads ["a", "b", …].
func StringArray(s string) ([]cty.Value, bool) {
	a, end, ok := jsonStringArrayAt(s, skipJSONSpace(s, 0))
	return a, ok && skipJSONSpace(s, end) == len(s)
}

// jsonStringMapAt reads an object of strings starting at s[i] and returns
// the index after it.
func jsonStringMapAt(s string, i int) (map[string]cty.Value, int, bool) {
	m, _, end, ok := jsonStringMembersAt(s, i, false)
	return m, end, ok
}

// jsonStringMembersAt is jsonStringMapAt that also returns the members in
// the order they are written, when pairs is set: then the map is for
// cty.MapVal, which normalizes keys (NFC) and panics when two of them
// become one, and it reports false for a key that is not normalized (the
// general way reports the duplicate, or normalizes).
func jsonStringMembersAt(s string, i int, pairs bool) (map[string]cty.Value, [][2]string, int, bool) {
	size := jsonMembersHint(s, i)
	m := make(map[string]cty.Value, size)
	var out [][2]string
	if pairs {
		out = make([][2]string, 0, size)
	}
	end, ok := jsonStringMembers(s, i, func(k, v string, _, _ int) bool {
		if pairs && cty.NormalizeString(k) != k {
			return false
		}
		// One map operation instead of a lookup and an insert: a duplicate
		// key leaves the length unchanged (and the whole map is dropped).
		n := len(m)
		el := cty.StringVal(v)
		if m[k] = el; len(m) == n {
			return false
		}
		if pairs {
			out = append(out, [2]string{k, el.AsString()})
		}
		return true
	})
	if !ok {
		return nil, nil, 0, false
	}
	return m, out, end, true
}

// jsonStringPairsAt reads an object of strings starting at s[i] as its
// members alone, as jsonStringMembersAt(s, i, true) gives them but with
// no map: keys in Unicode normal form C (false for any other, as there),
// elements normalized as cty.StringVal normalizes them. Duplicate keys
// are left for membersOf to find.
func jsonStringPairsAt(s string, i int) ([][2]string, int, bool) {
	out := make([][2]string, 0, jsonMembersHint(s, i))
	end, ok := jsonStringMembers(s, i, func(k, v string, _, _ int) bool {
		if cty.NormalizeString(k) != k {
			return false
		}
		out = append(out, [2]string{k, cty.NormalizeString(v)})
		return true
	})
	if !ok {
		return nil, 0, false
	}
	return out, end, true
}

// jsonMembersHint is the number of members an object of strings starting
// at s[i] may have, to size what holds them: a member has four quotes (the
// rest of s may hold more than the object: a hint, not a count).
func jsonMembersHint(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	return strings.Count(s[i:], `"`) / 4
}

// jsonStringMembers reads an object of plain strings starting at s[i],
// calling member with each key and value (substrings of s, starting at
// kAt and vAt) in the order they are written, and returns the index after
// it. It reports false for anything else, or as soon as member does.
func jsonStringMembers(s string, i int, member func(k, v string, kAt, vAt int) bool) (int, bool) {
	if i >= len(s) || s[i] != '{' {
		return 0, false
	}
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		k, j, ok := jsonPlainString(s, i)
		if !ok {
			return 0, false
		}
		kAt := i + 1
		i = skipJSONSpace(s, j)
		if i >= len(s) || s[i] != ':' {
			return 0, false
		}
		i = skipJSONSpace(s, i+1)
		v, j, ok := jsonPlainString(s, i)
		if !ok || !member(k, v, kAt, i+1) {
			return 0, false
		}
		i = skipJSONSpace(s, j)
		switch {
		case i < len(s) && s[i] == ',':
			i = skipJSONSpace(s, i+1)
		case i < len(s) && s[i] == '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// jsonStringArrayAt reads an array of strings starting at s[i] and returns
// the index after it.
func jsonStringArrayAt(s string, i int) ([]cty.Value, int, bool) {
	if i >= len(s) || s[i] != '[' {
		return nil, 0, false
	}
	out := make([]cty.Value, 0, len(s)/16)
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == ']' {
		return out, i + 1, true
	}
	for {
		v, j, ok := jsonPlainString(s, i)
		if !ok {
			return nil, 0, false
		}
		out = append(out, cty.StringVal(v))
		i = skipJSONSpace(s, j)
		switch {
		case i < len(s) && s[i] == ',':
			i = skipJSONSpace(s, i+1)
		case i < len(s) && s[i] == ']':
			return out, i + 1, true
		default:
			return nil, 0, false
		}
	}
}

// VarFile reads a variable file whose values are strings, arrays of
// strings or objects of strings, each converted to the declared type of
// its variable (types holds them): a string for string, an array for a
// list or set of strings, an object for a map of strings. It records the
// members of the maps it makes in maps.
//
// A map of strings whose variable is named in membersOnly (one the spec
// reads only as a whole for_each) is not made into a value at all: its
// Members are returned in members, and its value in vals is
// cty.DynamicVal, which nothing reads. For a million tenants, the map
// and cty's copy of it were two Go maps of a million entries, 1.6 s.
func VarFile(s string, types map[string]cty.Type, maps *Maps, membersOnly map[string]bool) (vals map[string]cty.Value, members map[string]*Members, ok bool) {
	i := skipJSONSpace(s, 0)
	if i >= len(s) || s[i] != '{' {
		return nil, nil, false
	}
	out := map[string]cty.Value{}
	type read struct {
		v     cty.Value
		pairs [][2]string
	}
	var made []read
	done := func() (map[string]cty.Value, map[string]*Members, bool) {
		if skipJSONSpace(s, i+1) != len(s) {
			return nil, nil, false
		}
		for _, r := range made {
			maps.add(r.v, r.pairs)
		}
		return out, members, true
	}
	i = skipJSONSpace(s, i+1)
	if i < len(s) && s[i] == '}' {
		return done()
	}
	for {
		name, j, ok := jsonPlainString(s, i)
		if !ok {
			return nil, nil, false
		}
		ty, declared := types[name]
		if _, dup := out[name]; dup || !declared {
			return nil, nil, false
		}
		i = skipJSONSpace(s, j)
		if i >= len(s) || s[i] != ':' {
			return nil, nil, false
		}
		i = skipJSONSpace(s, i+1)
		var v cty.Value
		switch {
		case ty == cty.String:
			var str string
			str, i, ok = jsonPlainString(s, i)
			v = cty.StringVal(str)
		case (ty.IsListType() || ty.IsSetType()) && ty.ElementType() == cty.String:
			var elems []cty.Value
			elems, i, ok = jsonStringArrayAt(s, i)
			switch {
			case !ok:
			case len(elems) == 0 && ty.IsListType():
				v = cty.ListValEmpty(cty.String)
			case len(elems) == 0:
				v = cty.SetValEmpty(cty.String)
			case ty.IsListType():
				v = cty.ListVal(elems)
			default:
				v = cty.SetVal(elems)
			}
		case ty.IsMapType() && ty.ElementType() == cty.String && membersOnly[name]:
			var pairs [][2]string
			if pairs, i, ok = jsonStringPairsAt(s, i); ok {
				var m *Members
				if m, ok = membersOf(pairs); ok {
					if members == nil {
						members = map[string]*Members{}
					}
					members[name], v = m, cty.DynamicVal
				}
			}
		case ty.IsMapType() && ty.ElementType() == cty.String:
			var (
				m     map[string]cty.Value
				pairs [][2]string
			)
			m, pairs, i, ok = jsonStringMembersAt(s, i, true)
			if ok && len(m) == 0 {
				v = cty.MapValEmpty(cty.String)
			} else if ok {
				v = cty.MapVal(m)
				made = append(made, read{v, pairs})
			}
		default:
			return nil, nil, false
		}
		if !ok {
			return nil, nil, false
		}
		out[name] = v
		i = skipJSONSpace(s, i)
		switch {
		case i < len(s) && s[i] == ',':
			i = skipJSONSpace(s, i+1)
		case i < len(s) && s[i] == '}':
			return done()
		default:
			return nil, nil, false
		}
	}
}

// jsonPlainString reads a JSON string without escapes starting at s[i]; it
// returns its content and the index after the closing quote.
func jsonPlainString(s string, i int) (string, int, bool) {
	if i >= len(s) || s[i] != '"' {
		return "", 0, false
	}
	for j := i + 1; j < len(s); j++ {
		switch c := s[j]; {
		case c == '"':
			v := s[i+1 : j]
			return v, j + 1, utf8.ValidString(v)
		case c == '\\' || c < 0x20:
			return "", 0, false
		}
	}
	return "", 0, false
}

func skipJSONSpace(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t') {
		i++
	}
	return i
}
