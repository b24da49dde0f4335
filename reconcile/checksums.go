package reconcile

import (
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/token"
)

// markChecksums records on each token row the plan inserts whether the
// token carries a keyprov checksum (spec.Token.Checksum), as the store
// keeps it for verifiers: a token of a prefix whose live tokens all carry
// one is rejected without a query when its checksum is wrong. Every token
// a plan inserts is one of the spec's tokens or previous tokens.
func markChecksums(p *Plan, s *spec.Spec) {
	var sums map[token.Digest]bool
	for i := range p.Changes {
		c := &p.Changes[i]
		for j := range c.NewTokens {
			if sums == nil {
				sums = checksums(s)
			}
			c.NewTokens[j].Checksum = sums[c.NewTokens[j].Digest]
		}
	}
}

// checksums maps the digest of each of the spec's tokens that carries a
// checksum to true.
func checksums(s *spec.Spec) map[token.Digest]bool {
	m := map[token.Digest]bool{}
	for _, k := range s.Keys {
		if k.Token.Known && k.Token.Checksum {
			m[k.Token.Digest] = true
		}
		if k.Previous != nil && k.Previous.Token.Known && k.Previous.Token.Checksum {
			m[k.Previous.Token.Digest] = true
		}
	}
	return m
}
