package spec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// minSmuggled is the length from which a string written in the spec and
// found in a token marks the token as written in the spec. It is half a
// token body: long enough that a prefix ("wat_") or an environment
// variable's name never counts.
const minSmuggled = 16

// smuggled reports whether tok, the value of a token expression that
// carries the secret mark, holds a string written in the spec: a literal of
// the expression (or of a local it refers to), or a string value of a
// variable or of each.key/each.value that it uses. The mark alone does not prove that
// env() or file() produced the value: HCL marks a conditional's result with
// the marks of both branches, so `cond ? "wat_…" : env("X")` is marked even
// when it yields the literal, and when cond depends on a secret, offline
// validation cannot tell either.
//
// expr is the expression as written; folded, when not nil, is the same with
// its each-free parts computed once (fold.go), which also exposes constants
// a function made from literals (upper("wat_…")).
func (e *evaluator) smuggled(expr, folded hcl.Expression, sc *scope, tok string) bool {
	// The strings of an expression are the same for every for_each
	// instance; only each.key and each.value differ.
	type smuggleKey struct{ expr hcl.Expression }
	var scan *smuggleScan
	if v, ok := e.memos.Load(smuggleKey{expr}); ok {
		scan = v.(*smuggleScan)
	} else {
		scan = e.scanStrings(expr, sc.Ctx())
		if folded != nil && folded != expr {
			scan.strs = append(scan.strs, e.scanStrings(folded, sc.Ctx()).strs...)
		}
		e.memos.Store(smuggleKey{expr}, scan)
	}
	for _, s := range scan.strs {
		if strings.Contains(tok, s) {
			return true
		}
	}
	for _, tr := range scan.each {
		if s, ok := sc.traversalString(tr); ok && len(s) >= minSmuggled && strings.Contains(tok, s) {
			return true
		}
	}
	return false
}

// smuggleScan is what smuggled compares a token with.
type smuggleScan struct {
	// strs are the literals of the expression and of the locals it
	// uses, and the string values of the variables they use.
	strs []string
	// each are the expression's references to each.key and each.value.
	each []hcl.Traversal
}

// scanStrings collects the strings of expr that could end up in a token.
func (e *evaluator) scanStrings(expr hcl.Expression, ctx *hcl.EvalContext) *smuggleScan {
	sc := &smuggleScan{}
	add := func(s string) {
		if len(s) >= minSmuggled {
			sc.strs = append(sc.strs, s)
		}
	}
	e.walkWithLocals(expr, ctx, func(expr hcl.Expression, ctx *hcl.EvalContext, src []byte, top bool) {
		node, ok := expr.(hclsyntax.Node)
		if !ok {
			// JSON syntax: a string holds a template in native syntax.
			node, _ = jsonTemplate(expr.Range().SliceBytes(src))
		}
		if node != nil {
			hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
				// A marked literal is a value that env() or file() produced,
				// folded into the expression: a secret, not a literal.
				if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok && !lit.Val.IsMarked() {
					if v := lit.Val; v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
						add(v.AsString())
					}
				}
				return nil
			})
		} else if v, diags := expr.Value(nil); !diags.HasErrors() {
			if v, _ := v.Unmark(); v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				add(v.AsString()) // a plain JSON string
			}
		}
		for _, tr := range expr.Variables() {
			switch tr.RootName() {
			case "var":
				if s, ok := traversalString(tr, ctx); ok {
					add(s)
				}
			case "each":
				if top {
					sc.each = append(sc.each, tr)
				}
			}
		}
	})
	return sc
}

// traversalString returns the value of tr in ctx when it is a known string
// that no env() or file() produced. Only strings: walking a collection per
// instance would cost the size of the variable times the number of keys.
func traversalString(tr hcl.Traversal, ctx *hcl.EvalContext) (string, bool) {
	v, diags := tr.TraverseAbs(ctx)
	if diags.HasErrors() || v.IsMarked() || v.Type() != cty.String || !v.IsKnown() || v.IsNull() {
		return "", false
	}
	return v.AsString(), true
}
