package spec

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Most per-instance attributes of a for_each block have one of a few
// shapes: each.key, each.value, a folded map indexed by each.key, or a
// template of literals and those ("Website ${each.key}"). fastExpr
// evaluates them from each.key and each.value alone, without an HCL
// evaluation context; an instance whose attributes all have such forms
// never builds one. Whenever a fast form cannot answer exactly as HCL would
// (a value that is unknown, marked, null or not a string where a string is
// needed, a missing map key), it reports false and the attribute is
// evaluated by HCL, which also produces the diagnostics.
type fastExpr interface {
	eval(key, value cty.Value) (cty.Value, bool)
}

type eachRef struct{ key bool }

func (r eachRef) eval(k, v cty.Value) (cty.Value, bool) {
	if r.key {
		return k, true
	}
	return v, true
}

type constExpr struct{ v cty.Value }

func (c constExpr) eval(_, _ cty.Value) (cty.Value, bool) { return c.v, true }

type mapLookupExpr struct {
	coll  cty.Value
	marks cty.ValueMarks
	key   fastExpr
}

func (m mapLookupExpr) eval(k, v cty.Value) (cty.Value, bool) {
	kv, ok := m.key.eval(k, v)
	if !ok || !plainString(kv) || !m.coll.HasIndex(kv).True() {
		return cty.NilVal, false
	}
	return m.coll.Index(kv).WithMarks(m.marks), true
}

// rawFastExpr is a fastExpr that can also give its value unmarked, with
// the marks it would carry, without building the marked value. A token
// read from a secrets map by 100,000 instances would otherwise be marked
// and unmarked again: each a copy of its set of marks.
type rawFastExpr interface {
	evalRaw(key, value cty.Value) (raw cty.Value, marks cty.ValueMarks, ok bool)
}

// evalRaw is eval without the marks applied; they are m's own, shared by
// every instance: not to be modified.
func (m mapLookupExpr) evalRaw(k, v cty.Value) (cty.Value, cty.ValueMarks, bool) {
	kv, ok := m.key.eval(k, v)
	if !ok || !plainString(kv) || !m.coll.HasIndex(kv).True() {
		return cty.NilVal, nil, false
	}
	el := m.coll.Index(kv)
	if el.IsMarked() {
		return cty.NilVal, nil, false // marks of its own: the general path merges them
	}
	return el, m.marks, true
}

type templateExpr struct{ parts []fastExpr }

func (t templateExpr) eval(k, v cty.Value) (cty.Value, bool) {
	var b strings.Builder
	for _, p := range t.parts {
		pv, ok := p.eval(k, v)
		if !ok || !plainString(pv) {
			return cty.NilVal, false
		}
		b.WriteString(pv.AsString())
	}
	return cty.StringVal(b.String()), true
}

func plainString(v cty.Value) bool {
	return !v.IsMarked() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String
}

// compileFast returns the fast form of expr, or nil.
func compileFast(expr hcl.Expression) fastExpr {
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
		if key := compileFast(x.Key); key != nil {
			return mapLookupExpr{coll: x.coll, marks: x.marks, key: key}
		}
	case *hclsyntax.IndexExpr:
		// A folded lookup inside a template ("p-${m()[each.key]}").
		if l, ok := newLookup(x).(*lookupExpr); ok {
			return compileFast(l)
		}
	case *hclsyntax.TemplateWrapExpr:
		return compileFast(x.Wrapped)
	case *hclsyntax.TemplateExpr:
		t := templateExpr{}
		for _, p := range x.Parts {
			f := compileFast(p)
			if f == nil {
				return nil
			}
			t.parts = append(t.parts, f)
		}
		return t
	}
	return nil
}

// scope evaluates the attributes of one instance: through their fast forms
// where they have one, otherwise with HCL in an evaluation context built on
// first use.
type scope struct {
	in  *instance
	ctx *hcl.EvalContext
}

// Ctx returns the instance's evaluation context: the file's, with each for
// a for_each instance.
func (s *scope) Ctx() *hcl.EvalContext {
	if s.ctx == nil {
		s.ctx = s.in.block.file.ctx
		if s.in.ref.HasForEach {
			s.ctx = s.ctx.NewChild()
			s.ctx.Variables = map[string]cty.Value{"each": cty.ObjectVal(map[string]cty.Value{"key": s.in.eachKey, "value": s.in.eachValue})}
		}
	}
	return s.ctx
}

// value is evalAttr for the instance.
func (s *scope) value(attr *hcl.Attribute, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	if f := s.in.state.fast[attr.Name]; f != nil {
		if v, ok := f.eval(s.in.eachKey, s.in.eachValue); ok {
			if cv, err := convertValue(v, ty); err == nil {
				return cv, nil
			}
		}
	}
	return evalAttr(attr, s.Ctx(), ty)
}

// rawValue is value unmarked, with its marks, which may be shared: the
// caller must not modify them.
func (s *scope) rawValue(attr *hcl.Attribute, ty cty.Type) (cty.Value, cty.ValueMarks, hcl.Diagnostics) {
	if f, ok := s.in.state.fast[attr.Name].(rawFastExpr); ok {
		if raw, marks, ok := f.evalRaw(s.in.eachKey, s.in.eachValue); ok && raw.Type().Equals(ty) {
			return raw, marks, nil
		}
	}
	v, diags := s.value(attr, ty)
	raw, marks := v.Unmark()
	return raw, marks, diags
}
