package reconcile

import (
	"context"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// LoadForDiff is what Run loads before the diff: the state with the
// content of keys read only where their digests do not settle it.
func LoadForDiff(ctx context.Context, tx *store.Tx, s *spec.Spec) (*store.State, map[token.Digest]store.TokenRef, int, error) {
	res := &Result{}
	st, known, err := load(ctx, tx, s, loadOptions{}, res)
	return st, known, res.ContentRead, err
}
