package fast

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/customdecode"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/function"
)

// A for_each block over 100,000 tenants evaluates its per-instance
// attributes 100,000 times. Expr evaluates them from each.key and
// each.value alone, without an HCL evaluation context: references to
// each, variables and locals (constants of the block), literals, templates,
// conditionals, operators, function calls, indexes and attribute steps,
// each computed as hclsyntax computes it (the same conversions, the same
// operation and function implementations). Whenever a fast form cannot
// answer exactly as HCL would, because a value is unknown, marked or null,
// a conversion or a call fails, or a value is past the limits, it reports
// false and the caller evaluates the attribute with HCL, which also
// produces the diagnostics.

// Expr is the fast form of an expression that refers to each.
type Expr interface {
	// Eval returns the expression's value for each.key = key and
	// each.value = value, or false when HCL must evaluate it.
	Eval(key, value cty.Value) (cty.Value, bool)
}

// Limits bound the values a fast form produces: past them it reports
// false, and HCL's evaluation (spec's preflight, then the measure of the
// value) reports them. Bytes bounds a string, Elements a collection.
type Limits struct {
	Bytes    int64
	Elements int
}

// Compile returns the fast form of expr (as Fold left it), or nil. ctx is
// the block's evaluation context, without each: variables, locals and
// functions are looked up in it once, here; direct holds the functions
// that can be called directly, by name. With a nil ctx, only each,
// literals, templates, conditionals, operators and indexes have fast
// forms.
func Compile(expr hcl.Expression, ctx *hcl.EvalContext, l Limits, direct map[string]Direct) Expr {
	c := compiler{ctx: ctx, l: l, direct: direct}
	return c.compile(expr)
}

type compiler struct {
	ctx    *hcl.EvalContext
	l      Limits
	direct map[string]Direct
}

func (c *compiler) compile(expr hcl.Expression) Expr {
	switch x := expr.(type) {
	case *hclsyntax.ScopeTraversalExpr:
		return c.traversal(x.Traversal)
	case *hclsyntax.LiteralValueExpr:
		if !c.usable(x.Val) {
			return nil
		}
		return constExpr{x.Val}
	case *lookupExpr:
		if key := c.compile(x.Key); key != nil {
			return mapLookupExpr{l: c.l, coll: x.coll, marks: x.marks, key: key}
		}
	case *hclsyntax.IndexExpr:
		// A folded lookup inside a template ("p-${m()[each.key]}").
		if l, ok := newLookup(x).(*lookupExpr); ok {
			return c.compile(l)
		}
		coll, key := c.compile(x.Collection), c.compile(x.Key)
		if coll == nil || key == nil {
			return nil
		}
		return indexExpr{c.l, coll, key}
	case *hclsyntax.RelativeTraversalExpr:
		if src := c.compile(x.Source); src != nil {
			return stepsExpr{c.l, src, x.Traversal}
		}
	case *hclsyntax.ParenthesesExpr:
		return c.compile(x.Expression)
	case *hclsyntax.TemplateWrapExpr:
		return c.compile(x.Wrapped)
	case *hclsyntax.TemplateExpr:
		t := templateExpr{l: c.l}
		for _, p := range x.Parts {
			f := c.compile(p)
			if f == nil {
				return nil
			}
			t.parts = append(t.parts, f)
			if s, ok := f.(stringExpr); ok && len(t.parts) <= maxStringParts {
				t.strs = append(t.strs, s)
			}
		}
		if len(t.strs) != len(t.parts) {
			t.strs = nil
		}
		return t
	case *hclsyntax.ConditionalExpr:
		cond, t, f := c.compile(x.Condition), c.compile(x.TrueResult), c.compile(x.FalseResult)
		if cond == nil || t == nil || f == nil {
			return nil
		}
		return condExpr{cond, t, f}
	case *hclsyntax.BinaryOpExpr:
		lhs, rhs := c.compile(x.LHS), c.compile(x.RHS)
		if lhs == nil || rhs == nil || len(x.Op.Impl.Params()) != 2 {
			return nil
		}
		params := x.Op.Impl.Params()
		return binaryExpr{c.l, x.Op, params[0].Type, params[1].Type, lhs, rhs}
	case *hclsyntax.UnaryOpExpr:
		v := c.compile(x.Val)
		if v == nil || len(x.Op.Impl.Params()) != 1 {
			return nil
		}
		return unaryExpr{c.l, x.Op, x.Op.Impl.Params()[0].Type, v}
	case *hclsyntax.FunctionCallExpr:
		return c.call(x)
	}
	return nil
}

// traversal compiles each.key and each.value, with any steps after them,
// and references to anything else in the block's context (variables,
// locals) as constants.
func (c *compiler) traversal(tr hcl.Traversal) Expr {
	if tr.RootName() != "each" {
		if c.ctx == nil {
			return nil
		}
		v, diags := tr.TraverseAbs(c.ctx)
		if diags.HasErrors() || !c.usable(v) || v.ContainsMarked() {
			return nil
		}
		return constExpr{v}
	}
	if len(tr) < 2 {
		return nil
	}
	step, ok := tr[1].(hcl.TraverseAttr)
	if !ok || (step.Name != "key" && step.Name != "value") {
		return nil
	}
	e := eachRef{l: c.l, key: step.Name == "key"}
	if len(tr) > 2 {
		e.steps = make(hcl.Traversal, len(tr)-2)
		copy(e.steps, tr[2:])
	}
	return e
}

// call compiles a call of a function of the block's context, except
// env() and file() (never called outside a token reference) and functions
// that take expressions (try, can).
func (c *compiler) call(x *hclsyntax.FunctionCallExpr) Expr {
	if c.ctx == nil || x.ExpandFinal {
		return nil
	}
	name := x.Name
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	if name == "env" || name == "file" || name == "try" || name == "can" {
		return nil
	}
	var f function.Function
	found := false
	for ctx := c.ctx; ctx != nil && !found; ctx = ctx.Parent() {
		f, found = ctx.Functions[x.Name]
	}
	if !found {
		return nil
	}
	params, varParam := f.Params(), f.VarParam()
	if len(x.Args) < len(params) || (varParam == nil && len(x.Args) > len(params)) {
		return nil
	}
	d := c.direct[x.Name]
	call := callExpr{l: c.l, f: f, direct: d.Call, types: make([]cty.Type, len(x.Args))}
	for i, a := range x.Args {
		p := varParam
		if i < len(params) {
			p = &params[i]
		}
		if customdecode.CustomExpressionDecoderForType(p.Type) != nil {
			return nil
		}
		arg := c.compile(a)
		if arg == nil {
			return nil
		}
		call.args = append(call.args, arg)
		call.types[i] = p.Type
	}
	if d.Builtin != NoBuiltin && d.Call != nil {
		if b := builtin(d.Builtin, c.l, d.Call, call.args); b != nil {
			return b
		}
	}
	return call
}

// usable reports whether v may enter a fast form: known, not
// null, not marked (marks inside a value pass as HCL passes them), and
// within the limits.
func (c *compiler) usable(v cty.Value) bool { return usable(v, c.l) }

func usable(v cty.Value, l Limits) bool {
	if v == cty.NilVal || v.IsMarked() || v.IsNull() || !v.IsKnown() {
		return false
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return int64(len(v.AsString())) <= l.Bytes
	case ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType():
		return v.LengthInt() <= l.Elements
	}
	return true
}

type eachRef struct {
	l     Limits
	key   bool
	steps hcl.Traversal // after each.key or each.value
}

func (r eachRef) Eval(k, v cty.Value) (cty.Value, bool) {
	if r.key {
		v = k
	}
	if len(r.steps) > 0 {
		var diags hcl.Diagnostics
		if v.IsMarked() {
			return cty.NilVal, false
		}
		if v, diags = r.steps.TraverseRel(v); diags.HasErrors() {
			return cty.NilVal, false
		}
	}
	if !usable(v, r.l) {
		return cty.NilVal, false
	}
	return v, true
}

type constExpr struct{ v cty.Value }

func (c constExpr) Eval(_, _ cty.Value) (cty.Value, bool) { return c.v, true }

// mapLookupExpr is a folded map indexed by a key: a Go map access.
type mapLookupExpr struct {
	l     Limits
	coll  cty.Value
	marks cty.ValueMarks
	key   Expr
}

func (m mapLookupExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	kv, ok := m.key.Eval(k, v)
	if !ok || !PlainString(kv) || !m.coll.HasIndex(kv).True() {
		return cty.NilVal, false
	}
	el := m.coll.Index(kv)
	if !usable(el, m.l) {
		return cty.NilVal, false
	}
	return el.WithMarks(m.marks), true
}

// indexExpr is COLLECTION[KEY], as hclsyntax.IndexExpr computes it (hcl.Index).
type indexExpr struct {
	l         Limits
	coll, key Expr
}

func (x indexExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	coll, ok := x.coll.Eval(k, v)
	if !ok || coll.IsMarked() {
		return cty.NilVal, false
	}
	key, ok := x.key.Eval(k, v)
	if !ok || key.IsMarked() {
		return cty.NilVal, false
	}
	r, diags := hcl.Index(coll, key, nil)
	if diags.HasErrors() || !usable(r, x.l) {
		return cty.NilVal, false
	}
	return r, true
}

// stepsExpr is SOURCE.attr[...]: hclsyntax.RelativeTraversalExpr.
type stepsExpr struct {
	l     Limits
	src   Expr
	steps hcl.Traversal
}

func (x stepsExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	src, ok := x.src.Eval(k, v)
	if !ok || src.IsMarked() {
		return cty.NilVal, false
	}
	r, diags := x.steps.TraverseRel(src)
	if diags.HasErrors() || !usable(r, x.l) {
		return cty.NilVal, false
	}
	return r, true
}

// templateExpr is a template of interpolations: hclsyntax.TemplateExpr,
// which converts every part to a string.
type templateExpr struct {
	l     Limits
	parts []Expr
	strs  []stringExpr // the parts, when every one can give a string (evalStrings)
}

func (t templateExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	if t.strs != nil {
		if r, ok := t.evalStrings(k, v); ok {
			return r, true
		}
	}
	var b strings.Builder
	for _, p := range t.parts {
		pv, ok := p.Eval(k, v)
		if !ok || pv.IsMarked() {
			return cty.NilVal, false
		}
		if pv.Type() != cty.String {
			var err error
			if pv, err = convert.Convert(pv, cty.String); err != nil || !PlainString(pv) {
				return cty.NilVal, false
			}
		}
		b.WriteString(pv.AsString())
		if int64(b.Len()) > t.l.Bytes {
			return cty.NilVal, false
		}
	}
	return cty.StringVal(b.String()), true
}

// condExpr is COND ? TRUE : FALSE: hclsyntax.ConditionalExpr, which
// evaluates both results, and unifies their types. Results of different
// types are left to HCL.
//
// When the chosen result is a string and the other a template of
// literals, each.key and each.value (strings), the other is not built:
// HCL would give a string (or, from an error it drops, a value of no
// type), so the result is the chosen one, and what HCL's preflight counts
// of the template, its length, is summed instead (within the limits).
type condExpr struct{ cond, t, f Expr }

func (c condExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	cond, ok := c.cond.Eval(k, v)
	if !ok || cond.IsMarked() || cond.Type() != cty.Bool {
		return cty.NilVal, false
	}
	chosen, other := c.t, c.f
	if cond.False() {
		chosen, other = c.f, c.t
	}
	r, ok := chosen.Eval(k, v)
	if !ok || r.IsMarked() {
		return cty.NilVal, false
	}
	if t, isTmpl := other.(templateExpr); isTmpl && r.Type() == cty.String && t.fitsUnbuilt(k, v) {
		return r, true
	}
	o, ok := other.Eval(k, v)
	if !ok || o.IsMarked() || !o.Type().Equals(r.Type()) {
		return cty.NilVal, false
	}
	return r, true
}

// fitsUnbuilt reports whether the template is made of literals, each.key
// and each.value only, all strings, and its text would be within the
// limits.
func (t templateExpr) fitsUnbuilt(k, v cty.Value) bool {
	var n int64
	for _, p := range t.parts {
		var s cty.Value
		switch p := p.(type) {
		case constExpr:
			s = p.v
		case eachRef:
			if len(p.steps) > 0 {
				return false
			}
			s = v
			if p.key {
				s = k
			}
		default:
			return false
		}
		if !PlainString(s) {
			return false
		}
		n += int64(len(s.AsString()))
	}
	return n <= t.l.Bytes
}

// binaryExpr is LHS OP RHS: hclsyntax.BinaryOpExpr, which converts the
// operands to the operation's parameter types and calls its
// implementation.
type binaryExpr struct {
	l            Limits
	op           *hclsyntax.Operation
	lhsTy, rhsTy cty.Type // the operation's parameter types
	lhs, rhs     Expr
}

func (x binaryExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	lhs, ok := operand(x.lhs, k, v, x.lhsTy)
	if !ok {
		return cty.NilVal, false
	}
	rhs, ok := operand(x.rhs, k, v, x.rhsTy)
	if !ok {
		return cty.NilVal, false
	}
	if r, ok := direct(x.op, lhs, rhs); ok {
		return r, usable(r, x.l)
	}
	if x.op.ShortCircuit != nil {
		if r, diags := x.op.ShortCircuit(lhs, rhs, nil, nil); r != cty.NilVal {
			if diags.HasErrors() || !usable(r, x.l) {
				return cty.NilVal, false
			}
			return r, true
		}
	}
	r, err := x.op.Impl.Call([]cty.Value{lhs, rhs})
	if err != nil || !usable(r, x.l) {
		return cty.NilVal, false
	}
	return r, true
}

// direct computes a comparison or a logical operation on known, unmarked
// operands that are not null, already converted to the operation's
// parameter types, with the cty method its implementation calls (cty's
// stdlib: GreaterThan is args[0].GreaterThan(args[1]), and so on), without
// the function call around it.
func direct(op *hclsyntax.Operation, lhs, rhs cty.Value) (cty.Value, bool) {
	switch op {
	case hclsyntax.OpEqual:
		return lhs.Equals(rhs), true
	case hclsyntax.OpNotEqual:
		return lhs.Equals(rhs).Not(), true
	case hclsyntax.OpGreaterThan:
		return lhs.GreaterThan(rhs), true
	case hclsyntax.OpGreaterThanOrEqual:
		return lhs.GreaterThanOrEqualTo(rhs), true
	case hclsyntax.OpLessThan:
		return lhs.LessThan(rhs), true
	case hclsyntax.OpLessThanOrEqual:
		return lhs.LessThanOrEqualTo(rhs), true
	case hclsyntax.OpLogicalAnd:
		return lhs.And(rhs), true
	case hclsyntax.OpLogicalOr:
		return lhs.Or(rhs), true
	}
	return cty.NilVal, false
}

// unaryExpr is !VAL or -VAL: hclsyntax.UnaryOpExpr.
type unaryExpr struct {
	l  Limits
	op *hclsyntax.Operation
	ty cty.Type // the operation's parameter type
	v  Expr
}

func (x unaryExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	arg, ok := operand(x.v, k, v, x.ty)
	if !ok {
		return cty.NilVal, false
	}
	if x.op == hclsyntax.OpLogicalNot {
		r := arg.Not() // stdlib's NotFunc: args[0].Not()
		return r, usable(r, x.l)
	}
	r, err := x.op.Impl.Call([]cty.Value{arg})
	if err != nil || !usable(r, x.l) {
		return cty.NilVal, false
	}
	return r, true
}

// operand evaluates e and converts its value to ty, as HCL converts an
// operand or a function argument.
func operand(e Expr, k, v cty.Value, ty cty.Type) (cty.Value, bool) {
	val, ok := e.Eval(k, v)
	if !ok || val.IsMarked() {
		return cty.NilVal, false
	}
	val, err := convert.Convert(val, ty)
	if err != nil || val.IsNull() || !val.IsKnown() {
		return cty.NilVal, false
	}
	return val, true
}

// callExpr is a function call: hclsyntax.FunctionCallExpr, which converts
// every argument to its parameter's type and calls the function.
type callExpr struct {
	l      Limits
	f      function.Function
	direct func([]cty.Value) (cty.Value, bool) // f called directly (Direct.Call), or nil
	args   []Expr
	types  []cty.Type // the parameter type of each argument
}

func (x callExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	args := make([]cty.Value, len(x.args))
	for i, a := range x.args {
		var ok bool
		if args[i], ok = operand(a, k, v, x.types[i]); !ok {
			return cty.NilVal, false
		}
	}
	if x.direct != nil {
		r, ok := x.direct(args)
		return r, ok && usable(r, x.l)
	}
	r, err := x.f.Call(args)
	if err != nil || !usable(r, x.l) {
		return cty.NilVal, false
	}
	return r, true
}

// PlainString reports whether v is a known, unmarked string that is not null.
func PlainString(v cty.Value) bool {
	return !v.IsMarked() && v.IsKnown() && !v.IsNull() && v.Type() == cty.String
}

// Fold returns expr with every sub-expression that does not refer to
// each, and calls a function, replaced by its value, computed once for the
// block by eval, and a folded map indexed by each.key made a direct
// lookup: the form Compile compiles. In
//
//	name = lookup(jsondecode(var.names), each.key, "?")
//
// the variable is decoded once, not once per instance; only the lookup is
// evaluated per instance. A sub-expression that eval refuses is left as it
// is: the expression then has no fast form, or one that declines, and HCL
// evaluates the expression as written.
func Fold(expr hclsyntax.Expression, eval func(hclsyntax.Expression) (cty.Value, bool)) hcl.Expression {
	folded := replaceEachFree(expr, func(x hclsyntax.Expression) hclsyntax.Expression {
		v, ok := eval(x)
		if !ok {
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
// once per block: its fast form (mapLookupExpr) is a Go map access instead
// of hcl.Index's generic path.
type lookupExpr struct {
	*hclsyntax.IndexExpr // the folded original
	coll                 cty.Value
	marks                cty.ValueMarks
}

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
