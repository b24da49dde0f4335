package review

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"

	"github.com/keyprov/keyprov/spec"
)

// widenings explains how head's permissions grant more than base's, one
// detail per finding; none when head grants nothing new.
//
// A permission of head that base lacks is a new grant, unless base holds a
// permission of the same name that it does not widen, or an unconstrained
// wildcard that covers its name. Against a base permission of the same
// name, an attribute widens the grant when:
//   - it is an access set (a short string of distinct letters such as
//     rwd = "r") that gains a letter ("r" → "rw");
//   - a string becomes "*";
//   - own = true is dropped (set to false or removed);
//   - a list gains elements, or an object gains keys (scopes such as
//     locales or models), at any depth;
//   - it is removed: attributes of a permission constrain it.
//
// Adding an attribute, or changing one in another way, is not flagged (the
// change still shows in the permissions field).
func widenings(base, head []spec.Permission) []string {
	inBase := make(map[string]bool, len(base))
	byName := map[string][]map[string]any{}
	for _, p := range base {
		inBase[string(p.JSON)] = true
		if attrs, err := p.Attributes(); err == nil {
			byName[p.Name] = append(byName[p.Name], attrs)
		}
	}
	var out []string
	for _, p := range head {
		if inBase[string(p.JSON)] {
			continue
		}
		attrs, err := p.Attributes()
		if err != nil {
			continue
		}
		cands := byName[p.Name]
		if len(cands) == 0 {
			switch {
			case coveredByWildcard(p.Name, base):
			case isWildcard(p.Name):
				out = append(out, fmt.Sprintf("wildcard %q gained", p.Name))
			default:
				out = append(out, fmt.Sprintf("new permission %q", p.Name))
			}
			continue
		}
		var best []string
		for i, c := range cands {
			w := attrWidenings(c, attrs)
			if len(w) == 0 {
				best = nil
				break
			}
			if i == 0 || len(w) < len(best) {
				best = w
			}
		}
		for _, w := range best {
			out = append(out, fmt.Sprintf("%q %s", p.Name, w))
		}
	}
	return out
}

// coveredByWildcard reports whether base holds a wildcard without
// constraints that grants name.
func coveredByWildcard(name string, base []spec.Permission) bool {
	for _, p := range base {
		if isWildcard(p.Name) && covers(p.Name, name) {
			if attrs, err := p.Attributes(); err == nil && len(attrs) == 1 {
				return true
			}
		}
	}
	return false
}

// attrWidenings compares the attributes of two permissions of the same name.
func attrWidenings(base, head map[string]any) []string {
	var out []string
	for _, k := range unionKeys(base, head) {
		if k == "name" {
			continue
		}
		bv, inB := base[k]
		hv, inH := head[k]
		switch {
		case k == "own":
			if bv == true && hv != true {
				out = append(out, "own = true dropped")
			}
		case inB && !inH:
			out = append(out, k+" removed")
		case inB:
			out = append(out, gained(k, bv, hv)...)
		}
	}
	return out
}

// gained explains how value h widens value b at path.
func gained(path string, b, h any) []string {
	switch bv := b.(type) {
	case string:
		hv, ok := h.(string)
		switch {
		case !ok || hv == bv:
		case hv == "*":
			return []string{fmt.Sprintf("%s %q → \"*\"", path, bv)}
		case isAccessSet(bv) && isAccessSet(hv):
			if letters := lettersGained(bv, hv); letters != "" {
				return []string{fmt.Sprintf("%s %q → %q (gained %s)", path, bv, hv, letters)}
			}
		}
	case []any:
		hv, ok := h.([]any)
		if !ok {
			return starGained(path, bv, h)
		}
		var elems []string
		for _, e := range hv {
			if !containsValue(bv, e) {
				elems = append(elems, compactJSON(e))
			}
		}
		if len(elems) > 0 {
			return []string{fmt.Sprintf("%s gained %s", path, strings.Join(elems, ", "))}
		}
	case map[string]any:
		hv, ok := h.(map[string]any)
		if !ok {
			return starGained(path, bv, h)
		}
		var out []string
		for _, k := range unionKeys(bv, hv) {
			sub, inB := bv[k]
			hsub, inH := hv[k]
			switch {
			case inH && !inB:
				out = append(out, fmt.Sprintf("%s gained %q", path, k))
			case inH:
				out = append(out, gained(path+"."+k, sub, hsub)...)
			}
		}
		return out
	}
	return nil
}

func starGained(path string, b, h any) []string {
	if h == "*" {
		return []string{fmt.Sprintf("%s %s → \"*\"", path, compactJSON(b))}
	}
	return nil
}

// isAccessSet reports whether s reads as a set of access letters, like
// "rwd" or "pw": one to five ASCII lowercase letters, none repeated.
func isAccessSet(s string) bool {
	if s == "" || len(s) > 5 {
		return false
	}
	var seen [26]bool
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 'a' || c > 'z' || seen[c-'a'] {
			return false
		}
		seen[c-'a'] = true
	}
	return true
}

func lettersGained(b, h string) string {
	var out []byte
	for i := 0; i < len(h); i++ {
		if !strings.ContainsRune(b, rune(h[i])) {
			out = append(out, h[i])
		}
	}
	return string(out)
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if reflect.DeepEqual(e, v) {
			return true
		}
	}
	return false
}

func compactJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func unionKeys(a, b map[string]any) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, dup := a[k]; !dup {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}
