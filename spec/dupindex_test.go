package spec

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/token"
)

// The ways a test builds an index: the real hash, or forced collisions
// (every value in one slot, or one probe chain), each with room for every
// entry or growing from the smallest table.
type dupIndexMode struct {
	name     string
	testHash func(uint64) uint64
	tiny     bool
}

var dupIndexModes = []dupIndexMode{
	{name: "hash"},
	{name: "hash/grow", tiny: true},
	{name: "one-chain", testHash: func(uint64) uint64 { return 0 }},
	{name: "one-chain/grow", testHash: func(uint64) uint64 { return 0 }, tiny: true},
	// Every value in slot 0, with its high bits kept.
	{name: "one-slot", testHash: func(h uint64) uint64 { return h &^ (1<<32 - 1) }},
	{name: "one-slot/grow", testHash: func(h uint64) uint64 { return h &^ (1<<32 - 1) }, tiny: true},
}

// entries is the room an index is made with for n entries.
func (m dupIndexMode) entries(n int) int {
	if m.tiny {
		return 1
	}
	return n
}

// randomAddresses returns n addresses from few tenants and slugs, so that
// many repeat, including pairs whose tenant and slug split the same bytes
// differently ("a"/"bc" and "ab"/"c").
func randomAddresses(r *rand.Rand, n int) []*Key {
	parts := []string{"", "a", "b", "ab", "bc", "c", "abc", "t0000001", "t00000010"}
	keys := make([]*Key, n)
	for i := range keys {
		keys[i] = &Key{Address: Address{Tenant: parts[r.IntN(len(parts))], Slug: parts[r.IntN(len(parts))]}}
	}
	return keys
}

func TestAddressIndexFindsTheFirstKey(t *testing.T) {
	for _, m := range dupIndexModes {
		t.Run(m.name, func(t *testing.T) {
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 1))
				n := r.IntN(500)
				keys := randomAddresses(r, n)
				x := newAddressIndex(keys, m.entries(n))
				x.testHash = m.testHash
				want := map[Address]int{}
				for i, k := range keys {
					first, taken := x.add(i)
					w, wantTaken := want[k.Address]
					if !wantTaken {
						want[k.Address] = i
					}
					if taken != wantTaken || (taken && first != w) {
						t.Fatalf("seed %d: key %d (%q/%q): add = %d, %v; want %d, %v", seed, i, k.Address.Tenant, k.Address.Slug, first, taken, w, wantTaken)
					}
				}
				if x.n != len(want) || 2*x.n > len(x.slots) {
					t.Fatalf("seed %d: %d entries in %d slots; want %d entries, at most half the slots", seed, x.n, len(x.slots), len(want))
				}
			}
		})
	}
}

// TestAddressIndexSplits checks that addresses whose tenant and slug join
// to the same bytes are told apart, whatever their hashes.
func TestAddressIndexSplits(t *testing.T) {
	for _, m := range dupIndexModes {
		t.Run(m.name, func(t *testing.T) {
			keys := []*Key{
				{Address: Address{Tenant: "ab", Slug: "c"}},
				{Address: Address{Tenant: "a", Slug: "bc"}},
				{Address: Address{Tenant: "abc", Slug: ""}},
				{Address: Address{Tenant: "", Slug: "abc"}},
				{Address: Address{Tenant: "a", Slug: "bc"}},
			}
			x := newAddressIndex(keys, m.entries(len(keys)))
			x.testHash = m.testHash
			for i := range 4 {
				if first, taken := x.add(i); taken {
					t.Fatalf("key %d (%s) is reported as a duplicate of key %d", i, keys[i].Address, first)
				}
			}
			if first, taken := x.add(4); !taken || first != 1 {
				t.Fatalf("key 4: add = %d, %v; want 1, true", first, taken)
			}
		})
	}
}

// randomTokenKeys returns n keys whose tokens come from a few digests, some
// unknown, some keys with a previous token (at times the same as their
// token).
func randomTokenKeys(r *rand.Rand, n int) []*Key {
	pool := make([]token.Digest, 1+r.IntN(2*n+1))
	for i := range pool {
		pool[i] = sha256.Sum256(fmt.Appendf(nil, "token %d", i))
	}
	// Digests that differ only past the 8 bytes the hash reads.
	for i := 1; i < len(pool); i += 3 {
		pool[i] = pool[i-1]
		pool[i][31] ^= byte(i)
	}
	tok := func() Token {
		if r.IntN(10) == 0 {
			return Token{} // not known: never compared
		}
		return Token{Digest: pool[r.IntN(len(pool))], Known: true}
	}
	keys := make([]*Key, n)
	for i := range keys {
		k := &Key{Address: Address{Tenant: fmt.Sprint(i), Slug: "k"}, Token: tok()}
		switch r.IntN(4) {
		case 0:
			k.Previous = &PreviousToken{Token: tok()}
		case 1:
			k.Previous = &PreviousToken{Token: k.Token}
		}
		keys[i] = k
	}
	return keys
}

func TestDigestIndexFindsTheFirstToken(t *testing.T) {
	for _, m := range dupIndexModes {
		t.Run(m.name, func(t *testing.T) {
			for seed := range uint64(20) {
				r := rand.New(rand.NewPCG(seed, 2))
				n := r.IntN(500)
				keys := randomTokenKeys(r, n)
				x := newDigestIndex(keys, m.entries(n))
				x.testHash = m.testHash
				want := map[token.Digest][2]int{}
				check := func(i, which int, tok Token) {
					if !tok.Known {
						return
					}
					fk, fw, taken := x.add(i, which)
					w, wantTaken := want[tok.Digest]
					if !wantTaken {
						want[tok.Digest] = [2]int{i, which}
					}
					if taken != wantTaken || (taken && [2]int{fk, fw} != w) {
						t.Fatalf("seed %d: key %d token %d: add = %d, %d, %v; want %v, %v", seed, i, which, fk, fw, taken, w, wantTaken)
					}
				}
				for i, k := range keys {
					check(i, currentToken, k.Token)
					if k.Previous != nil {
						check(i, previousToken, k.Previous.Token)
					}
				}
				if x.n != len(want) || 2*x.n > len(x.slots) {
					t.Fatalf("seed %d: %d entries in %d slots; want %d entries, at most half the slots", seed, x.n, len(x.slots), len(want))
				}
			}
		})
	}
}

// The duplicate checks as they were with Go maps: what they report must not
// change.
func mapDuplicateAddresses(keys []*Key) (dup []bool, out []keyDiag) {
	first := make(map[Address]*Key, len(keys))
	for i, k := range keys {
		f, taken := first[k.Address]
		if !taken {
			first[k.Address] = k
			continue
		}
		if dup == nil {
			dup = make([]bool, len(keys))
		}
		dup[i] = true
		where := Pos(f.Block.DefRange())
		if f.Block.HasForEach {
			where += fmt.Sprintf(" (instance %q)", f.Block.InstanceKey)
		}
		out = append(out, keyDiag{i, withAddress(hcl.Diagnostics{errorf(k.Block.DefRange().Ptr(), "Duplicate key",
			"The key %s is declared twice: by %s here, and first at %s. A key's identity is its tenant and slug.", k.Address, k.Block, where)}, k.Address.String())})
	}
	return dup, out
}

func mapDuplicateTokens(keys []*Key, skip []bool) []keyDiag {
	type use struct {
		k    *Key
		attr string
	}
	tokens := make(map[token.Digest]use, len(keys))
	var out []keyDiag
	for i, k := range keys {
		if skip != nil && skip[i] {
			continue
		}
		check := func(t Token, attr string) {
			if !t.Known {
				return
			}
			d := t.Digest
			if u, dup := tokens[d]; dup {
				out = append(out, keyDiag{i, withAddress(hcl.Diagnostics{errorf(t.Range().Ptr(), "Token used twice",
					"The %s of %s has the same value as the %s of %s. Every key needs its own token.", attr, k.Address, u.attr, u.k.Address)}, k.Address.String())})
				return
			}
			tokens[d] = use{k, attr}
		}
		check(k.Token, "token")
		if k.Previous != nil {
			check(k.Previous.Token, "previous_token")
		}
	}
	return out
}

// TestDuplicateChecksAsWithMaps compares the checks with their map
// versions on random keys with many duplicate addresses and tokens.
func TestDuplicateChecksAsWithMaps(t *testing.T) {
	var addrDups, tokenDups int
	for seed := range uint64(50) {
		r := rand.New(rand.NewPCG(seed, 3))
		n := r.IntN(300)
		keys := randomTokenKeys(r, n)
		addrs := randomAddresses(r, n)
		for i, k := range keys {
			k.Address = addrs[i].Address
			line := i + 1
			k.Block = BlockRef{decl: &blockDecl{typ: "tenant_key", label: "k",
				defRange: hcl.Range{Filename: "keys.hcl", Start: hcl.Pos{Line: line, Column: 1}, End: hcl.Pos{Line: line, Column: 9}}},
				HasForEach: i%2 == 0, InstanceKey: fmt.Sprint(i)}
			k.Token.rng = &hcl.Range{Filename: "keys.hcl", Start: hcl.Pos{Line: line, Column: 3}}
			if k.Previous != nil {
				k.Previous.Token.rng = &hcl.Range{Filename: "keys.hcl", Start: hcl.Pos{Line: line, Column: 5}}
			}
		}
		dup, addrDiags := duplicateAddresses(keys)
		wantDup, wantAddrDiags := mapDuplicateAddresses(keys)
		if !reflect.DeepEqual(dup, wantDup) || !reflect.DeepEqual(addrDiags, wantAddrDiags) {
			t.Fatalf("seed %d: duplicateAddresses = %v, %v; want %v, %v", seed, dup, addrDiags, wantDup, wantAddrDiags)
		}
		for _, skip := range [][]bool{nil, dup} {
			got, want := duplicateTokens(keys, skip), mapDuplicateTokens(keys, skip)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("seed %d, skip %v: duplicateTokens = %v; want %v", seed, skip != nil, got, want)
			}
			tokenDups += len(got)
		}
		addrDups += len(addrDiags)
	}
	if addrDups == 0 || tokenDups == 0 {
		t.Fatalf("%d duplicate addresses and %d duplicate tokens in every seed: the inputs test nothing", addrDups, tokenDups)
	}
}
