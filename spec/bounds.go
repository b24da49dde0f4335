package spec

import (
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Evaluation is bounded. Every string, list, set, map and object that
// evaluating a spec produces has a size: its text, counted through nesting
// as if written out, at most Limits.MaxValueBytes, and its elements, counted
// through nesting, at most Limits.MaxElements. Three mechanisms keep it so:
//
//   - The functions that can build large values (boundedfuncs.go) work out
//     the size of their result from their arguments and refuse one past the
//     limits before building it: range(1e15), setproduct() of three lists of
//     a thousand, format("%999999999s", "x"), join() and the like.
//   - Templates and for expressions build values without a function.
//     Before an expression is evaluated, preflight (preflight.go) works out
//     a lower bound of the size of the values they would produce from the
//     values they refer to, and refuses the expression when one is past the
//     limits: "${local.a}${local.a}" where local.a is over half the limit,
//     or a for expression in a for expression over large collections.
//   - After it is evaluated, every local value, variable and attribute value
//     is measured (checkValueSize), and one past the limits is reported
//     where it is written, and not used: what preflight cannot size (a for
//     expression with an if clause, JSON syntax) stops there.
//
// What is not bounded here: jsondecode, which newFuncs does not wrap (its
// check, checkJSONDecode, is ready); for_each, which keys.go evaluates
// itself; and the text of strings in sets of more than bigSetWalk elements,
// which is not walked (their elements are counted).

// limitsByCtx maps the base context of each running evaluation to its
// limits, so that code that holds only an evaluation context (evalAttr)
// finds them.
var limitsByCtx sync.Map // *hcl.EvalContext → Limits

// trackBounds registers the limits of the evaluation whose base context is
// base, until the returned function is called.
func trackBounds(base *hcl.EvalContext, l Limits) (untrack func()) {
	limitsByCtx.Store(base, l)
	return func() { limitsByCtx.Delete(base) }
}

// limitsOf returns the limits of the evaluation ctx belongs to, and
// DefaultLimits when it belongs to none (a context built by a test).
func limitsOf(ctx *hcl.EvalContext) Limits {
	if ctx == nil {
		return DefaultLimits
	}
	for ctx.Parent() != nil {
		ctx = ctx.Parent()
	}
	if l, ok := limitsByCtx.Load(ctx); ok {
		return l.(Limits)
	}
	return DefaultLimits
}

// evalBounded evaluates expr in ctx within the limits of the evaluation ctx
// belongs to (DefaultLimits outside one): preflight first, then the value is
// measured. name names the value in messages: "local.a1", or the name of
// an attribute.
// A value past the limits comes back as cty.DynamicVal with an error.
func evalBounded(expr hcl.Expression, ctx *hcl.EvalContext, name string) (cty.Value, hcl.Diagnostics) {
	l := limitsOf(ctx)
	if d := preflight(expr, ctx, l); d != nil {
		return cty.DynamicVal, hcl.Diagnostics{d}
	}
	v, diags := expr.Value(ctx)
	if diags.HasErrors() || measuredWhereSet(expr, ctx) {
		return v, diags
	}
	if msg := checkValueSize(v, l); msg != "" {
		what := name
		if !strings.HasPrefix(name, "local.") {
			what = fmt.Sprintf("The value of %q", name)
		}
		return cty.DynamicVal, append(diags, errorf(expr.Range().Ptr(), "Value too large", "%s %s.", what, msg))
	}
	return v, diags
}

// varTooLarge reports (and returns true) when the value given for
// variable d from rng is past the limits.
func (e *evaluator) varTooLarge(d *varDecl, v cty.Value, rng hcl.Range) bool {
	msg := checkValueSize(v, e.limits)
	if msg == "" {
		return false
	}
	var subject *hcl.Range
	if rng.Start.Line > 0 {
		subject = rng.Ptr()
	}
	e.add(errorf(subject, "Value too large", "The value for variable %q (from %s) %s.", d.name, rng.Filename, msg))
	return true
}

// valueSize measures a value: its text as if written out (strings, and the
// keys of maps and objects) and its elements, counted through nesting.
// A value that shares parts (a list holding the same list a thousand
// times) is measured as if the parts were copies: that is what printing
// it, or encoding it as JSON, would produce. The walk stops as soon as a
// limit is passed, so that it costs no more than the limits allow.
type valueSize struct {
	limits Limits
	bytes  int64
	elems  int64
	// number is set when the value holds a number out of range.
	number bool
}

// bigSetWalk is the size from which the elements of a set are counted but
// not walked: cty sorts a set to walk it, which takes seconds for 100,000
// strings. A set's elements come from values that were measured where
// they were written, or from a function that bounds what it builds.
const bigSetWalk = 4096

func (s *valueSize) over() bool {
	return s.bytes > s.limits.MaxValueBytes || s.elems > int64(s.limits.MaxElements) || s.number
}

func (s *valueSize) addBytes(n int) { s.bytes = satAdd(s.bytes, int64(n)) }

// walk adds v to s; it returns false once a limit is passed.
func (s *valueSize) walk(v cty.Value) bool {
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return true
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		s.addBytes(len(v.AsString()))
	case ty == cty.Number:
		s.number = numberOutOfRange(v)
	case ty.IsSetType():
		n := v.LengthInt()
		s.elems = satAdd(s.elems, int64(n))
		if s.over() {
			return false
		}
		if n > bigSetWalk {
			s.elems = satAdd(s.elems, satMul(int64(n), typeElems(ty.ElementType())))
			return !s.over()
		}
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if !s.walk(el) {
				return false
			}
		}
	case ty.IsListType() || ty.IsTupleType():
		s.elems = satAdd(s.elems, int64(v.LengthInt()))
		if s.over() {
			return false
		}
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if !s.walk(el) {
				return false
			}
		}
	case ty.IsMapType() || ty.IsObjectType():
		s.elems = satAdd(s.elems, int64(v.LengthInt()))
		if s.over() {
			return false
		}
		for it := v.ElementIterator(); it.Next(); {
			k, el := it.Element()
			s.addBytes(len(k.AsString()))
			if !s.walk(el) {
				return false
			}
		}
	}
	return !s.over()
}

// typeElems is the number of elements every value of type ty holds, as far
// as its type says: the attributes and elements of objects and tuples.
func typeElems(ty cty.Type) int64 {
	var n int64
	switch {
	case ty.IsObjectType():
		for _, at := range ty.AttributeTypes() {
			n = satAdd(n, 1+typeElems(at))
		}
	case ty.IsTupleType():
		for _, et := range ty.TupleElementTypes() {
			n = satAdd(n, 1+typeElems(et))
		}
	}
	return n
}

// checkValueSize measures v and returns what is wrong with it, to follow
// its name in a message ("is a string of ..."), or "" when it is within l.
func checkValueSize(v cty.Value, l Limits) string {
	s := valueSize{limits: l}
	if s.walk(v) {
		return ""
	}
	if s.number {
		return "holds a number out of range: " + numberRule
	}
	raw, _ := v.Unmark()
	if raw.Type() == cty.String {
		return fmt.Sprintf("is a string of %d bytes; the limit is %d (KEYPROV_MAX_VALUE_BYTES)", s.bytes, l.MaxValueBytes)
	}
	if s.elems > int64(l.MaxElements) {
		return fmt.Sprintf("holds more than %d elements, counted through nested lists, sets, maps and objects; the limit is %d (KEYPROV_MAX_ELEMENTS)", l.MaxElements, l.MaxElements)
	}
	return fmt.Sprintf("holds more than %d bytes of text, counted through nested lists, sets, maps and objects; the limit is %d (KEYPROV_MAX_VALUE_BYTES)", l.MaxValueBytes, l.MaxValueBytes)
}

// satAdd and satMul add and multiply non-negative sizes, saturating
// instead of overflowing.
func satAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

func satMul(a, b int64) int64 {
	if a == 0 || b == 0 {
		return 0
	}
	if a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}

// sizeError is a function's refusal to build a result past the limits.
type sizeError struct {
	n, limit int64
	elems    bool
	// upTo is set when n is an upper bound rather than the exact size.
	upTo bool
}

func (e sizeError) Error() string {
	q := ""
	if e.upTo {
		q = "up to "
	}
	n := fmt.Sprint(e.n)
	if e.n == math.MaxInt64 {
		n, q = "more than "+fmt.Sprint(e.limit), ""
	}
	if e.elems {
		return fmt.Sprintf("the result would hold %s%s elements; the limit is %d (KEYPROV_MAX_ELEMENTS)", q, n, e.limit)
	}
	return fmt.Sprintf("the result would take %s%s bytes of text; the limit is %d (KEYPROV_MAX_VALUE_BYTES)", q, n, e.limit)
}

// firstLine is s up to its first line break, at most 200 bytes.
func firstLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
