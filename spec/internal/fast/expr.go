package fast

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// A for_each block over 100,000 tenants evaluates its per-instance
// attributes 100,000 times. Most have one of a few shapes: each.key,
// each.value, a map indexed by each.key, or a template of literals and
// those ("Website ${each.key}"). Expr evaluates them from each.key and
// each.value alone, without an HCL evaluation context. Whenever a fast form
// cannot answer exactly as HCL would (a value that is unknown, marked, null
// or not a string where a string is needed, a missing map key), it reports
// false and the caller evaluates the attribute with HCL, which also
// produces the diagnostics.

// Expr is the fast form of an expression that refers to each.
type Expr interface {
	// Eval returns the expression's value for each.key = key and
	// each.value = value, or false when HCL must evaluate it.
	Eval(key, value cty.Value) (cty.Value, bool)
}

type eachRef struct{ key bool }

func (r eachRef) Eval(k, v cty.Value) (cty.Value, bool) {
	if r.key {
		return k, true
	}
	return v, true
}

type constExpr struct{ v cty.Value }

func (c constExpr) Eval(_, _ cty.Value) (cty.Value, bool) { return c.v, true }

type mapLookupExpr struct {
	coll  cty.Value
	marks cty.ValueMarks
	key   Expr
}

func (m mapLookupExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	kv, ok := m.key.Eval(k, v)
	if !ok || !PlainString(kv) || !m.coll.HasIndex(kv).True() {
		return cty.NilVal, false
	}
	return m.coll.Index(kv).WithMarks(m.marks), true
}

type templateExpr struct{ parts []Expr }

func (t templateExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	var b strings.Builder
	for _, p := range t.parts {
		pv, ok := p.Eval(k, v)
		if !ok || !PlainString(pv) {
			return cty.NilVal, false
		}
		b.WriteString(pv.AsString())
	}
	return cty.StringVal(b.String()), true
}

// PlainString reports whether v is a known, unmarked string that is not null.
func PlainString(v cty.Value) bool {
	return !v.IsMarked() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String
}

// Compile returns the fast form of expr (as Fold left it), or nil.
func Compile(expr hcl.Expression) Expr {
	switch x := expr.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		if len(x.Traversal) == 2 && x.Traversal.RootName() == "each" {
			if step, ok := x.Traversal[1].(hcl.TraverseAttr); ok && (step.Name == "key" || step.Name == "value") {
				return eachRef{key: step.Name == "key"}
			}
		}
	case *hclsyntax.LiteralValueExpr:
		return constExpr{x.Val}
	case *lookupExpr:
		if key := Compile(x.Key); key != nil {
			return mapLookupExpr{coll: x.coll, marks: x.marks, key: key}
		}
	case *hclsyntax.IndexExpr:
		// A folded lookup inside a template ("p-${m()[each.key]}").
		if l, ok := newLookup(x).(*lookupExpr); ok {
			return Compile(l)
		}
	case *hclsyntax.TemplateWrapExpr:
		return Compile(x.Wrapped)
	case *hclsyntax.TemplateExpr:
		t := templateExpr{}
		for _, p := range x.Parts {
			f := Compile(p)
			if f == nil {
				return nil
			}
			t.parts = append(t.parts, f)
		}
		return t
	}
	return nil
}

// Fold returns expr with every sub-expression that does not refer to
// each, and calls a function, replaced by its value, computed once for the
// block in ctx, and a folded map indexed by each.key made a direct lookup.
// In
//
//	name = lookup(jsondecode(var.names), each.key, "?")
//
// the variable is decoded once, not once per instance; only the lookup is
// evaluated per instance. A sub-expression whose evaluation fails is left
// as it is, so that its diagnostics come out as usual, from each instance.
func Fold(expr hclsyntax.Expression, ctx *hcl.EvalContext) hcl.Expression {
	folded := replaceEachFree(expr, func(x hclsyntax.Expression) hclsyntax.Expression {
		v, diags := x.Value(ctx)
		if diags.HasErrors() {
			return x
		}
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: x.Range()}
	})
	if ix, ok := folded.(*hclsyntax.IndexExpr); ok {
		return newLookup(ix)
	}
	return folded
}

// FoldedCalls returns the sub-expressions of expr that Fold computes and
// that refer to no variable at all: they can be computed before the
// variables are (Prefetch).
func FoldedCalls(expr hclsyntax.Expression) []hclsyntax.Expression {
	var out []hclsyntax.Expression
	replaceEachFree(expr, func(x hclsyntax.Expression) hclsyntax.Expression {
		if len(x.Variables()) == 0 {
			out = append(out, x)
		}
		return x
	})
	return out
}

// replaceEachFree returns expr with every largest sub-expression that does
// not refer to each and calls a function replaced by f's result: the parts
// Fold computes once per block.
func replaceEachFree(expr hclsyntax.Expression, f func(hclsyntax.Expression) hclsyntax.Expression) hclsyntax.Expression {
	if !RefersToEach(expr) {
		if !callsFunction(expr) {
			return expr // cheap already: a literal or a reference
		}
		return f(expr)
	}
	switch x := expr.(type) {
	case *hclsyntax.IndexExpr:
		c := *x
		c.Collection, c.Key = replaceEachFree(x.Collection, f), replaceEachFree(x.Key, f)
		return &c
	case *hclsyntax.FunctionCallExpr:
		c := *x
		c.Args = make([]hclsyntax.Expression, len(x.Args))
		for i, a := range x.Args {
			c.Args[i] = replaceEachFree(a, f)
		}
		return &c
	case *hclsyntax.TemplateExpr:
		c := *x
		c.Parts = make([]hclsyntax.Expression, len(x.Parts))
		for i, p := range x.Parts {
			c.Parts[i] = replaceEachFree(p, f)
		}
		return &c
	case *hclsyntax.TemplateWrapExpr:
		c := *x
		c.Wrapped = replaceEachFree(x.Wrapped, f)
		return &c
	case *hclsyntax.ParenthesesExpr:
		c := *x
		c.Expression = replaceEachFree(x.Expression, f)
		return &c
	case *hclsyntax.RelativeTraversalExpr:
		c := *x
		c.Source = replaceEachFree(x.Source, f)
		return &c
	case *hclsyntax.ConditionalExpr:
		c := *x
		c.Condition, c.TrueResult, c.FalseResult = replaceEachFree(x.Condition, f), replaceEachFree(x.TrueResult, f), replaceEachFree(x.FalseResult, f)
		return &c
	case *hclsyntax.BinaryOpExpr:
		c := *x
		c.LHS, c.RHS = replaceEachFree(x.LHS, f), replaceEachFree(x.RHS, f)
		return &c
	}
	return expr
}

// RefersToEach reports whether expr refers to each.
func RefersToEach(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "each" {
			return true
		}
	}
	return false
}

func callsFunction(expr hclsyntax.Expression) bool {
	found := false
	hclsyntax.VisitAll(expr, func(n hclsyntax.Node) hcl.Diagnostics {
		if _, ok := n.(*hclsyntax.FunctionCallExpr); ok {
			found = true
		}
		return nil
	})
	return found
}

// lookupExpr is COLLECTION[KEY] where the collection is a known map, folded
// once per block: the lookup is a Go map access instead of hcl.Index's
// generic path. Whenever the direct lookup cannot answer (the key is not a
// known string, or is missing), the original expression is evaluated, so
// its diagnostics are HCL's own.
type lookupExpr struct {
	*hclsyntax.IndexExpr // the folded original, for everything but Value
	coll                 cty.Value
	marks                cty.ValueMarks
}

var _ hcl.Expression = (*lookupExpr)(nil)

// newLookup returns a lookupExpr for x, or x when it does not qualify.
func newLookup(x *hclsyntax.IndexExpr) hcl.Expression {
	lit, ok := x.Collection.(*hclsyntax.LiteralValueExpr)
	if !ok {
		return x
	}
	coll, marks := lit.Val.Unmark()
	if !coll.IsKnown() || coll.IsNull() || !coll.Type().IsMapType() {
		return x
	}
	return &lookupExpr{IndexExpr: x, coll: coll, marks: marks}
}

func (e *lookupExpr) Value(ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	k, diags := e.Key.Value(ctx)
	if diags.HasErrors() || k.IsMarked() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
		return e.IndexExpr.Value(ctx)
	}
	if !e.coll.HasIndex(k).True() {
		return e.IndexExpr.Value(ctx)
	}
	return e.coll.Index(k).WithMarks(e.marks), nil
}

// ToSetStrings evaluates the common for_each = toset(LIST OF STRINGS)
// directly. The result is what toset gives (unique strings, sorted), but
// iterating a cty set sorts it with a generic comparator, which costs
// seconds for 100,000 tenants; sorting Go strings costs milliseconds. It
// reports false for anything else, which is then evaluated as usual.
func ToSetStrings(expr hcl.Expression, ctx *hcl.EvalContext) ([][2]cty.Value, bool) {
	call, ok := expr.(*hclsyntax.FunctionCallExpr)
	if !ok || call.Name != "toset" || len(call.Args) != 1 || call.ExpandFinal {
		return nil, false
	}
	v, diags := call.Args[0].Value(ctx)
	if diags.HasErrors() || v.IsMarked() || !v.IsKnown() || v.IsNull() || !(v.Type().IsListType() || v.Type().IsTupleType()) {
		return nil, false
	}
	seen := make(map[string]cty.Value, v.LengthInt())
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if el.IsMarked() || !el.IsKnown() || el.IsNull() || el.Type() != cty.String {
			return nil, false
		}
		seen[el.AsString()] = el
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][2]cty.Value, len(keys))
	for i, k := range keys {
		out[i] = [2]cty.Value{seen[k], seen[k]}
	}
	return out, true
}
