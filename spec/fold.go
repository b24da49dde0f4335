package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fold returns expr with every sub-expression that does not refer to
// each, and calls a function, replaced by its value, computed once for the
// block in ctx. In
//
//	token = jsondecode(file("secrets.json"))[each.key]
//
// the file is read and decoded once, not once per instance; only the index
// is evaluated per instance. Values keep their marks, so a folded secret is
// still a secret. A sub-expression whose evaluation fails is left as it is,
// so that its diagnostics come out as usual.
func fold(expr hclsyntax.Expression, ctx *hcl.EvalContext) hclsyntax.Expression {
	return replaceEachFree(expr, func(x hclsyntax.Expression) hclsyntax.Expression {
		v, diags := x.Value(ctx)
		if diags.HasErrors() {
			return x
		}
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: x.Range()}
	})
}

// replaceEachFree returns expr with every largest sub-expression that does
// not refer to each and calls a function replaced by f's result: the parts
// fold computes once per block (prefetch starts them even earlier).
func replaceEachFree(expr hclsyntax.Expression, f func(hclsyntax.Expression) hclsyntax.Expression) hclsyntax.Expression {
	if !refersToEach(expr) {
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
