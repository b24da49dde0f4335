package fast

import (
	"hash/maphash"
	"math"
	"sync/atomic"
)

// StringIndex is a JSON object of plain strings read for lookups by key,
// such as a secrets file of a million tokens: the offsets of each member's
// key and value in the text and an open-addressing table of member numbers,
// 24 bytes a member, where a Go map of cty values took about 140 and a
// random probe into a hundred megabytes per lookup.
type StringIndex struct {
	s       string
	members []member
	// slots hold a member's number plus one (0: empty), at the position
	// of its key's hash; a key that finds its position taken goes on to
	// the next (linear probing). There are at least twice as many slots
	// as members.
	slots []uint32
	seed  maphash.Seed
	// offset is what GetAt adds to the number it is given to find the
	// member it tries first, as the last miss found it; misses counts the
	// tries that missed. Only misses write them: hits, which every core
	// makes, share them read-only.
	offset, misses atomic.Int64
}

// member is where a member's key and value are in the text.
type member struct {
	key, keyLen, val, valLen uint32
}

// ReadStringIndex reads {"key": "value", …} as StringMap does, and reports
// false where StringMap does (escapes, a duplicate key, anything but an
// object of strings) and for a text of 4 GiB or more.
func ReadStringIndex(s string) (*StringIndex, bool) {
	if len(s) >= math.MaxUint32 {
		return nil, false
	}
	i := skipJSONSpace(s, 0)
	x := &StringIndex{s: s, seed: maphash.MakeSeed(), members: make([]member, 0, jsonMembersHint(s, i))}
	end, ok := jsonStringMembers(s, i, func(k, v string, kAt, vAt int) bool {
		if len(x.members) == math.MaxUint32-1 {
			return false
		}
		x.members = append(x.members, member{key: uint32(kAt), keyLen: uint32(len(k)), val: uint32(vAt), valLen: uint32(len(v))})
		return true
	})
	if !ok || skipJSONSpace(s, end) != len(s) {
		return nil, false
	}
	size := 16
	for size < 2*len(x.members) {
		size *= 2
	}
	x.slots = make([]uint32, size)
	for n := range x.members {
		if !x.insert(n) {
			return nil, false // a duplicate key
		}
	}
	return x, true
}

func (x *StringIndex) key(n int) string {
	m := &x.members[n]
	return x.s[m.key : m.key+m.keyLen]
}

// insert puts member n in its slot; false when a member with its key is
// there already.
func (x *StringIndex) insert(n int) bool {
	k := x.key(n)
	mask := uint64(len(x.slots) - 1)
	for p := maphash.String(x.seed, k) & mask; ; p = (p + 1) & mask {
		switch at := x.slots[p]; {
		case at == 0:
			x.slots[p] = uint32(n) + 1
			return true
		case x.key(int(at-1)) == k:
			return false
		}
	}
}

// Get returns the value of key, and whether the object has it.
func (x *StringIndex) Get(key string) (string, bool) {
	v, _, ok := x.find(key)
	return v, ok
}

// find returns the value of key and its member's number.
func (x *StringIndex) find(key string) (string, int, bool) {
	mask := uint64(len(x.slots) - 1)
	for p := maphash.String(x.seed, key) & mask; ; p = (p + 1) & mask {
		at := x.slots[p]
		if at == 0 {
			return "", 0, false
		}
		if x.key(int(at-1)) == key {
			m := &x.members[at-1]
			return x.s[m.val : m.val+m.valLen], int(at - 1), true
		}
	}
}

// GetAt is Get that first tries member i (plus the offset the last miss
// found). A secrets file written in the order of the for_each it serves,
// as a program's output usually is, has instance i's token there: read in
// order, instead of at a random place of a hundred megabytes: a million
// lookups took 0.42 s of CPU, and the whole reading of a million token
// references now takes 0.14 s. A file in another order gives up the tries
// after max(1024, members/16) misses. A negative i tries nothing.
func (x *StringIndex) GetAt(key string, i int) (string, bool) {
	if m := x.misses.Load(); i >= 0 && (m < 1024 || m < int64(len(x.members)/16)) {
		if n := int64(i) + x.offset.Load(); n >= 0 && n < int64(len(x.members)) && x.key(int(n)) == key {
			m := &x.members[n]
			return x.s[m.val : m.val+m.valLen], true
		}
		x.misses.Add(1)
		v, n, ok := x.find(key)
		if ok {
			x.offset.Store(int64(n) - int64(i))
		}
		return v, ok
	}
	return x.Get(key)
}

// Len returns the number of members.
func (x *StringIndex) Len() int { return len(x.members) }
