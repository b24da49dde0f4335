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
func (e *evaluator) smuggled(expr hcl.Expression, ctx *hcl.EvalContext, tok string) bool {
	found := false
	check := func(s string) {
		if !found && len(s) >= minSmuggled && strings.Contains(tok, s) {
			found = true
		}
	}
	visiting := map[string]bool{}
	var walk func(expr hcl.Expression, ctx *hcl.EvalContext, src []byte)
	walk = func(expr hcl.Expression, ctx *hcl.EvalContext, src []byte) {
		node, ok := expr.(hclsyntax.Node)
		if !ok {
			// JSON syntax: a string holds a template in native syntax.
			node, _ = jsonTemplate(expr.Range().SliceBytes(src))
		}
		if node != nil {
			hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
				if lit, ok := n.(*hclsyntax.LiteralValueExpr); ok {
					if v, _ := lit.Val.Unmark(); v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
						check(v.AsString())
					}
				}
				return nil
			})
		} else if v, diags := expr.Value(nil); !diags.HasErrors() {
			if v, _ := v.Unmark(); v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				check(v.AsString()) // a plain JSON string
			}
		}
		for _, tr := range expr.Variables() {
			switch tr.RootName() {
			case "var", "each":
				// Only strings: walking a collection per instance would
				// cost the size of the variable times the number of keys.
				if v, diags := tr.TraverseAbs(ctx); !diags.HasErrors() && !v.IsMarked() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
					check(v.AsString())
				}
			case "local":
				if len(tr) < 2 {
					continue
				}
				step, ok := tr[1].(hcl.TraverseAttr)
				if !ok || visiting[step.Name] {
					continue
				}
				if d := e.localDecls[step.Name]; d != nil {
					visiting[step.Name] = true
					walk(d.attr.Expr, d.file.ctx, d.file.src.Bytes)
				}
			}
		}
	}
	var src []byte
	for _, f := range e.files {
		if f.src.Name == expr.Range().Filename {
			src = f.src.Bytes
		}
	}
	walk(expr, ctx, src)
	return found
}
