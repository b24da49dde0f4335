package spec

import (
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// This file is the seam between the language and its speed layer
// (spec/internal/fast): the only place the language calls the layer. Each
// function here either answers as the language's general way would, or
// reports that it did not answer, and the caller takes the general way.
// With the layer off, every one of them declines (or does its work on one
// core), and the language gives the same keys and the same diagnostics,
// in the same order, only slower: spec's TestMain runs the whole suite
// both ways, and TestSpeedLayerChangesNothing compares every answer.

// speedOff switches the speed layer off. Only tests set it.
var speedOff atomic.Bool

func speedOn() bool { return !speedOff.Load() }

// quickNesting returns a bound of src's nesting measured on its bytes
// (fast.NestingBound), or false: the caller lexes src and measures it.
func quickNesting(src []byte) (int, bool) {
	if !speedOn() {
		return 0, false
	}
	return fast.NestingBound(src, nil)
}

// parseNative parses a spec file in native syntax: a large file in parts,
// in parallel (fast.ParseNative), when that gives what HCL gives for the
// whole file; otherwise as one.
func parseNative(src []byte, filename string) (hcl.Body, hcl.Diagnostics) {
	return parseNativeIn(src, filename, fast.PartSize)
}

// parseNativeIn is parseNative with parts of at least size bytes.
func parseNativeIn(src []byte, filename string, size int) (hcl.Body, hcl.Diagnostics) {
	if speedOn() {
		if body, diags, ok := fast.ParseInParts(src, filename, size); ok {
			return body, diags
		}
	}
	return parseWhole(src, filename)
}

// quickStringMap reads a JSON object of plain strings in one pass
// (fast.StringMap), or reports false.
func quickStringMap(s string) (map[string]cty.Value, bool) {
	if !speedOn() {
		return nil, false
	}
	return fast.StringMap(s)
}

// quickStringIndex reads a JSON object of plain strings in one pass for
// lookups by key (fast.ReadStringIndex: a secrets file), or reports false.
func quickStringIndex(s string) (*stringIndex, bool) {
	if !speedOn() {
		return nil, false
	}
	return fast.ReadStringIndex(s)
}

// stringIndex is an object of plain strings read by quickStringIndex.
type stringIndex = fast.StringIndex

// quickVarFile reads a JSON variable file of strings and flat collections
// of strings in one pass (fast.VarFile), or reports false. It keeps the
// members of the maps it reads, for quickMembers.
//
// The maps of the variables in e.forEachOnly are read as their members
// alone (fast.VarFile's membersOnly): their values are cty.DynamicVal, and
// deferredForEach makes their for_each instances from the members.
func (e *evaluator) quickVarFile(s string, types map[string]cty.Type) (map[string]cty.Value, map[string]*varMembers, bool) {
	if !speedOn() {
		return nil, nil, false
	}
	return fast.VarFile(s, types, &e.varMaps, e.forEachOnly)
}

// varMembers are the members of a map read from a variable file.
type varMembers = fast.Members

// forEachOnlyVars returns the variables that the spec reads only as the
// whole for_each of key blocks (for_each = var.tenants), and nowhere
// else. A map of strings set for one of them in a JSON variable file is
// never made into a value (quickVarFile): nothing would read it but
// for_each, whose instances deferredForEach makes from its members.
//
// The answer is exact or empty. Every expression of every block the
// evaluation reads is walked, and a variable is read only through a
// traversal rooted at var: var.NAME or var["NAME"] is a reading of NAME,
// and is a for_each only when it is the whole for_each argument of a key
// block. It is nil when the speed layer is off, when a block is not in
// native syntax, or when an expression reads var whole or by a computed
// name (var[local.x]; a for expression whose own variable is named var
// counts as such a reading).
func (e *evaluator) forEachOnlyVars() map[string]bool {
	if !speedOn() {
		return nil
	}
	asForEach := map[*hclsyntax.ScopeTraversalExpr]bool{}
	for _, b := range e.keys {
		body, ok := b.Body.(*hclsyntax.Body)
		if !ok {
			return nil
		}
		if a := body.Attributes["for_each"]; a != nil {
			if x, ok := a.Expr.(*hclsyntax.ScopeTraversalExpr); ok && len(x.Traversal) == 2 {
				if _, ok := varName(x.Traversal); ok {
					asForEach[x] = true
				}
			}
		}
	}
	if len(asForEach) == 0 {
		return nil
	}
	only, other, whole := map[string]bool{}, map[string]bool{}, false
	for _, blocks := range [][]blockIn{e.settings, e.variables, e.locals, e.keys, e.moved} {
		for _, b := range blocks {
			body, ok := b.Body.(*hclsyntax.Body)
			if !ok {
				return nil
			}
			hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
				x, ok := n.(*hclsyntax.ScopeTraversalExpr)
				if !ok || x.Traversal.RootName() != "var" {
					return nil
				}
				switch name, ok := varName(x.Traversal); {
				case !ok:
					whole = true
				case asForEach[x]:
					only[name] = true
				default:
					other[name] = true
				}
				return nil
			})
		}
	}
	if whole {
		return nil
	}
	for n := range other {
		delete(only, n)
	}
	return only
}

// varName returns the variable a traversal rooted at var reads: NAME of
// var.NAME or var["NAME"], whatever follows; false for var alone or var
// indexed by anything but a string.
func varName(t hcl.Traversal) (string, bool) {
	if len(t) < 2 || t.RootName() != "var" {
		return "", false
	}
	switch step := t[1].(type) {
	case hcl.TraverseAttr:
		return step.Name, true
	case hcl.TraverseIndex:
		if k := step.Key; k.Type() == cty.String && k.IsKnown() && !k.IsNull() && !k.IsMarked() {
			return k.AsString(), true
		}
	}
	return "", false
}

// deferredForEach returns the instances of for_each = var.NAME when the
// map of NAME was read as its members alone (quickVarFile): what
// quickMembers gives for the map itself.
func (e *evaluator) deferredForEach(expr hcl.Expression) (forEachElems, bool) {
	x, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(e.deferred) == 0 || len(x.Traversal) != 2 {
		return forEachElems{}, false
	}
	name, ok := varName(x.Traversal)
	if m := e.deferred[name]; ok && m != nil {
		return forEachElems{strs: m.Pairs, fromStrings: true}, true
	}
	return forEachElems{}, false
}

// varMaps are the members of the maps that quickVarFile read.
type varMaps = fast.Maps

// quickMembers returns the members of v in the order cty's ElementIterator
// gives them, when v is a map that quickVarFile read; or false. The caller
// must not change them.
func (e *evaluator) quickMembers(v cty.Value) (forEachElems, bool) {
	if !speedOn() {
		return forEachElems{}, false
	}
	if m := e.varMaps.Of(v); m != nil {
		return forEachElems{strs: m.Pairs, fromStrings: true}, true
	}
	return forEachElems{}, false
}

// quickWithinLimits reports true when v is a map that quickVarFile read
// and its size, measured as it was read, is within l; false when the
// caller must measure v (checkValueSize).
func (e *evaluator) quickWithinLimits(v cty.Value, l Limits) bool {
	if !speedOn() {
		return false
	}
	m := e.varMaps.Of(v)
	return m != nil && int64(len(m.Pairs)) <= int64(l.MaxElements) && m.Bytes <= l.MaxValueBytes
}

// measuredWhereSet reports whether the value of expr, evaluated in ctx,
// was measured already with the limits of ctx's evaluation: expr is a
// plain traversal of one variable or one local (var.tenants,
// local.x["a"]), whose value is that variable's or local's or a part of
// it, and every variable and local is measured when it is set. The value
// of for_each = var.tenants is then not walked again. Not var or local
// alone: the object of all variables can be larger than each.
func measuredWhereSet(expr hcl.Expression, ctx *hcl.EvalContext) bool {
	if !speedOn() {
		return false
	}
	t, ok := expr.(*hclsyntax.ScopeTraversalExpr)
	if !ok || len(t.Traversal) < 2 {
		return false
	}
	if root := t.Traversal.RootName(); root != "var" && root != "local" {
		return false
	}
	if _, ok := t.Traversal[1].(hcl.TraverseAttr); !ok {
		return false
	}
	// Only in an evaluation, where var and local are what it set them to
	// (a test's own context holds values nothing measured).
	for ctx != nil && ctx.Parent() != nil {
		ctx = ctx.Parent()
	}
	_, tracked := limitsByCtx.Load(ctx)
	return tracked
}

// quickConvert converts a collection of like primitive values directly
// (fast.Convert), or reports false.
func quickConvert(v cty.Value, ty cty.Type) (cty.Value, bool) {
	if !speedOn() {
		return cty.NilVal, false
	}
	return fast.Convert(v, ty)
}

// quickForEach evaluates for_each = toset([...]) without sorting a cty set
// (fast.ToSetStrings), or reports false.
func quickForEach(expr hcl.Expression, ctx *hcl.EvalContext) (forEachElems, bool) {
	if !speedOn() {
		return forEachElems{}, false
	}
	vals, ok := fast.ToSetStrings(expr, ctx)
	return forEachElems{vals: vals}, ok
}

// foldAttr returns the fast form of a per-instance attribute of a
// for_each block, or nil: its each-free parts computed once, in the
// block's context ctx (fast.Fold, within the limits, as evalBounded
// evaluates), and compiled (fast.Compile), its calls of the spec's
// functions direct (directCalls). When the fast form declines,
// HCL evaluates the attribute as written.
func foldAttr(attr *hcl.Attribute, ctx *hcl.EvalContext, direct map[string]fast.Direct) fast.Expr {
	x, ok := attr.Expr.(hclsyntax.Expression)
	if !speedOn() || !ok {
		return nil
	}
	folded := fast.Fold(x, func(x hclsyntax.Expression) (cty.Value, bool) {
		v, diags := evalBounded(x, ctx, attr.Name)
		return v, !diags.HasErrors()
	})
	return fast.Compile(folded, ctx, fastLimits(limitsOf(ctx)), direct)
}

// directCalls returns, for each function f of std (before guardBounded
// wraps it), what guardBounded(name, f, l).Call gives for arguments that
// are known, not null, unmarked and of the parameters' types, with one
// call machinery less: the size check, f's call, the number guard; false
// where the wrapped call fails (a panic included). The speed layer's calls
// use it (fast.Compile); with the layer off, nothing does.
//
// Where f is one of cty's stdlib functions that the layer computes
// itself (builtins) and guardBounded adds nothing to it for such
// arguments (no size check; its result is a string, or a count of
// characters, never a number out of range), the layer is told so.
func directCalls(std map[string]function.Function, l Limits) map[string]fast.Direct {
	out := make(map[string]fast.Direct, len(std))
	for name, f := range std {
		check := sizeChecks[name]
		d := fast.Direct{Call: func(args []cty.Value) (v cty.Value, ok bool) {
			defer func() {
				if recover() != nil {
					v, ok = cty.NilVal, false
				}
			}()
			if check != nil && check(l, args) != nil {
				return cty.NilVal, false
			}
			v, err := f.Call(args)
			if err != nil || numberOutOfRange(v) {
				return cty.NilVal, false
			}
			return v, true
		}}
		for _, b := range builtins {
			if f == b.f && check == nil {
				d.Builtin = b.b
			}
		}
		out[name] = d
	}
	return out
}

// builtins are the functions fast computes itself (fast.Builtin).
var builtins = []struct {
	f function.Function
	b fast.Builtin
}{
	{stdlib.StrlenFunc, fast.Strlen},
	{stdlib.TrimPrefixFunc, fast.TrimPrefix},
	{stdlib.TrimSuffixFunc, fast.TrimSuffix},
}

// compileRef gives a token reference's NAME, PATH and KEY their fast
// forms (without a context: each, literals, templates, conditionals,
// operators and indexes).
func compileRef(r *tokenRef, l Limits) {
	if !speedOn() {
		return
	}
	r.argFast = fast.Compile(r.arg, nil, fastLimits(l), nil)
	if r.key != nil {
		r.keyFast = fast.Compile(r.key, nil, fastLimits(l), nil)
	}
}

func fastLimits(l Limits) fast.Limits {
	return fast.Limits{Bytes: l.MaxValueBytes, Elements: l.MaxElements}
}

// evalFast evaluates a fast form for an instance, or reports false.
func evalFast(f fast.Expr, in *instance) (cty.Value, bool) {
	if f == nil {
		return cty.NilVal, false
	}
	return f.Eval(in.eachKey, in.eachValue)
}

// forEachIndex calls f(i) for every i in [0, n): on every core for large n
// (fast.Each), in order with the layer off. f writes only what belongs to i.
func forEachIndex(n int, f func(i int)) {
	if !speedOn() {
		for i := range n {
			f(i)
		}
		return
	}
	fast.Each(n, f)
}

// both runs f and g, side by side with the layer on.
func both(f, g func()) {
	if !speedOn() {
		f()
		g()
		return
	}
	fast.Both(f, g)
}

// decodeCached is decode(s), computed once per large input (fast.DecodeCache).
func (fs *funcs) decodeCached(s string, decode func(string) (cty.Value, error)) (cty.Value, error) {
	if !speedOn() {
		return decode(s)
	}
	return fs.decoded.Decode(s, decode)
}

// prefetch starts computing, on another core, the parts of for_each blocks
// that fast.Fold will compute and that depend on nothing the evaluation has to
// produce first: calls without any variable, such as the jsondecode of
//
//	name = jsondecode("{\"acme\": \"Acme\", …}")[each.key]
//
// and the files of token references whose path names no variable: a
// secrets file of 100,000 entries is read and decoded while the
// variables (a large var-file), the locals and the for_each collections
// are evaluated. jsondecode and the secret files cache their results, so
// when the evaluation reaches them it finds the value ready or waits for
// it. Nothing is read that the evaluation would not read. Results and
// diagnostics are dropped here; the evaluation reports them.
//
// The goroutine is not waited for: it only fills caches. It closes the
// returned channel when it is done (nil: nothing to prefetch).
func (e *evaluator) prefetch() <-chan struct{} {
	if !speedOn() {
		return nil
	}
	var tasks []func()
	for _, b := range e.keys {
		body, ok := b.Body.(*hclsyntax.Body)
		if !ok || body.Attributes["for_each"] == nil {
			continue
		}
		var ctx *hcl.EvalContext
		for name, attr := range body.Attributes {
			if name == "for_each" || name == "token" || name == "previous_token" || !refersToEach(attr.Expr) {
				continue
			}
			for _, x := range fast.FoldedCalls(attr.Expr) {
				if ctx == nil {
					// Its own context: the evaluation adds variables to
					// the files' contexts meanwhile.
					ctx = (&hcl.EvalContext{Functions: e.fn.std}).NewChild()
					ctx.Functions = stubFuncs()
				}
				if preflight(x, ctx, e.limits) == nil { // what the evaluation would refuse is not built
					tasks = append(tasks, func() { _, _ = x.Value(ctx) })
				}
			}
		}
	}
	// The files of token references whose path names no variable. Files
	// first: a secrets file is the largest input.
	var files []func()
	if e.opts.Secrets {
		ctx := &hcl.EvalContext{Functions: e.fn.std}
		for _, r := range e.refs {
			if r == nil || r.kind == refEnv || len(r.arg.Variables()) > 0 {
				continue
			}
			if v, diags := r.arg.Value(ctx); !diags.HasErrors() && fast.PlainString(v) {
				p := r.absPath(v.AsString())
				if r.kind == refJSON {
					files = append(files, func() { _, _ = e.fn.secretJSON(p) })
				} else {
					files = append(files, func() { _, _ = e.fn.secretFile(p) })
				}
			}
		}
	}
	return fast.Background(append(files, tasks...))
}
