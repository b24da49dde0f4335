package fast

import (
	"cmp"
	"math"
	"reflect"
	"slices"
	"unsafe"

	"github.com/zclconf/go-cty/cty"
)

// A map of 1,000,000 tenants read from a variable file is walked three
// times by the general way: measured when the variable is set, measured
// again as the value of for_each = var.tenants, and iterated to make the
// instances. Each walk goes through cty's ElementIterator, which sorts the
// keys and then looks every member up in the Go map: a sort of 1,000,000
// strings and as many random memory reads, each time. VarFile reads the
// members in the order they are written (a file written by a program is
// sorted already), so it keeps them, in ElementIterator's order, with the
// map's size: Maps finds them again from the map value.

// Members are the members of a map of strings that VarFile read.
type Members struct {
	// Pairs are the members as ElementIterator gives them: key and
	// element, in the order of the keys. They are strings, which the
	// caller makes into cty.StringVal when it needs them: a million
	// members held as cty values took 64 bytes each and two allocations.
	Pairs [][2]string
	// Bytes is the length of every key and every element.
	Bytes int64
}

// Maps finds the Members of the maps VarFile read, by the map itself. The
// zero value is ready to use; it is not safe for concurrent use.
type Maps struct {
	byMap map[unsafe.Pointer]*mapEntry
}

type mapEntry struct {
	v cty.Value // holds the map, so that no other map takes its address
	m Members
}

// add records the members of v, a map made by cty.MapVal, in the order
// they were written, keys and elements as cty.StringVal makes them (in
// NFC).
func (ms *Maps) add(v cty.Value, pairs [][2]string) {
	p := mapIdentity(v)
	if ms == nil || p == nil || len(pairs) != v.LengthInt() {
		return
	}
	m, ok := membersOf(pairs)
	if !ok {
		return
	}
	if ms.byMap == nil {
		ms.byMap = map[unsafe.Pointer]*mapEntry{}
	}
	ms.byMap[p] = &mapEntry{v: v, m: *m}
}

// membersOf makes the Members of a map from its pairs, in the order they
// were written: it sorts them by key (ElementIterator's order) unless they
// are sorted already, and reports false when two have the same key (the
// map would have one member where the file has two: the general way
// reports the duplicate).
func membersOf(pairs [][2]string) (*Members, bool) {
	key := func(a, b [2]string) int { return cmp.Compare(a[0], b[0]) }
	if !slices.IsSortedFunc(pairs, key) {
		slices.SortFunc(pairs, key)
	}
	m := &Members{Pairs: pairs}
	for i := range pairs {
		p := &pairs[i]
		if i > 0 && pairs[i-1][0] == p[0] {
			return nil, false
		}
		m.Bytes = satAdd(m.Bytes, int64(len(p[0])+len(p[1])))
	}
	return m, true
}

// Of returns the members of v when VarFile read v (v itself, not a copy
// or a conversion), or nil.
func (ms *Maps) Of(v cty.Value) *Members {
	if ms == nil || len(ms.byMap) == 0 {
		return nil
	}
	p := mapIdentity(v)
	if p == nil {
		return nil
	}
	if e := ms.byMap[p]; e != nil {
		return &e.m
	}
	return nil
}

// mapIdentity returns the address of the Go map that holds the members of
// v, a known, unmarked map value; nil for any other value, or when cty
// keeps its maps some other way than this version does.
func mapIdentity(v cty.Value) unsafe.Pointer {
	if v.IsMarked() || !v.Type().IsMapType() || !v.IsKnown() || v.IsNull() {
		return nil
	}
	f := reflect.ValueOf(v).FieldByName("v")
	if f.Kind() == reflect.Interface {
		f = f.Elem()
	}
	if f.Kind() != reflect.Map {
		return nil
	}
	return f.UnsafePointer()
}

func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
