package view_test

import (
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/view"
)

// TestRenderedValuesHoldNoSecret: the values that the renderers of stored
// keys, events, verifications and plans take cannot hold a token: their
// types reach no token.Secret (tokens appear in them as hints and
// digests), so no renderer can print one, however it formats them.
func TestRenderedValuesHoldNoSecret(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[view.ListKey](),
		reflect.TypeFor[store.EventRow](),
		reflect.TypeFor[view.VerifyResult](),
		reflect.TypeFor[view.Report](),
	} {
		t.Run(typ.String(), func(t *testing.T) {
			assert.Empty(t, secretPaths(typ, typ.String(), map[reflect.Type]bool{}))
		})
	}
	// The walk finds a Secret where there is one.
	type leaky struct{ Keys []struct{ T *token.Secret } }
	assert.Equal(t, []string{"leaky.Keys[].T"}, secretPaths(reflect.TypeFor[leaky](), "leaky", map[reflect.Type]bool{}))
}

// secretPaths returns where typ holds a token.Secret.
func secretPaths(typ reflect.Type, path string, seen map[reflect.Type]bool) []string {
	if typ == reflect.TypeFor[token.Secret]() {
		return []string{path}
	}
	if seen[typ] {
		return nil
	}
	seen[typ] = true
	switch typ.Kind() {
	case reflect.Pointer:
		return secretPaths(typ.Elem(), path, seen)
	case reflect.Slice, reflect.Array:
		return secretPaths(typ.Elem(), path+"[]", seen)
	case reflect.Map:
		return append(secretPaths(typ.Key(), path+"{key}", seen), secretPaths(typ.Elem(), path+"{}", seen)...)
	case reflect.Struct:
		var out []string
		for i := range typ.NumField() {
			f := typ.Field(i)
			out = append(out, secretPaths(f.Type, path+"."+f.Name, seen)...)
		}
		return out
	}
	return nil
}
