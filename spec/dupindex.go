package spec

import (
	"encoding/binary"
	"hash/maphash"
	"math"
	"math/bits"

	"github.com/keyprov/keyprov/token"
)

// The duplicate checks (checkDuplicates) find, for each key's address and
// each of its tokens' digests, the first key that has it. A Go map of every
// key would hold a copy of each address or digest: 94 MB and 127 MB at
// 1,000,000 keys, live at the evaluation's peak. These tables hold a uint32
// per slot instead, that names a key (and for tokens which of its tokens)
// and keeps a few bits of the value's hash; the value itself is read from
// the key when a probe meets an entry with the same bits. Nothing is ever
// deleted.

// slotTable is the open-addressing part: a power-of-two array of slots, each
// 0 (empty) or an entry, probed linearly. It keeps at least twice as many
// slots as entries.
//
// An entry is an id (from 1) in its low idBits, and in the bits above, a
// tag: the top bits of its value's hash. A probe compares values only when
// the tags match: without tags, a probe that meets another entry reads its
// key, several cache misses, and at half full an insert meets more than one
// other entry on average.
type slotTable struct {
	slots  []uint32
	mask   uint64
	n      int // entries
	idBits uint
}

// maxID bounds the ids of a slotTable.
const maxID = math.MaxUint32

// newSlotTable returns a table for ids up to largest, with room for
// entries entries without growing.
func newSlotTable(entries int, largest uint32) slotTable {
	size := 16
	for size < 2*entries {
		size <<= 1
	}
	return slotTable{slots: make([]uint32, size), mask: uint64(size - 1), idBits: uint(bits.Len32(largest))}
}

// entry returns the entry of id, its value hashing to h.
func (t *slotTable) entry(id uint32, h uint64) uint32 {
	return id | uint32(h>>(32+t.idBits))<<t.idBits
}

// id returns the id of an entry.
func (t *slotTable) id(v uint32) uint32 { return v & (1<<t.idBits - 1) }

// put fills the empty slot s with v. It reports whether more than half of
// the slots are full: then the caller grows the table.
func (t *slotTable) put(s uint64, v uint32) (full bool) {
	t.slots[s] = v
	t.n++
	return 2*t.n > len(t.slots)
}

// grow doubles the slots, placing every entry again by the hash of its id.
func (t *slotTable) grow(hash func(id uint32) uint64) {
	old := t.slots
	t.slots = make([]uint32, 2*len(old))
	t.mask = uint64(len(t.slots) - 1)
	for _, v := range old {
		if v == 0 {
			continue
		}
		s := hash(t.id(v)) & t.mask
		for t.slots[s] != 0 {
			s = (s + 1) & t.mask
		}
		t.slots[s] = v
	}
}

// addressIndex finds the first of keys with an address. An id is a key's
// index + 1.
type addressIndex struct {
	slotTable
	keys []*Key
	h    maphash.Hash // seeded once; Reset keeps the seed
	// testHash, when set, changes every hash (tests: forced collisions).
	testHash func(uint64) uint64
}

// newAddressIndex returns an index with room for the addresses of entries
// of keys before it grows.
func newAddressIndex(keys []*Key, entries int) *addressIndex {
	if len(keys) >= maxID {
		panic("spec: too many keys for the duplicate check")
	}
	x := &addressIndex{slotTable: newSlotTable(entries, uint32(len(keys))), keys: keys}
	x.h.SetSeed(maphash.MakeSeed())
	return x
}

// hash hashes the tenant's length, the tenant and the slug: no two
// addresses give the same bytes.
func (x *addressIndex) hash(a Address) uint64 {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(a.Tenant)))
	x.h.Reset()
	x.h.Write(n[:])
	x.h.WriteString(a.Tenant)
	x.h.WriteString(a.Slug)
	if x.testHash != nil {
		return x.testHash(x.h.Sum64())
	}
	return x.h.Sum64()
}

// add returns the index of the first key added whose address is
// keys[i]'s, and true; or, when there is none, adds keys[i] and returns
// false.
func (x *addressIndex) add(i int) (first int, taken bool) {
	a := x.keys[i].Address
	h := x.hash(a)
	want := x.entry(0, h)
	for s := h & x.mask; ; s = (s + 1) & x.mask {
		v := x.slots[s]
		if v == 0 {
			if x.put(s, want|uint32(i+1)) {
				x.grow(func(id uint32) uint64 { return x.hash(x.keys[id-1].Address) })
			}
			return 0, false
		}
		if v&^(1<<x.idBits-1) != want {
			continue
		}
		if f := int(x.id(v) - 1); x.keys[f].Address == a {
			return f, true
		}
	}
}

// The tokens of a key, numbered as in a digestIndex id.
const (
	currentToken  = 0 // Key.Token
	previousToken = 1 // Key.Previous.Token
)

// digestIndex finds the first token of keys with a digest. An id is
// 2*key + which + 1, which being currentToken or previousToken. Only known
// tokens are added.
type digestIndex struct {
	slotTable
	keys []*Key
	// testHash, when set, changes every hash (tests: forced collisions).
	testHash func(uint64) uint64
}

// newDigestIndex returns an index with room for entries tokens of keys
// before it grows.
func newDigestIndex(keys []*Key, entries int) *digestIndex {
	if len(keys) > maxID/2 {
		panic("spec: too many keys for the duplicate check")
	}
	return &digestIndex{slotTable: newSlotTable(entries, uint32(2*len(keys))), keys: keys}
}

// digest returns the digest of keys[i]'s token which.
func (x *digestIndex) digest(i, which int) *token.Digest {
	if which == currentToken {
		return &x.keys[i].Token.Digest
	}
	return &x.keys[i].Previous.Token.Digest
}

// hash is the digest's first 8 bytes: digests are SHA-256, uniform already.
func (x *digestIndex) hash(d *token.Digest) uint64 {
	h := binary.LittleEndian.Uint64(d[:8])
	if x.testHash != nil {
		return x.testHash(h)
	}
	return h
}

// idDigest returns the digest that id names.
func (x *digestIndex) idDigest(id uint32) *token.Digest {
	return x.digest(int((id-1)/2), int((id-1)%2))
}

// add returns the first key and token added whose digest is the digest of
// keys[i]'s token which, and true; or, when there is none, adds that token
// and returns false. The token must be known.
func (x *digestIndex) add(i, which int) (firstKey, firstWhich int, taken bool) {
	d := x.digest(i, which)
	h := x.hash(d)
	want := x.entry(0, h)
	for s := h & x.mask; ; s = (s + 1) & x.mask {
		v := x.slots[s]
		if v == 0 {
			if x.put(s, want|uint32(2*i+which+1)) {
				x.grow(func(id uint32) uint64 { return x.hash(x.idDigest(id)) })
			}
			return 0, 0, false
		}
		if v&^(1<<x.idBits-1) != want {
			continue
		}
		if id := x.id(v); *x.idDigest(id) == *d {
			return int((id - 1) / 2), int((id - 1) % 2), true
		}
	}
}
