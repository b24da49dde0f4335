package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// Secrets are references, not values. A token attribute names where its
// token lives, in one of a few shapes, and keyprov reads it there in Go:
// the value never enters HCL, so no expression can compute with it, print
// it, compare it or turn it into an error message. Everywhere else env()
// and file() are refused where they are written, before anything is
// evaluated. This is a rule the parser checks, not a taint that every HCL
// function would have to carry (try, can and index operators drop cty marks).

// refShapes lists the allowed shapes, for messages.
const refShapes = `env(NAME), file(PATH), trimspace(file(PATH)), jsondecode(file(PATH))[KEY], lookup(jsondecode(file(PATH)), KEY), or "${...}" around one of these`

// refKind is what a token reference reads.
type refKind uint8

const (
	refEnv      refKind = iota + 1 // env(NAME)
	refFile                        // file(PATH)
	refTrimFile                    // trimspace(file(PATH))
	refJSON                        // jsondecode(file(PATH))[KEY]
)

// tokenRef is a parsed token reference: where a token is read, never the
// token. NAME, PATH and KEY are ordinary expressions (literals, templates,
// variables, locals, each.key), evaluated per instance.
type tokenRef struct {
	kind refKind
	// arg is NAME for env(), PATH for file().
	arg hcl.Expression
	// key is KEY of a JSON reference: an expression, or keyLit when the
	// key was written as a traversal step (.acme, ["acme"]).
	key    hcl.Expression
	keyLit string
	// argFast and keyFast are the fast forms of arg and key, or nil
	// (compileRef).
	argFast, keyFast fast.Expr
	// dir is the folder of the spec file: relative paths resolve against it.
	dir string
	// argShared is set when arg does not refer to each: it is evaluated
	// once for all the instances of a block, in shared.
	argShared bool
	shared    sharedArg
}

// rangeKey identifies a source range across Content calls, which may build
// new expression values for the same text (JSON bodies do).
type rangeKey struct {
	file       string
	start, end int
}

func keyOf(r hcl.Range) rangeKey { return rangeKey{r.Filename, r.Start.Byte, r.End.Byte} }

func (k rangeKey) contains(r hcl.Range) bool {
	return k.file == r.Filename && k.start <= r.Start.Byte && r.End.Byte <= k.end
}

// secretCallName returns "env" or "file" when name calls one of them
// (namespaced names such as core::env included), and "" otherwise.
func secretCallName(name string) string {
	if i := strings.LastIndex(name, "::"); i >= 0 {
		name = name[i+2:]
	}
	if name == "env" || name == "file" {
		return name
	}
	return ""
}

// syntaxOf returns expr as native syntax: itself, or, for an expression of a
// JSON file, the template its string holds (nil when it holds none, as
// for a number or an object). src is the file's text.
func syntaxOf(expr hcl.Expression, src []byte) hclsyntax.Expression {
	if x, ok := expr.(hclsyntax.Expression); ok {
		return x
	}
	r := expr.Range()
	var s string
	if r.End.Byte > len(src) || json.Unmarshal(r.SliceBytes(src), &s) != nil {
		return nil
	}
	x, diags := hclsyntax.ParseTemplate([]byte(s), r.Filename, hcl.Pos{Line: r.Start.Line, Column: r.Start.Column + 1, Byte: r.Start.Byte + 1})
	if diags.HasErrors() {
		return nil
	}
	return x
}

func unwrap(x hclsyntax.Expression) hclsyntax.Expression {
	for {
		switch w := x.(type) {
		case *hclsyntax.TemplateWrapExpr:
			x = w.Wrapped
		case *hclsyntax.ParenthesesExpr:
			x = w.Expression
		default:
			return x
		}
	}
}

// call1 returns the single argument of a call of fn (env or file matched by
// secretCallName, others by name), and the call.
func call1(x hclsyntax.Expression, fn string) (hclsyntax.Expression, *hclsyntax.FunctionCallExpr) {
	c, ok := unwrap(x).(*hclsyntax.FunctionCallExpr)
	if !ok || c.ExpandFinal || len(c.Args) != 1 {
		return nil, nil
	}
	if c.Name != fn && secretCallName(c.Name) != fn {
		return nil, nil
	}
	return c.Args[0], c
}

// jsonFile matches jsondecode(file(PATH)) and returns PATH and the file() call.
func jsonFile(x hclsyntax.Expression) (hclsyntax.Expression, *hclsyntax.FunctionCallExpr) {
	inner, _ := call1(x, "jsondecode")
	if inner == nil {
		return nil, nil
	}
	return call1(inner, "file")
}

// matchRef matches x against the reference shapes. It returns the
// reference and its env() or file() call, or nil.
func matchRef(x hclsyntax.Expression) (*tokenRef, *hclsyntax.FunctionCallExpr) {
	x = unwrap(x)
	if arg, c := call1(x, "env"); c != nil {
		return &tokenRef{kind: refEnv, arg: arg}, c
	}
	if arg, c := call1(x, "file"); c != nil {
		return &tokenRef{kind: refFile, arg: arg}, c
	}
	if inner, _ := call1(x, "trimspace"); inner != nil {
		if arg, c := call1(inner, "file"); c != nil {
			return &tokenRef{kind: refTrimFile, arg: arg}, c
		}
	}
	switch x := x.(type) {
	case *hclsyntax.FunctionCallExpr:
		if x.Name == "lookup" && !x.ExpandFinal && len(x.Args) == 2 {
			if arg, c := jsonFile(x.Args[0]); c != nil {
				return &tokenRef{kind: refJSON, arg: arg, key: x.Args[1]}, c
			}
		}
	case *hclsyntax.IndexExpr:
		if arg, c := jsonFile(x.Collection); c != nil {
			return &tokenRef{kind: refJSON, arg: arg, key: x.Key}, c
		}
	case *hclsyntax.RelativeTraversalExpr:
		if len(x.Traversal) != 1 {
			return nil, nil
		}
		arg, c := jsonFile(x.Source)
		if c == nil {
			return nil, nil
		}
		switch step := x.Traversal[0].(type) {
		case hcl.TraverseAttr:
			return &tokenRef{kind: refJSON, arg: arg, keyLit: step.Name}, c
		case hcl.TraverseIndex:
			if k := step.Key; !k.IsMarked() && k.IsKnown() && !k.IsNull() && k.Type() == cty.String {
				return &tokenRef{kind: refJSON, arg: arg, keyLit: k.AsString()}, c
			}
		}
	}
	return nil, nil
}

// secretRefs is the result of checkSecretCalls: the reference of every
// token attribute, by the range of its expression. A nil entry is an
// attribute whose error was reported already.
type secretRefs map[rangeKey]*tokenRef

// stubMessage marks the errors of the env() and file() that evaluation
// contexts hold: they are never called where checkSecretCalls passed.
const stubMessage = "env() and file() may be called only in a key's token and previous_token"

// checkSecretCalls parses the token attributes of every key block into
// references, and reports every other call of env() or file() in the spec
// where it is written. It evaluates nothing, so validate finds every such
// call without any environment, whatever path evaluation would take.
func (e *evaluator) checkSecretCalls() secretRefs {
	refs := secretRefs{}
	e.refDiags = map[rangeKey]*hcl.Diagnostic{}
	var diags hcl.Diagnostics
	defer func() {
		sort.SliceStable(diags, func(i, j int) bool {
			a, b := diags[i].Subject, diags[j].Subject
			if a.Filename != b.Filename {
				return false // files stay in the order they were read
			}
			return a.Start.Byte < b.Start.Byte
		})
		e.add(diags...)
	}()
	allowed := map[rangeKey]bool{} // the calls of references
	var refused []rangeKey         // token attributes refused as a whole
	// Where the attributes of key blocks are, to name the block of a call.
	type owner struct {
		rng   rangeKey
		addr  string
		token bool // a token attribute that parsed as a reference
	}
	var owners, blockOwners []owner
	for _, b := range e.keys {
		content, _, _ := b.Body.PartialContent(keySchema)
		addr := b.Type + "." + b.Labels[0]
		for _, name := range []string{"token", "previous_token"} {
			attr := content.Attributes[name]
			if attr == nil {
				continue
			}
			ref, d := parseTokenRef(attr, b.file.src.Bytes, allowed)
			if ref != nil {
				ref.dir = b.file.src.Dir
				compileRef(ref, e.limits)
			}
			refs[keyOf(attr.Expr.Range())] = ref
			if d != nil {
				if content.Attributes["for_each"] == nil {
					// Reported by the key's evaluation, with its address.
					e.refDiags[keyOf(attr.Expr.Range())] = d
				} else {
					// Once for the block, not once per instance.
					diags = append(diags, withAddress(hcl.Diagnostics{d}, addr)...)
				}
				// Its calls are part of the error just reported.
				refused = append(refused, keyOf(attr.Expr.Range()))
				continue
			}
			owners = append(owners, owner{keyOf(attr.Expr.Range()), addr, true})
		}
		for name, attr := range content.Attributes {
			if name != "token" && name != "previous_token" {
				owners = append(owners, owner{rng: keyOf(attr.Expr.Range()), addr: addr})
			}
		}
		// The rest of the block (an unknown attribute, a nested block)
		// belongs to it too; token references are matched first.
		if body, ok := b.Body.(*hclsyntax.Body); ok {
			blockOwners = append(blockOwners, owner{rng: keyOf(body.Range()), addr: addr})
		} else if attrs, _ := b.Body.JustAttributes(); attrs != nil {
			for _, attr := range attrs {
				blockOwners = append(blockOwners, owner{rng: keyOf(attr.Expr.Range()), addr: addr})
			}
		}
	}
	// Key blocks that failed the root schema (a missing or extra label) are
	// not evaluated: the calls of their token attributes are not errors of
	// their own.
	known := map[rangeKey]bool{}
	for _, b := range e.keys {
		known[keyOf(b.DefRange)] = true
	}
	for _, f := range e.files {
		body, ok := f.body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, b := range body.Blocks {
			if (b.Type == "universal_key" || b.Type == "tenant_key") && !known[keyOf(b.DefRange())] {
				for _, name := range []string{"token", "previous_token"} {
					if a := b.Body.Attributes[name]; a != nil {
						refused = append(refused, keyOf(a.Expr.Range()))
					}
				}
			}
		}
	}
	report := func(c *hclsyntax.FunctionCallExpr) {
		r := c.Range()
		if allowed[keyOf(r)] {
			return
		}
		for _, k := range refused {
			if k.contains(r) {
				return
			}
		}
		fn := secretCallName(c.Name)
		d := errorf(r.Ptr(), "Secret read outside a token",
			"%s() may be called only as the whole value of a key's token or previous_token (%s). What it reads is secret, and everything else a spec says is printed in plans or decides what a review shows: read reviewable values such as tenants from a variable (-var-file) instead.", fn, refShapes)
		for _, o := range append(owners, blockOwners...) {
			if o.rng.contains(r) {
				if o.token {
					d = errorf(r.Ptr(), "Secret in a token reference",
						"The name, path or key of a token reference is read with %s(). They must be written in the spec or come from variables, locals or each, so that a review shows where the token is read: a token is read whole with %s.", fn, refShapes)
				}
				if o.token {
					hideSource(d)
				}
				withAddress(hcl.Diagnostics{d}, o.addr)
				break
			}
		}
		if e.secretCalls == nil {
			e.secretCalls = map[rangeKey]bool{}
		}
		e.secretCalls[keyOf(r)] = true
		diags = append(diags, d)
	}
	for _, f := range e.files {
		if body, ok := f.body.(*hclsyntax.Body); ok {
			hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
				if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && secretCallName(c.Name) != "" {
					report(c)
				}
				return nil
			})
			continue
		}
		for _, c := range jsonSecretCalls(f.src.Bytes, f.src.Name) {
			report(c)
		}
	}
	return refs
}

// parseTokenRef parses the expression of a token attribute. It records the
// reference's own env() or file() call in allowed. A diagnostic comes back
// with a nil reference when the expression has none of the shapes.
func parseTokenRef(attr *hcl.Attribute, src []byte, allowed map[rangeKey]bool) (*tokenRef, *hcl.Diagnostic) {
	rng := attr.Expr.Range().Ptr()
	x := syntaxOf(attr.Expr, src)
	var ref *tokenRef
	var call *hclsyntax.FunctionCallExpr
	if x != nil {
		ref, call = matchRef(x)
	}
	if ref == nil {
		if x != nil && readsSecret(x) {
			return nil, hideSource(errorf(rng, "Invalid token reference",
				"%s must read a token whole, with one of: %s. NAME, PATH and KEY may be literals, templates, variables, locals or each.key. Computing anything from a secret (format, substr, join, can, try, a conditional, a for expression, an operator) is refused: what a spec computes from a secret could be printed.", attr.Name, refShapes))
		}
		return nil, hideSource(errorf(rng, "Literal token",
			"The value of %s is not read with env() or file(), so it is written in the spec or in a variable file. Never commit a token: read it with %s, and treat the committed value as leaked.", attr.Name, refShapes))
	}
	allowed[keyOf(call.Range())] = true
	ref.argShared = !refersToEach(ref.arg)
	return ref, nil
}

// readsSecret reports whether x calls env() or file().
func readsSecret(x hclsyntax.Expression) bool {
	found := false
	hclsyntax.VisitAll(x, func(n hclsyntax.Node) hcl.Diagnostics {
		if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && secretCallName(c.Name) != "" {
			found = true
		}
		return nil
	})
	return found
}

// jsonSecretCalls returns the env() and file() calls in the templates of
// every string of a JSON spec file, keys included: HCL's JSON syntax reads
// strings as templates wherever it evaluates them.
func jsonSecretCalls(src []byte, filename string) []*hclsyntax.FunctionCallExpr {
	var out []*hclsyntax.FunctionCallExpr
	line, col := 1, 1
	for i := 0; i < len(src); {
		c := src[i]
		if c != '"' {
			if c == '\n' {
				line, col = line+1, 1
			} else if c < 0x80 || c >= 0xC0 {
				col++
			}
			i++
			continue
		}
		// A JSON string: find its end.
		j := i + 1
		for j < len(src) && src[j] != '"' {
			if src[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(src) {
			break
		}
		raw := src[i : j+1]
		start := hcl.Pos{Line: line, Column: col, Byte: i}
		if strings.Contains(string(raw), "${") || strings.Contains(string(raw), "%{") {
			var s string
			if json.Unmarshal(raw, &s) == nil {
				x, diags := hclsyntax.ParseTemplate([]byte(s), filename, hcl.Pos{Line: start.Line, Column: start.Column + 1, Byte: start.Byte + 1})
				if !diags.HasErrors() {
					hclsyntax.VisitAll(x, func(n hclsyntax.Node) hcl.Diagnostics {
						if c, ok := n.(*hclsyntax.FunctionCallExpr); ok && secretCallName(c.Name) != "" {
							out = append(out, c)
						}
						return nil
					})
				}
			}
		}
		// Strings hold no line breaks; columns count characters.
		col += utf8.RuneCount(raw)
		i = j + 1
	}
	return out
}

// stubFuncs are env() and file() as every evaluation context has them:
// checkSecretCalls refuses every call outside a token reference before
// evaluation, and token references are read by readRef, never by HCL. The
// stubs are the second line: they read nothing.
func stubFuncs() map[string]function.Function {
	stub := func(name string) function.Function {
		return function.New(&function.Spec{
			Params: []function.Parameter{{Name: "arg", Type: cty.DynamicPseudoType, AllowMarked: true, AllowUnknown: true, AllowNull: true, AllowDynamicType: true}},
			Type:   function.StaticReturnType(cty.String),
			Impl: func([]cty.Value, cty.Type) (cty.Value, error) {
				return cty.NilVal, fmt.Errorf("%s() cannot be called here: %s, as the whole value", name, stubMessage)
			},
		})
	}
	return map[string]function.Function{"env": stub("env"), "file": stub("file")}
}

// consequence is the summary of an error that only makes a key invalid:
// it follows from one reported already, and Evaluate drops it.
const consequence = "(consequence)"

// resolved is what reading a token reference gave.
type resolved struct {
	// source names where the token was read (see tokenSource).
	source tokenSource
	value  string
	known  bool
}

// tokenSource names where a token is read: env("X"), file("p"),
// jsondecode(file("p"))["k"]. It is kept in parts and put together when
// asked for: the instances of a for_each block share base, and key is
// the instance's string already (a million keys made three allocations
// each for names nobody reads in an apply).
type tokenSource struct {
	// base is env("X"), file("p") or jsondecode(file("p")); nil when
	// the reference could not be evaluated.
	base *string
	// key is the JSON member read from base, when base is jsondecode(…).
	key string
}

// String returns the source, "" when it is not known.
func (s tokenSource) String() string {
	switch {
	case s.base == nil:
		return ""
	case s.keyed():
		return *s.base + "[" + strconv.Quote(s.key) + "]"
	}
	return *s.base
}

// keyed reports whether the source reads a member of a JSON file. (No
// other base starts so: see refArg's sources.)
func (s tokenSource) keyed() bool {
	return s.base != nil && strings.HasPrefix(*s.base, "jsondecode(")
}

// readRef evaluates the reference's NAME, PATH and KEY for the instance,
// and reads the token when secrets are resolved. Errors name what was asked
// for and what is wrong, never the value or any part of it.
//
// It reports false when the token cannot be used: the reason is in the
// diagnostics, or, for a file that many instances read, was reported by
// the first of them.
func (e *evaluator) readRef(r *tokenRef, sc *scope, attrName string, rng *hcl.Range) (resolved, hcl.Diagnostics, bool) {
	var out resolved
	// NAME or PATH, and what follows from it, once for all the instances of
	// a block when it does not refer to each.
	var a *refArg
	var diags hcl.Diagnostics
	if r.argShared {
		r.shared.once.Do(func() { r.shared.arg, r.shared.diags = e.refArg(r, sc, attrName) })
		a = r.shared.arg
		if sc.in.first {
			diags = r.shared.diags
		}
		if r.shared.diags.HasErrors() {
			return out, diags, false
		}
	} else {
		a, diags = e.refArg(r, sc, attrName)
		if diags.HasErrors() {
			return out, diags, false
		}
	}
	key := r.keyLit
	if r.key != nil {
		var ds hcl.Diagnostics
		key, ds = e.refString(r.key, r.keyFast, sc, "key", attrName)
		diags = append(diags, ds...)
		if ds.HasErrors() {
			return out, diags, false
		}
	}
	out.source = tokenSource{base: &a.source}
	if r.kind == refJSON {
		out.source.key = key
	}
	fail := func(format string, args ...any) (resolved, hcl.Diagnostics, bool) {
		return out, append(diags, errorf(rng, "Cannot read "+attrName, "%s: %s.", out.source, fmt.Sprintf(format, args...))), false
	}
	if a.invalid != "" {
		return fail("%s", a.invalid)
	}
	if !e.opts.Secrets {
		return out, diags, true
	}
	// failFile marks the error of a file that many instances may read:
	// dropFileRepeats keeps the first in source order.
	failFile := func(p string, err error) (resolved, hcl.Diagnostics, bool) {
		r, ds, ok := fail("%v", err)
		ds[len(ds)-1].Extra = fileError{p}
		return r, ds, ok
	}
	switch r.kind {
	case refEnv:
		v, ok := e.opts.lookupEnv(a.value)
		switch {
		case !ok:
			return fail("environment variable %s is not set", a.value)
		case v == "":
			return fail("environment variable %s is empty", a.value)
		case !utf8.ValidString(v):
			return fail("environment variable %s is not valid UTF-8", a.value)
		}
		out.value = v
	case refFile, refTrimFile:
		v, err := e.fn.secretFile(a.path)
		if err != nil {
			return failFile(a.path, err)
		}
		if r.kind == refTrimFile {
			v = strings.TrimSpace(v)
		}
		out.value = v
	case refJSON:
		obj, err := e.fn.secretJSON(a.path)
		if err != nil {
			return failFile(a.path, err)
		}
		v, err := obj.getAt(key, sc.in.elem)
		if err != nil {
			return fail("%v", err)
		}
		out.value = v
	}
	out.known = true
	return out, diags, true
}

// refArg is a reference's NAME or PATH and what follows from it.
type refArg struct {
	// value is NAME or PATH as evaluated; path is PATH made absolute.
	value, path string
	// source names the reference: env("X"), file("p"), jsondecode(file("p")).
	source string
	// invalid says why value cannot be used, or is empty.
	invalid string
}

// sharedArg is a refArg computed once for all the instances of a block.
type sharedArg struct {
	once  sync.Once
	arg   *refArg
	diags hcl.Diagnostics
}

func (e *evaluator) refArg(r *tokenRef, sc *scope, attrName string) (*refArg, hcl.Diagnostics) {
	what := "variable name"
	if r.kind != refEnv {
		what = "file path"
	}
	v, diags := e.refString(r.arg, r.argFast, sc, what, attrName)
	if diags.HasErrors() {
		return nil, diags
	}
	a := &refArg{value: v}
	switch r.kind {
	case refEnv:
		a.source = "env(" + strconv.Quote(v) + ")"
		switch {
		case v == "" || strings.ContainsAny(v, "=\x00"):
			a.invalid = strconv.Quote(v) + " is not a valid environment variable name"
		case strings.HasPrefix(v, "KEYPROV_"):
			a.invalid = v + " is one of keyprov's own settings, never a token"
		}
		return a, diags
	case refTrimFile:
		a.source = "trimspace(file(" + strconv.Quote(v) + "))"
	case refJSON:
		a.source = "jsondecode(file(" + strconv.Quote(v) + "))"
	default:
		a.source = "file(" + strconv.Quote(v) + ")"
	}
	if v == "" || strings.ContainsRune(v, 0) {
		a.invalid = strconv.Quote(v) + " is not a valid file path"
	}
	a.path = r.absPath(v)
	return a, diags
}

// refString evaluates NAME, PATH or KEY of a reference for an instance.
func (e *evaluator) refString(x hcl.Expression, f fast.Expr, sc *scope, what, attrName string) (string, hcl.Diagnostics) {
	if fv, ok := evalFast(f, sc.in); ok && fast.PlainString(fv) {
		return fv.AsString(), nil
	}
	v, diags := evalBounded(x, sc.Ctx(), what)
	if diags.HasErrors() {
		return "", diags
	}
	if v.IsMarked() {
		return "", append(diags, errorf(x.Range().Ptr(), "Invalid token reference", "The %s of the %s reference is derived from a secret.", what, attrName))
	}
	if !v.IsKnown() {
		if e.priorErrors {
			return "", append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: consequence})
		}
		return "", append(diags, errorf(x.Range().Ptr(), "Invalid token reference", "The %s of the %s reference is not known when the spec is evaluated.", what, attrName))
	}
	if v.IsNull() {
		return "", append(diags, errorf(x.Range().Ptr(), "Invalid token reference", "The %s of the %s reference is null.", what, attrName))
	}
	cv, err := convertValue(v, cty.String)
	if err != nil {
		return "", append(diags, errorf(x.Range().Ptr(), "Invalid token reference", "The %s of the %s reference must be a string, and this is %s.", what, attrName, aType(v.Type())))
	}
	return cv.AsString(), diags
}

// fileError marks the diagnostic of a file that cannot be read.
type fileError struct{ path string }

// dropFileRepeats keeps, of the errors about one file, the first: a secrets
// file read by 100,000 for_each instances is reported once, by the first
// instance in source order whatever the order of evaluation.
func dropFileRepeats(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	out := diags[:0]
	for _, d := range diags {
		if fe, ok := hcl.DiagnosticExtra[fileError](d); ok {
			if seen[fe.path] {
				continue
			}
			seen[fe.path] = true
		}
		out = append(out, d)
	}
	return out
}

// absPath resolves a file() path against the folder of the reference's file.
func (r *tokenRef) absPath(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(r.dir, p)
}

// secretFile reads a file that a token reference names: its text, one
// trailing line break removed. Errors name the path, never the content.
func (fs *funcs) secretFile(p string) (string, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if r, ok := fs.files[p]; ok {
		return r.s, r.err
	}
	var r fileResult
	b, err := readFileLimited(p, fs.maxBytes, "KEYPROV_MAX_FILE_BYTES")
	fs.rec.record(InputFile, p, b, err == nil)
	switch {
	case err != nil:
		r.err = errors.New(describeFSError(p, err))
	case !utf8.Valid(b):
		r.err = fmt.Errorf("%s is not valid UTF-8 text", p)
	default:
		s := strings.TrimSuffix(ownedString(b), "\n")
		r.s = strings.TrimSuffix(s, "\r")
	}
	fs.files[p] = r
	return r.s, r.err
}

// secretObject is a decoded JSON secrets file: an object whose entries are
// read by key. Values stay raw until asked for.
type secretObject struct {
	path    string
	strings *stringIndex               // the fast form: an object of plain strings
	raw     map[string]json.RawMessage // the general form
}

// secretJSON reads and decodes a JSON secrets file once, whatever the
// number of instances reading it. Its errors give positions, never text.
func (fs *funcs) secretJSON(p string) (*secretObject, error) {
	fs.mu.Lock()
	r := fs.secrets[p]
	if r == nil {
		r = &secretJSONResult{}
		fs.secrets[p] = r
	}
	fs.mu.Unlock()
	r.once.Do(func() {
		var s string
		if s, r.err = fs.secretFile(p); r.err == nil {
			r.obj, r.err = decodeSecretObject(p, s)
		}
	})
	return r.obj, r.err
}

type secretJSONResult struct {
	once sync.Once
	obj  *secretObject
	err  error
}

func decodeSecretObject(p, s string) (*secretObject, error) {
	if x, ok := quickStringIndex(s); ok {
		return &secretObject{path: p, strings: x}, nil
	}
	at := func(off int64) string {
		line, col := 1, 1
		for i, c := range s {
			if int64(i) >= off {
				break
			}
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Sprintf("line %d, column %d", line, col)
	}
	// next is the offset of the first byte from off that is not space or
	// a comma: the start of the next key or value.
	next := func(off int64) int64 {
		for off < int64(len(s)) && strings.IndexByte(" \t\r\n,", s[off]) >= 0 {
			off++
		}
		return off
	}
	invalid := func(err error, dec *json.Decoder) error {
		var se *json.SyntaxError
		off := dec.InputOffset()
		if errors.As(err, &se) {
			off = se.Offset
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("%s is not valid JSON: it ends early", p)
		}
		return fmt.Errorf("%s is not valid JSON: error at %s", p, at(off))
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	t, err := dec.Token()
	if err != nil {
		return nil, invalid(err, dec)
	}
	if d, ok := t.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s does not hold a JSON object: a token reference reads an entry of an object", p)
	}
	obj := &secretObject{path: p, raw: map[string]json.RawMessage{}}
	for dec.More() {
		off := dec.InputOffset()
		kt, err := dec.Token()
		if err != nil {
			return nil, invalid(err, dec)
		}
		k, _ := kt.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, invalid(err, dec)
		}
		if _, dup := obj.raw[k]; dup {
			// The key is not quoted: it is text of a secrets file.
			return nil, fmt.Errorf("%s has the same key twice, the second at %s", p, at(next(off)))
		}
		obj.raw[k] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, invalid(err, dec)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s is not valid JSON: text follows the object, at %s", p, at(next(end)))
	}
	return obj, nil
}

// get returns the string entry key. Errors name the key (written in the
// spec) and the kind of a wrong value, never the value.
func (o *secretObject) get(key string) (string, error) { return o.getAt(key, -1) }

// getAt is get for the instance of number elem in its for_each (-1: none):
// an index of the file tries that member first (fast.StringIndex.GetAt).
func (o *secretObject) getAt(key string, elem int) (string, error) {
	if o.strings != nil {
		v, ok := o.strings.GetAt(key, elem)
		if !ok {
			return "", fmt.Errorf("%s has no entry %q", o.path, key)
		}
		return v, nil
	}
	raw, ok := o.raw[key]
	if !ok {
		return "", fmt.Errorf("%s has no entry %q", o.path, key)
	}
	kind := "a number"
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("the entry %q of %s is not a valid JSON string", key, o.path)
		}
		return s, nil
	case '{':
		kind = "an object"
	case '[':
		kind = "an array"
	case 't', 'f':
		kind = "a bool"
	case 'n':
		kind = "null"
	}
	return "", fmt.Errorf("the entry %q of %s is %s, not a string", key, o.path, kind)
}
