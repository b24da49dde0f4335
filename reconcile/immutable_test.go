package reconcile_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/reconcile"
	"github.com/keyprov/keyprov/store"
)

// TestApplyLeavesThePlanAsItIs: a plan is a value. Applying it, which
// creates keys (their ids drawn by the store), updates, rotates, revokes
// and disables others, changes nothing in it: a deep copy taken before
// the apply equals the plan after it.
func TestApplyLeavesThePlanAsItIs(t *testing.T) {
	t.Parallel()
	ts := newTestStore(t)
	ts.apply(t, evalSpec(t, withOwner("platform", twoKeys+`
tenant_key "billing" {
  tenant      = "acme"
  name        = "Billing"
  token       = env("TOKEN_E")
  permissions = ["billing.read"]
}

tenant_key "old" {
  tenant      = "acme"
  name        = "Old"
  token       = env("TOKEN_F")
  permissions = []
}
`)), reconcile.Options{})

	s := evalSpec(t, withOwner("platform", `
universal_key "frontend" {
  name        = "Universal front-end key"
  token       = env("TOKEN_C")
  permissions = [{ name = "*" }]
}

tenant_key "website" {
  tenant      = "acme"
  name        = "Website, renamed"
  token       = env("TOKEN_B")
  permissions = ["cms.read"]
  metadata    = { team = "web" }
}

tenant_key "billing" {
  tenant      = "acme"
  name        = "Billing"
  token       = env("TOKEN_E")
  permissions = ["billing.read"]
  revoked     = true
}

tenant_key "new" {
  tenant      = "beta"
  name        = "New"
  token       = env("TOKEN_D")
  permissions = ["cms.read"]
}
`))
	ctx := context.Background()
	require.NoError(t, ts.db.Update(ctx, func(tx *store.Tx) error {
		st, known, _, err := reconcile.LoadForDiff(ctx, tx, s)
		require.NoError(t, err)
		p := reconcile.Diff(s, st, known, reconcile.Options{Prune: true})
		require.Equal(t, reconcile.Summary{Created: 1, Updated: 1, Rotated: 1, Revoked: 1, Disabled: 1}, p.Summary())

		before := deepCopy(p)
		require.Equal(t, before, p)
		stats, err := reconcile.Apply(ctx, tx, p, reconcile.Meta{RunID: reconcile.NewRunID(), Actor: "tester"})
		require.NoError(t, err)
		require.Equal(t, int64(1), stats.KeysInserted)
		assert.Equal(t, before, p, "applying the plan does not change it")
		return nil
	}))
}

// deepCopy copies v and everything it points to (exported fields; the
// unexported fields of values such as time.Time are copied as they are).
func deepCopy[T any](v T) T {
	return copyValue(reflect.ValueOf(v)).Interface().(T)
}

func copyValue(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type().Elem())
		c.Elem().Set(copyValue(v.Elem()))
		return c
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := 0; i < v.Len(); i++ {
			c.Index(i).Set(copyValue(v.Index(i)))
		}
		return c
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(copyValue(it.Key()), copyValue(it.Value()))
		}
		return c
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		c := reflect.New(v.Type()).Elem()
		c.Set(copyValue(v.Elem()))
		return c
	case reflect.Struct:
		c := reflect.New(v.Type()).Elem()
		c.Set(v)
		for i := 0; i < v.NumField(); i++ {
			if f := c.Field(i); f.CanSet() {
				f.Set(copyValue(v.Field(i)))
			}
		}
		return c
	}
	return v
}
