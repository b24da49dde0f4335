package spec

import (
	"errors"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// convertValue converts v to ty, as cty does, with messages that name
// the same attribute or element every time (mismatchMessage). Large
// collections of like primitive values take the speed layer's direct path
// (quickConvert).
func convertValue(v cty.Value, ty cty.Type) (cty.Value, error) {
	if v.Type().Equals(ty) {
		return v, nil
	}
	if fv, ok := quickConvert(v, ty); ok {
		return fv, nil
	}
	if convert.GetConversionUnsafe(v.Type(), ty) == nil {
		return cty.NilVal, errors.New(mismatchMessage(v.Type(), ty))
	}
	return convert.Convert(v, ty)
}

// mismatchMessage says why got cannot be converted to want, as
// convert.MismatchMessage does, but names the first wrong attribute or
// element in name order. cty ranges over a Go map there, so when several
// are wrong it names a different one from run to run, and a spec must give
// the same diagnostics every time it is evaluated.
func mismatchMessage(got, want cty.Type) string {
	switch {
	case got.IsObjectType() && want.IsObjectType():
		if msg, ok := objectMismatch(got, want); ok {
			return msg
		}
	case got.IsObjectType() && want.IsMapType() && want.ElementType() != cty.DynamicPseudoType:
		ety := want.ElementType()
		for _, name := range sortedAttributes(got) {
			aty := got.AttributeType(name)
			if !aty.Equals(ety) && convert.GetConversionUnsafe(aty, ety) == nil {
				return fmt.Sprintf("element %q: %s", name, mismatchMessage(aty, ety))
			}
		}
	case got.IsTupleType() && (want.IsListType() || want.IsSetType()) && want.ElementType() != cty.DynamicPseudoType:
		ety := want.ElementType()
		for i, t := range got.TupleElementTypes() {
			if !t.Equals(ety) && convert.GetConversionUnsafe(t, ety) == nil {
				return fmt.Sprintf("element %d: %s", i, mismatchMessage(t, ety))
			}
		}
	case got.IsCollectionType() && want.IsCollectionType() && got.IsMapType() == want.IsMapType():
		noun := "list element type"
		switch {
		case want.IsSetType():
			noun = "set element type"
		case want.IsMapType():
			noun = "map element type"
		}
		return fmt.Sprintf("incorrect %s: %s", noun, mismatchMessage(got.ElementType(), want.ElementType()))
	}
	return convert.MismatchMessage(got, want)
}

// objectMismatch is mismatchMessage for two object types: missing
// attributes first (cty already sorts those), then the first attribute in
// name order that cannot be converted.
func objectMismatch(got, want cty.Type) (string, bool) {
	for _, name := range sortedAttributes(want) {
		if !got.HasAttribute(name) && !want.AttributeOptional(name) {
			return "", false
		}
	}
	for _, unsafe := range []bool{true, false} {
		for _, name := range sortedAttributes(want) {
			if !got.HasAttribute(name) {
				continue
			}
			gty, wty := got.AttributeType(name), want.AttributeType(name)
			if gty.Equals(wty) {
				continue
			}
			conv := convert.GetConversion(gty, wty)
			if unsafe {
				conv = convert.GetConversionUnsafe(gty, wty)
			}
			if conv == nil {
				return fmt.Sprintf("attribute %q: %s", name, mismatchMessage(gty, wty)), true
			}
		}
	}
	return "", false
}

func sortedAttributes(t cty.Type) []string {
	names := make([]string, 0, len(t.AttributeTypes()))
	for name := range t.AttributeTypes() {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
