package spec

import (
	"fmt"
	"os"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/keyprov/keyprov/internal/names"
	"github.com/keyprov/keyprov/token"
)

var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "settings"},
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "universal_key", LabelNames: []string{"slug"}},
		{Type: "tenant_key", LabelNames: []string{"slug"}},
		{Type: "moved"},
	},
}

var settingsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "token_prefix"},
		{Name: "owner"},
		{Name: "root_tenant"},
		{Name: "allowed_permissions"},
		{Name: "prune"},
		{Name: "token_checksum"},
	},
}

var movedSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "from", Required: true},
		{Name: "to", Required: true},
	},
}

// parsedFile is one parsed spec file and the evaluation context of its
// expressions (env() and file() bound to its folder).
type parsedFile struct {
	src  Source
	body hcl.Body
	ctx  *hcl.EvalContext
}

// blockIn is a block with the file it came from.
type blockIn struct {
	*hcl.Block
	file *parsedFile
}

type evaluator struct {
	opts   *Options
	limits Limits
	fn     *funcs
	base   *hcl.EvalContext
	files  []*parsedFile
	diags  hcl.Diagnostics

	settings  []blockIn
	variables []blockIn
	locals    []blockIn
	keys      []blockIn
	moved     []blockIn

	localDecls map[string]*localDecl
	// refs are the token references, parsed before evaluation.
	refs secretRefs
	// refDiags are the errors of token attributes that are not references,
	// in blocks without for_each: the key's evaluation reports them.
	refDiags map[rangeKey]*hcl.Diagnostic
	// priorErrors is set when errors were reported before the keys were
	// evaluated: an unknown value may then be one of their consequences.
	priorErrors bool
	// declared are the key blocks and their number of keys.
	declared []DeclaredBlock
	// secretCalls are the calls of env() and file() refused by
	// checkSecretCalls: other errors about them are dropped as repeats.
	secretCalls map[rangeKey]bool
	// varMaps are the members of the maps read from variable files
	// (speed.go).
	varMaps varMaps
	// forEachOnly are the variables read only as a whole for_each
	// (forEachOnlyVars), and deferred the members of those whose map was
	// read as its members alone; their value is cty.DynamicVal.
	forEachOnly map[string]bool
	deferred    map[string]*varMembers
	// rec records what evaluation reads (inputs.go).
	rec *recorder
}

// Evaluate parses and evaluates spec sources. The Spec is nil when the
// diagnostics hold errors.
func Evaluate(srcs []Source, opts Options) (*Spec, hcl.Diagnostics) {
	rec := newRecorder()
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	opts.LookupEnv = rec.lookupEnv(lookup)
	for _, src := range srcs {
		rec.record(InputSpec, src.Name, src.Bytes, true)
	}
	for _, src := range opts.VarSources {
		rec.record(InputVarSource, src.Name, src.Bytes, true)
	}
	e := &evaluator{opts: &opts, limits: opts.limits(), rec: rec}
	e.fn = newFuncs(e.opts)
	e.fn.rec = rec
	e.base = newBaseContext(e.fn)
	defer trackBounds(e.base, e.limits)()

	if len(srcs) == 0 {
		return nil, hcl.Diagnostics{errorf(nil, "No spec files", "No spec file was given.")}
	}
	if !e.parse(srcs) {
		return nil, e.diags
	}
	e.refs = e.checkSecretCalls()
	_ = e.prefetch()
	e.base.Variables["var"] = e.evalVariables()
	e.evalLocals()
	settings := e.evalSettings()
	keys := e.evalKeys(settings)
	moved := e.evalMoved(keys)
	e.diags = e.dropRepeats(e.diags)
	if e.diags.HasErrors() {
		return nil, e.diags
	}
	s := &Spec{Settings: settings, Keys: keys, Moved: moved, Blocks: e.declared, Inputs: rec.inputs()}
	for _, f := range e.files {
		s.Files = append(s.Files, f.src.Name)
	}
	return s, e.diags
}

// newBaseContext is the root evaluation context: the standard functions,
// and the variables (var, local) as they are evaluated.
func newBaseContext(fn *funcs) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: fn.std, Variables: map[string]cty.Value{}}
}

func (e *evaluator) add(d ...*hcl.Diagnostic) { e.diags = append(e.diags, d...) }

// parse parses every source and sorts its top-level blocks. It reports false
// when any file has a syntax error: evaluating a half-parsed spec would only
// add noise to the real error.
func (e *evaluator) parse(srcs []Source) bool {
	p := hclparse.NewParser()
	ok := true
	for _, src := range srcs {
		var diags hcl.Diagnostics
		if int64(len(src.Bytes)) > e.limits.MaxSpecBytes {
			e.add(errorf(nil, "Spec file too large", "%s has %d bytes; the limit is %d (KEYPROV_MAX_SPEC_BYTES).", src.Name, len(src.Bytes), e.limits.MaxSpecBytes))
			ok = false
			continue
		}
		if d := checkSource(src.Bytes, src.Name, src.IsJSON()); d != nil {
			e.add(d...)
			ok = false
			continue
		}
		var body hcl.Body
		if src.IsJSON() {
			var f *hcl.File
			if f, diags = p.ParseJSON(src.Bytes, src.Name); f != nil {
				body = f.Body
			}
		} else {
			body, diags = parseNative(src.Bytes, src.Name)
		}
		e.add(diags...)
		if diags.HasErrors() || body == nil {
			ok = false
			continue
		}
		pf := &parsedFile{src: src, body: body}
		pf.ctx = e.base.NewChild()
		pf.ctx.Functions = stubFuncs()
		e.files = append(e.files, pf)
	}
	if !ok {
		return false
	}
	for _, f := range e.files {
		content, diags := f.body.Content(rootSchema)
		sortByPos(diags)
		e.add(diags...)
		for _, b := range content.Blocks {
			bi := blockIn{b, f}
			switch b.Type {
			case "settings":
				e.settings = append(e.settings, bi)
			case "variable":
				e.variables = append(e.variables, bi)
			case "locals":
				e.locals = append(e.locals, bi)
			case "universal_key", "tenant_key":
				e.keys = append(e.keys, bi)
			case "moved":
				e.moved = append(e.moved, bi)
			}
		}
	}
	return true
}

// parseWhole parses a spec file in native syntax.
func parseWhole(src []byte, filename string) (hcl.Body, hcl.Diagnostics) {
	f, diags := hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	if f == nil {
		return nil, diags
	}
	return f.Body, diags
}

// evalAttr evaluates attr in ctx and converts it to ty (cty.DynamicPseudoType: no conversion).
func evalAttr(attr *hcl.Attribute, ctx *hcl.EvalContext, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := evalBounded(attr.Expr, ctx, attr.Name)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	if ty == cty.DynamicPseudoType {
		return v, diags
	}
	cv, err := convertValue(v, ty)
	if err != nil {
		return cty.DynamicVal, append(diags, &hcl.Diagnostic{
			Severity:   hcl.DiagError,
			Summary:    "Incorrect attribute value type",
			Detail:     fmt.Sprintf("Inappropriate value for attribute %q: %s.", attr.Name, err),
			Subject:    attr.Expr.Range().Ptr(),
			Expression: attr.Expr,
		})
	}
	return cv, diags
}

// known reports whether v can be used: known and not null. Diagnostics for
// other cases are reported where they arise. (No value is secret: env()
// and file() are read in Go, as token references only; see refs.go.)
func known(v cty.Value) bool {
	return v.IsWhollyKnown() && !v.IsNull()
}

// -- settings ---------------------------------------------------------------

func (e *evaluator) evalSettings() Settings {
	s := Settings{TokenPrefix: token.DefaultPrefix, Owner: DefaultOwner, RootTenant: DefaultRootTenant}
	for i, b := range e.settings {
		if i > 0 {
			e.add(errorf(b.DefRange.Ptr(), "Duplicate settings block", "Only one settings block is allowed; the first is at %s.", Pos(e.settings[0].DefRange)))
			continue
		}
		s.Range = b.DefRange
		content, diags := b.Body.Content(settingsSchema)
		sortByPos(diags)
		e.add(diags...)
		str := func(name string, check func(string) string, dst *string) {
			attr := content.Attributes[name]
			if attr == nil {
				return
			}
			v, diags := evalAttr(attr, b.file.ctx, cty.String)
			e.add(diags...)
			if !known(v) {
				if !diags.HasErrors() && v.IsNull() {
					e.add(errorf(attr.Expr.Range().Ptr(), "Invalid setting", "%s must not be null.", name))
				}
				return
			}
			if msg := check(v.AsString()); msg != "" {
				e.add(errorf(attr.Expr.Range().Ptr(), "Invalid setting", "%s %s.", name, msg))
				return
			}
			*dst = v.AsString()
		}
		str("token_prefix", checkPrefix, &s.TokenPrefix)
		str("owner", checkOwner, &s.Owner)
		str("root_tenant", func(v string) string {
			if !ValidIdent(v) {
				return "must be a valid tenant: " + identRule
			}
			return ""
		}, &s.RootTenant)
		if attr := content.Attributes["allowed_permissions"]; attr != nil {
			v, diags := evalAttr(attr, b.file.ctx, cty.List(cty.String))
			e.add(diags...)
			if known(v) {
				for it := v.ElementIterator(); it.Next(); {
					_, p := it.Element()
					if p.IsNull() {
						e.add(errorf(attr.Expr.Range().Ptr(), "Invalid permission pattern", "allowed_permissions must not contain null."))
						continue
					}
					if msg := checkPattern(p.AsString()); msg != "" {
						e.add(errorf(attr.Expr.Range().Ptr(), "Invalid permission pattern", "%q %s.", p.AsString(), msg))
						continue
					}
					s.AllowedPermissions = append(s.AllowedPermissions, p.AsString())
				}
			}
		}
		if attr := content.Attributes["token_checksum"]; attr != nil {
			v, diags := evalAttr(attr, b.file.ctx, cty.Bool)
			e.add(diags...)
			if known(v) {
				s.TokenChecksum = v.True()
			}
		}
		if attr := content.Attributes["prune"]; attr != nil {
			v, diags := evalAttr(attr, b.file.ctx, cty.DynamicPseudoType)
			if known(v) && v.Type() == cty.String && v.AsString() == "revoke" {
				p := true
				s.Prune, s.PruneRevoke = &p, true
			} else if !diags.HasErrors() {
				v, diags = evalAttr(attr, b.file.ctx, cty.Bool)
				if diags.HasErrors() {
					diags[len(diags)-1].Detail = `Inappropriate value for attribute "prune": want true (disable the owned keys the spec no longer declares), false, or "revoke" (revoke them).`
				}
			}
			e.add(diags...)
			if known(v) && v.Type() == cty.Bool {
				p := v.True()
				s.Prune = &p
			}
		}
	}
	return s
}

const identRule = "lowercase letters, digits, '-' and '_', starting with a letter or digit, at most 63 characters"

func checkPrefix(p string) string {
	if p == "" || len(p) > 32 {
		return "must have 1 to 32 characters"
	}
	for i := 0; i < len(p); i++ {
		if !token.IsTokenChar(p[i]) {
			return "may contain only letters, digits, '_' and '-'"
		}
	}
	return ""
}

func checkOwner(o string) string {
	if !ValidIdent(o) {
		return "must be " + identRule
	}
	return ""
}

// checkPattern validates an allowed_permissions entry: "*", a name, or a
// prefix ending in ".*" or ":*".
func checkPattern(p string) string {
	if p == "" {
		return "must not be empty"
	}
	if msg := checkText(p, false, 200); msg != "" {
		return msg
	}
	i := strings.IndexByte(p, '*')
	if i < 0 || p == "*" {
		return ""
	}
	if i != len(p)-1 || !(strings.HasSuffix(p, ".*") || strings.HasSuffix(p, ":*")) || len(p) < 3 {
		return `may use "*" only alone or at the end after "." or ":" (e.g. "wb.*")`
	}
	return ""
}

// allowedBy reports whether permission name n matches one of the
// patterns, by keyprov's one wildcard rule (names.Covers).
func allowedBy(n string, patterns []string) bool {
	for _, p := range patterns {
		if names.Covers(p, n) {
			return true
		}
	}
	return false
}

// -- moved ------------------------------------------------------------------

func (e *evaluator) evalMoved(keys []*Key) []Moved {
	if len(e.moved) == 0 {
		return nil // no set of 100,000 declared addresses to build
	}
	var out []Moved
	from := map[Address]hcl.Range{}
	declared := make(map[Address]bool, len(keys))
	for _, k := range keys {
		declared[k.Address] = true
	}
	for _, b := range e.moved {
		content, diags := b.Body.Content(movedSchema)
		sortByPos(diags)
		e.add(diags...)
		if diags.HasErrors() {
			continue
		}
		addr := func(name string) (Address, bool) {
			attr := content.Attributes[name]
			v, diags := evalAttr(attr, b.file.ctx, cty.String)
			e.add(diags...)
			if !known(v) {
				return Address{}, false
			}
			a, err := ParseAddress(v.AsString())
			if err != nil {
				e.add(errorf(attr.Expr.Range().Ptr(), "Invalid address in moved block", "%s.", upperFirst(err.Error())))
				return Address{}, false
			}
			return a, true
		}
		f, ok1 := addr("from")
		t, ok2 := addr("to")
		if !ok1 || !ok2 {
			continue
		}
		rng := content.Attributes["from"].Expr.Range()
		switch {
		case f == t:
			e.add(errorf(&rng, "Invalid moved block", "A key cannot move to itself (%s).", f))
			continue
		case declared[f]:
			e.add(withAddress(hcl.Diagnostics{errorf(&rng, "Invalid moved block", "%s is still declared in the spec; a moved block renames a key that the spec no longer declares.", f)}, f.String())...)
			continue
		case !declared[t]:
			e.add(withAddress(hcl.Diagnostics{errorf(content.Attributes["to"].Expr.Range().Ptr(), "Invalid moved block", "The target %s is not declared in the spec.", t)}, t.String())...)
			continue
		}
		if first, dup := from[f]; dup {
			e.add(errorf(&rng, "Duplicate moved block", "%s is already moved at %s.", f, Pos(first)))
			continue
		}
		from[f] = rng
		out = append(out, Moved{From: f, To: t, Range: b.DefRange})
	}
	// A key may be the target of one move only.
	to := map[Address]Moved{}
	for _, m := range out {
		if first, dup := to[m.To]; dup {
			e.add(errorf(m.Range.Ptr(), "Duplicate moved block", "%s is already the target of the move from %s at %s.", m.To, first.From, Pos(first.Range)))
			continue
		}
		to[m.To] = m
	}
	return out
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// dropRepeats removes the consequences of errors reported already, the
// errors of the env() and file() stubs, and HCL's
// own errors about a refused call ("Function calls not allowed"), which
// repeat what checkSecretCalls reported where the call is written.
func (e *evaluator) dropRepeats(diags hcl.Diagnostics) hcl.Diagnostics {
	out := diags[:0]
	for _, d := range diags {
		repeat := strings.Contains(d.Detail, stubMessage) || d.Summary == consequence
		if d.Subject != nil && e.secretCallAt(*d.Subject) && d.Summary != "Secret read outside a token" && d.Summary != "Secret in a token reference" {
			repeat = true
		}
		if !repeat {
			out = append(out, d)
		}
	}
	return out
}

// secretCallAt reports whether r starts where a refused call of env() or
// file() starts (HCL reports an unknown function at its name alone).
func (e *evaluator) secretCallAt(r hcl.Range) bool {
	for k := range e.secretCalls {
		if k.file == r.Filename && k.start == r.Start.Byte {
			return true
		}
	}
	return false
}
