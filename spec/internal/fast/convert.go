package fast

import "github.com/zclconf/go-cty/cty"

// Convert converts v to ty when v is a collection of like primitive values
// (a variable file listing 100,000 tenants) and ty a list, set or map of
// them: cty's general conversion unifies the element types of a tuple by
// sorting them, which costs seconds at that size for an answer known up
// front. It reports false for anything else (a null, unknown or marked
// value, elements of another type), which the caller converts the general
// way.
func Convert(v cty.Value, ty cty.Type) (cty.Value, bool) {
	if v.IsNull() || !v.IsKnown() || v.IsMarked() {
		return cty.NilVal, false
	}
	vt := v.Type()
	switch {
	case (ty.IsListType() || ty.IsSetType()) && ty.ElementType().IsPrimitiveType() && (vt.IsTupleType() || vt.IsListType()):
		et := ty.ElementType()
		elems, ok := likeElements(v, et)
		if !ok {
			return cty.NilVal, false
		}
		switch {
		case len(elems) == 0 && ty.IsListType():
			return cty.ListValEmpty(et), true
		case len(elems) == 0:
			return cty.SetValEmpty(et), true
		case ty.IsListType():
			return cty.ListVal(elems), true
		default:
			return cty.SetVal(elems), true
		}
	case ty.IsMapType() && ty.ElementType().IsPrimitiveType() && (vt.IsObjectType() || vt.IsMapType()):
		et := ty.ElementType()
		m := make(map[string]cty.Value, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, e := it.Element()
			if e.IsNull() || !e.IsKnown() || e.IsMarked() || !e.Type().Equals(et) {
				return cty.NilVal, false
			}
			m[k.AsString()] = e
		}
		if len(m) == 0 {
			return cty.MapValEmpty(et), true
		}
		return cty.MapVal(m), true
	}
	return cty.NilVal, false
}

// likeElements returns v's elements when every one is a known, unmarked,
// non-null value of type et.
func likeElements(v cty.Value, et cty.Type) ([]cty.Value, bool) {
	elems := make([]cty.Value, 0, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !e.IsKnown() || e.IsMarked() || !e.Type().Equals(et) {
			return nil, false
		}
		elems = append(elems, e)
	}
	return elems, true
}
