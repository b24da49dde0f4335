package spec

import (
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// preflight refuses expr before it is evaluated when one of the values its
// templates and for expressions would build is past l. Templates and for
// expressions build values without a function, so no function can refuse
// them: a chain of locals that each double a string would otherwise build
// the first string past the limit (twice the limit) before the local is
// measured, and "${local.a}" written ten thousand times in one template ten
// thousand times the limit.
//
// The size it works out for a value is a lower bound, measured as
// checkValueSize measures values, from what the expression refers to: the
// text of a template is the sum of its literal parts and of the strings it
// interpolates from variables, locals and each; a for expression has one
// element per element of a collection it can count without evaluating
// anything (a variable or local, a literal list, range(), setproduct(),
// keys(), values()...), each the size of its body. What it cannot count (a
// function's result, what a for expression with an if clause keeps) counts
// as nothing, so a value it refuses would have been past the limit, and
// what it misses is measured after evaluation.
//
// It also counts the times the bodies of for expressions nested in one
// another would run, if clauses and function calls notwithstanding (the
// condition runs for every element), and refuses more than MaxElements:
// [for a in range(1000) : [for b in range(1000) : [...] if true] if true]
// keeps nothing it could size, but would build a billion elements. For
// that count it evaluates the collection of a nested for expression when it
// cannot count it otherwise (toset(...)).
//
// Expressions in HCL's JSON syntax are only measured after evaluation.
func preflight(expr hcl.Expression, ctx *hcl.EvalContext, l Limits) *hcl.Diagnostic {
	x, ok := expr.(hclsyntax.Expression)
	if !ok || !buildsValues(x) {
		return nil
	}
	f := &flight{ctx: ctx, l: l}
	hclsyntax.Walk(x, f)
	return f.diag
}

// buildsValues reports whether x holds a template with interpolations, or
// a for expression. It is called for every attribute of every key, and
// walks the usual expressions itself, without allocating.
func buildsValues(x hclsyntax.Expression) bool {
	anyBuilds := func(xs []hclsyntax.Expression) bool {
		for _, x := range xs {
			if buildsValues(x) {
				return true
			}
		}
		return false
	}
	switch x := x.(type) {
	case *hclsyntax.LiteralValueExpr, *hclsyntax.ScopeTraversalExpr:
		return false
	case *hclsyntax.ForExpr, *hclsyntax.TemplateJoinExpr:
		return true
	case *hclsyntax.TemplateExpr:
		for _, p := range x.Parts {
			if _, lit := p.(*hclsyntax.LiteralValueExpr); !lit {
				return true
			}
		}
		return false
	case *hclsyntax.TemplateWrapExpr:
		return buildsValues(x.Wrapped)
	case *hclsyntax.ParenthesesExpr:
		return buildsValues(x.Expression)
	case *hclsyntax.TupleConsExpr:
		return anyBuilds(x.Exprs)
	case *hclsyntax.ObjectConsExpr:
		for _, it := range x.Items {
			if buildsValues(it.KeyExpr) || buildsValues(it.ValueExpr) {
				return true
			}
		}
		return false
	case *hclsyntax.ObjectConsKeyExpr:
		return buildsValues(x.Wrapped)
	case *hclsyntax.FunctionCallExpr:
		return anyBuilds(x.Args)
	case *hclsyntax.ConditionalExpr:
		return buildsValues(x.Condition) || buildsValues(x.TrueResult) || buildsValues(x.FalseResult)
	case *hclsyntax.BinaryOpExpr:
		return buildsValues(x.LHS) || buildsValues(x.RHS)
	case *hclsyntax.UnaryOpExpr:
		return buildsValues(x.Val)
	case *hclsyntax.IndexExpr:
		return buildsValues(x.Collection) || buildsValues(x.Key)
	case *hclsyntax.RelativeTraversalExpr:
		return buildsValues(x.Source)
	}
	found := false
	hclsyntax.VisitAll(x, func(n hclsyntax.Node) hcl.Diagnostics {
		if y, ok := n.(hclsyntax.Expression); ok && y != x {
			found = found || buildsValues(y)
		}
		return nil
	})
	return found
}

// size is a lower bound of the size of the value a node evaluates to: its
// text and elements, counted through nesting as checkValueSize counts them,
// and, for a for expression, the text of its elements joined (what a
// template's %{for} directive makes of it). runs is a lower bound of the
// times evaluating the node runs the body of a for expression, counted
// through nesting: the work a for expression with an if clause does,
// whatever it keeps.
type size struct {
	text, elems, joined int64
	runs                int64
}

func (a size) plus(b size) size {
	return size{text: satAdd(a.text, b.text), elems: satAdd(a.elems, b.elems)}
}

// flight is the hclsyntax.Walker of preflight: it works out sizes bottom
// up, each node's from its children's.
type flight struct {
	ctx    *hcl.EvalContext
	l      Limits
	stack  []frame
	shadow []map[string]struct{} // names bound by enclosing for expressions
	diag   *hcl.Diagnostic
}

type frame struct {
	kids []kid
}

type kid struct {
	node hclsyntax.Node
	size size
}

func (f *flight) Enter(n hclsyntax.Node) hcl.Diagnostics {
	f.stack = append(f.stack, frame{})
	if cs, ok := n.(hclsyntax.ChildScope); ok {
		f.shadow = append(f.shadow, cs.LocalNames)
	}
	return nil
}

func (f *flight) Exit(n hclsyntax.Node) hcl.Diagnostics {
	fr := f.stack[len(f.stack)-1]
	f.stack = f.stack[:len(f.stack)-1]
	if _, ok := n.(hclsyntax.ChildScope); ok {
		f.shadow = f.shadow[:len(f.shadow)-1]
	}
	sz := f.node(n, fr.kids)
	switch n.(type) {
	case *hclsyntax.ForExpr, *hclsyntax.ConditionalExpr:
		// node counted them
	default:
		sz.runs = 0
		for _, k := range fr.kids {
			sz.runs = satAdd(sz.runs, k.size.runs)
		}
	}
	if f.diag == nil {
		switch {
		case sz.text > f.l.MaxValueBytes:
			f.diag = errorf(n.Range().Ptr(), "Value too large",
				"This expression would produce at least %d bytes of text; the limit is %d (KEYPROV_MAX_VALUE_BYTES).", sz.text, f.l.MaxValueBytes)
		case sz.elems > int64(f.l.MaxElements):
			f.diag = errorf(n.Range().Ptr(), "Value too large",
				"This expression would produce at least %d elements, counted through nested lists and objects; the limit is %d (KEYPROV_MAX_ELEMENTS).", sz.elems, f.l.MaxElements)
		case sz.runs > int64(f.l.MaxElements):
			f.diag = errorf(n.Range().Ptr(), "Value too large",
				"This expression would evaluate the body of its for expressions at least %d times, counted through nesting; the limit is %d (KEYPROV_MAX_ELEMENTS).", sz.runs, f.l.MaxElements)
		}
	}
	if len(f.stack) > 0 {
		parent := &f.stack[len(f.stack)-1]
		parent.kids = append(parent.kids, kid{n, sz})
	}
	return nil
}

// node works out the size of n's value from its children's.
func (f *flight) node(n hclsyntax.Node, kids []kid) size {
	of := func(x hclsyntax.Node) size {
		for _, k := range kids {
			// ChildScope holds a map: it cannot be compared with ==.
			if cs, ok := k.node.(hclsyntax.ChildScope); ok {
				if cs.Expr == x {
					return k.size
				}
			} else if k.node == x {
				return k.size
			}
		}
		return size{}
	}
	sum := func() size {
		var s size
		for _, k := range kids {
			s = s.plus(k.size)
		}
		return s
	}
	switch n := n.(type) {
	case *hclsyntax.LiteralValueExpr:
		if n.Val.Type() == cty.String && n.Val.IsKnown() && !n.Val.IsNull() {
			return size{text: int64(len(n.Val.AsString()))}
		}
	case *hclsyntax.ScopeTraversalExpr:
		// A string's length, or a collection's elements (not those
		// nested in them: walking a large value for every instance of a
		// for_each block would cost more than it saves).
		if len(n.Traversal) < 2 {
			return size{} // var or local as a whole, or a bare key
		}
		if v, ok := f.lookup(n.Traversal); ok {
			if v.Type() == cty.String {
				return size{text: int64(len(v.AsString()))}
			}
			if k, ok := lengthOf(v); ok {
				return size{elems: k}
			}
		}
	case *hclsyntax.TemplateExpr:
		var s size
		for _, k := range kids {
			s.text = satAdd(s.text, k.size.text)
		}
		return s
	case *hclsyntax.TemplateWrapExpr:
		return size{text: of(n.Wrapped).text}
	case *hclsyntax.TemplateJoinExpr:
		return size{text: of(n.Tuple).joined}
	case *hclsyntax.ParenthesesExpr:
		return of(n.Expression)
	case hclsyntax.ChildScope:
		return of(n.Expr)
	case *hclsyntax.ConditionalExpr:
		t, e := of(n.TrueResult), of(n.FalseResult)
		return size{text: min(t.text, e.text), elems: min(t.elems, e.elems), joined: min(t.joined, e.joined),
			runs: satAdd(of(n.Condition).runs, min(t.runs, e.runs))}
	case *hclsyntax.TupleConsExpr:
		s := sum()
		s.elems = satAdd(s.elems, int64(len(n.Exprs)))
		return s
	case *hclsyntax.ObjectConsKeyExpr:
		// A bare name is the key itself, not a variable.
		if tr, ok := n.Wrapped.(*hclsyntax.ScopeTraversalExpr); ok && !n.ForceNonLiteral && len(tr.Traversal) == 1 {
			return size{text: int64(len(tr.Traversal.RootName()))}
		}
		return size{text: of(n.Wrapped).text}
	case *hclsyntax.ObjectConsExpr:
		s := sum()
		s.elems = satAdd(s.elems, int64(len(n.Items)))
		return s
	case *hclsyntax.ForExpr:
		val, key, cond := of(n.ValExpr), of(n.KeyExpr), of(n.CondExpr)
		// The body runs once per element, whatever the if clause says.
		bodyRuns := satAdd(1, satAdd(val.runs, satAdd(key.runs, cond.runs)))
		times := f.count(n.CollExpr)
		if times == 0 && (bodyRuns > 1 || len(f.shadow) > 0) {
			// Nested: the runs multiply. Evaluate the collection.
			times = f.length(n.CollExpr)
		}
		runs := satAdd(of(n.CollExpr).runs, satMul(times, bodyRuns))
		if n.CondExpr != nil {
			return size{runs: runs} // the if clause may keep any number of elements
		}
		body := size{text: val.text, elems: satAdd(val.elems, 1)}
		if n.KeyExpr != nil {
			body.text = satAdd(body.text, key.text)
		}
		return size{text: satMul(body.text, times), elems: satMul(body.elems, times), joined: satMul(val.text, times), runs: runs}
	}
	return size{}
}

// length evaluates x, the collection of a for expression nested in
// another (or holding one), for its length: those multiply. It returns 0
// when x refers to a name bound by an enclosing for expression, or fails.
func (f *flight) length(x hclsyntax.Expression) int64 {
	if f.ctx == nil || f.diag != nil {
		return 0
	}
	for _, tr := range x.Variables() {
		if f.shadowed(tr.RootName()) {
			return 0
		}
	}
	v, diags := x.Value(f.ctx)
	if diags.HasErrors() {
		return 0
	}
	n, _ := lengthOf(v)
	return n
}

// lookup evaluates a traversal whose root is in the evaluation context
// (not a name bound by a for expression around it).
func (f *flight) lookup(tr hcl.Traversal) (cty.Value, bool) {
	if f.ctx == nil || f.shadowed(tr.RootName()) {
		return cty.NilVal, false
	}
	v, diags := tr.TraverseAbs(f.ctx)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	v, ok := usable(v)
	return v, ok
}

func (f *flight) shadowed(name string) bool {
	for _, s := range f.shadow {
		if _, ok := s[name]; ok {
			return true
		}
	}
	return false
}

// count is the number of elements of the collection x evaluates to, when
// it can be known without evaluating x: 0 when it cannot.
func (f *flight) count(x hclsyntax.Expression) int64 {
	switch x := x.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		if v, ok := f.lookup(x.Traversal); ok {
			if n, ok := lengthOf(v); ok {
				return n
			}
		}
	case *hclsyntax.TupleConsExpr:
		return int64(len(x.Exprs))
	case *hclsyntax.ObjectConsExpr:
		return int64(len(x.Items))
	case *hclsyntax.ParenthesesExpr:
		return f.count(x.Expression)
	case *hclsyntax.FunctionCallExpr:
		switch x.Name {
		case "keys", "values", "tolist", "sort", "reverse":
			if len(x.Args) == 1 && !x.ExpandFinal {
				return f.count(x.Args[0])
			}
		case "setproduct":
			if x.ExpandFinal {
				return 0
			}
			n := int64(1)
			for _, a := range x.Args {
				n = satMul(n, f.count(a))
			}
			return n
		case "range":
			return f.rangeCount(x)
		}
	}
	return 0
}

// rangeCount is the length of range(...) when its arguments are numbers
// written in the spec or read from variables and locals: cty refuses
// more than 1024.
func (f *flight) rangeCount(x *hclsyntax.FunctionCallExpr) int64 {
	if x.ExpandFinal || len(x.Args) == 0 || len(x.Args) > 3 {
		return 0
	}
	nums := make([]*big.Float, len(x.Args))
	for i, a := range x.Args {
		var v cty.Value
		switch a := a.(type) {
		case *hclsyntax.LiteralValueExpr:
			v = a.Val
		case *hclsyntax.ScopeTraversalExpr:
			var ok bool
			if v, ok = f.lookup(a.Traversal); !ok {
				return 0
			}
		default:
			return 0
		}
		if v.Type() != cty.Number || !v.IsKnown() || v.IsNull() || v.AsBigFloat().IsInf() {
			return 0
		}
		nums[i] = v.AsBigFloat()
	}
	start, end, step := new(big.Float), nums[0], big.NewFloat(1)
	switch len(nums) {
	case 2:
		start, end = nums[0], nums[1]
	case 3:
		start, end, step = nums[0], nums[1], nums[2]
	}
	if step.Sign() == 0 {
		return 0
	}
	q := new(big.Float).Sub(end, start)
	if len(nums) < 3 {
		q.Abs(q)
	} else {
		q.Quo(q, step)
	}
	if q.Sign() <= 0 || q.Cmp(big.NewFloat(1024)) > 0 {
		return 0 // nothing, or an error
	}
	n, _ := q.Int64()
	if !q.IsInt() {
		n++
	}
	return n
}

var _ hclsyntax.Walker = (*flight)(nil)
