package spec

import (
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// EnvVarPrefix prefixes environment variables that set spec variables.
const EnvVarPrefix = "KEYPROV_VAR_"

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
	},
}

type varDecl struct {
	name string
	ty   cty.Type
	val  cty.Value
	set  bool
	// failed is set when a value was given but could not be used; the
	// error is reported where the value is, not again as a missing value.
	failed   bool
	defRange hcl.Range
	// members are set, and val is cty.DynamicVal, when the value is a
	// map read as its members alone (quickVarFile).
	members *varMembers
}

// evalVariables declares the variables and resolves their values, in rising
// precedence: default, KEYPROV_VAR_<name>, -var-file files in order, -var
// flags in order. It returns the object bound to "var".
func (e *evaluator) evalVariables() cty.Value {
	decls := map[string]*varDecl{}
	var order []string
	for _, b := range e.variables {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			e.add(errorf(b.LabelRanges[0].Ptr(), "Invalid variable name", "%q is not a valid name: use letters, digits, '_' and '-', starting with a letter.", name))
			continue
		}
		if first, dup := decls[name]; dup {
			e.add(errorf(b.DefRange.Ptr(), "Duplicate variable", "The variable %q is already declared at %s.", name, Pos(first.defRange)))
			continue
		}
		d := &varDecl{name: name, ty: cty.DynamicPseudoType, defRange: b.DefRange}
		decls[name] = d
		order = append(order, name)
		content, diags := b.Body.Content(variableSchema)
		e.add(diags...)
		if attr := content.Attributes["type"]; attr != nil {
			ty, diags := typeexpr.TypeConstraint(attr.Expr)
			e.add(diags...)
			if !diags.HasErrors() {
				d.ty = ty
			}
		}
		if attr := content.Attributes["description"]; attr != nil {
			v, diags := evalAttr(attr, nil, cty.String)
			e.add(diags...)
			_ = v
		}
		if attr := content.Attributes["default"]; attr != nil {
			v, diags := attr.Expr.Value(nil)
			e.add(diags...)
			if diags.HasErrors() {
				d.failed = true
			} else {
				d.setValue(e, v, attr.Expr.Range())
			}
		}
	}

	for _, name := range order {
		if raw, ok := e.opts.lookupEnv(EnvVarPrefix + name); ok {
			d := decls[name]
			v, diags := parseRawVar(raw, d.ty, EnvVarPrefix+name)
			e.add(diags...)
			if diags.HasErrors() {
				d.failed = true
			} else {
				d.setValue(e, v, hcl.Range{Filename: EnvVarPrefix + name})
			}
		}
	}
	e.forEachOnly = e.forEachOnlyVars()
	for _, path := range e.opts.VarFiles {
		e.readVarFile(path, decls)
	}
	for _, src := range e.opts.VarSources {
		if int64(len(src.Bytes)) > e.limits.MaxFileBytes {
			e.add(errorf(nil, "Cannot read variable file", "%s: %v: %d bytes, the limit is %d (KEYPROV_MAX_FILE_BYTES).", src.Name, ErrTooLarge, len(src.Bytes), e.limits.MaxFileBytes))
			continue
		}
		e.parseVarFile(src.Name, src.Bytes, false, decls)
	}
	for _, kv := range e.opts.Vars {
		rng := hcl.Range{Filename: "-var " + kv.Name}
		d := decls[kv.Name]
		if d == nil {
			e.add(errorf(nil, "Undeclared variable", "A value was given with -var for %q, but no variable of that name is declared in the spec.", kv.Name))
			continue
		}
		v, diags := parseRawVar(kv.Value, d.ty, rng.Filename)
		e.add(diags...)
		if diags.HasErrors() {
			d.failed = true
		} else {
			d.setValue(e, v, rng)
		}
	}

	vals := make(map[string]cty.Value, len(decls))
	for _, name := range order {
		d := decls[name]
		if !d.set && d.failed {
			vals[name] = cty.DynamicVal
			continue
		}
		if !d.set {
			e.add(errorf(d.defRange.Ptr(), "No value for required variable",
				"The variable %q has no default. Set it with -var %s=VALUE, in a -var-file, or with the environment variable %s%s.", name, name, EnvVarPrefix, name))
			vals[name] = cty.DynamicVal
			continue
		}
		vals[name] = d.val
		if d.members != nil {
			if e.deferred == nil {
				e.deferred = map[string]*varMembers{}
			}
			e.deferred[name] = d.members
		}
	}
	return cty.ObjectVal(vals)
}

// setValue converts v to the declared type and records it.
func (d *varDecl) setValue(e *evaluator, v cty.Value, rng hcl.Range) {
	cv, err := convertValue(v, d.ty)
	if err != nil {
		var subject *hcl.Range
		if rng.Start.Line > 0 {
			subject = rng.Ptr()
		}
		where := ""
		if subject == nil {
			where = " (from " + rng.Filename + ")"
		}
		e.add(errorf(subject, "Invalid value for variable", "The value for variable %q%s is not a valid %s: %s.", d.name, where, typeexpr.TypeString(d.ty), err))
		d.failed = true
		return
	}
	// A value set from outside is written out, so an infinity in it is a
	// literal past big.Float's exponent (1E700000000).
	if decodedNumberOutOfRange(cv) {
		var subject *hcl.Range
		if rng.Start.Line > 0 {
			subject = rng.Ptr()
		}
		e.add(errorf(subject, "Invalid value for variable", "The value for variable %q (from %s) holds a number out of range: %s.", d.name, rng.Filename, numberRule))
		d.failed = true
		return
	}
	if e.varTooLarge(d, cv, rng) {
		d.failed = true
		return
	}
	d.val, d.set, d.members = cv, true, nil
}

// withinLimits reports whether every value of vals, and every map of
// members, is within the limits.
func (e *evaluator) withinLimits(vals map[string]cty.Value, members map[string]*varMembers) bool {
	for n, v := range vals {
		if m := members[n]; m != nil {
			if int64(len(m.Pairs)) > int64(e.limits.MaxElements) || m.Bytes > e.limits.MaxValueBytes {
				return false
			}
			continue
		}
		if !e.quickWithinLimits(v, e.limits) && checkValueSize(v, e.limits) != "" {
			return false
		}
	}
	return true
}

// parseRawVar interprets a value given as a string (-var, KEYPROV_VAR_*).
// For primitive and unspecified types the string is the value, as written;
// for collection and structural types it is parsed as an HCL expression
// (e.g. ["acme", "globex"]).
func parseRawVar(raw string, ty cty.Type, name string) (cty.Value, hcl.Diagnostics) {
	// A string value would otherwise reach cty with its invalid bytes
	// replaced by U+FFFD: the key would not say what was given.
	if !utf8.ValidString(raw) {
		return cty.DynamicVal, hcl.Diagnostics{errorf(nil, "Invalid value for variable", "The value from %s is not valid UTF-8 text.", name)}
	}
	if ty.IsPrimitiveType() || ty == cty.DynamicPseudoType {
		return cty.StringVal(raw), nil
	}
	if diags := checkExpressionNesting([]byte(raw), name); diags != nil {
		return cty.DynamicVal, diags
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), name, hcl.InitialPos)
	if diags.HasErrors() {
		return cty.DynamicVal, diags
	}
	v, diags := expr.Value(nil)
	return v, diags
}

func (e *evaluator) readVarFile(path string, decls map[string]*varDecl) {
	b, err := readFileLimited(path, e.limits.MaxFileBytes, "KEYPROV_MAX_FILE_BYTES")
	e.rec.record(InputVarFile, path, b, err == nil)
	if err != nil {
		e.add(errorf(nil, "Cannot read variable file", "%s.", describeFSError(path, err)))
		return
	}
	e.parseVarFile(path, b, true, decls)
}

// parseVarFile sets variables from the text b of the variable file path
// (JSON when path ends in .json, else HCL). owned says that b is the
// evaluation's own (read by readFileLimited), so values may share its bytes.
func (e *evaluator) parseVarFile(path string, b []byte, owned bool, decls map[string]*varDecl) {
	p := hclparse.NewParser()
	var (
		f     *hcl.File
		diags hcl.Diagnostics
	)
	if strings.HasSuffix(path, ".json") {
		// A large file of strings and flat collections of strings (100,000
		// tenants) is read directly (quickVarFile) instead of through HCL's
		// JSON parser, which records a source range for every element;
		// anything else, or any problem, goes the general way below, which
		// reports problems with their positions. Its values have their
		// variables' types and hold no number; one past the limits is
		// reported by the general way, where it is written.
		types := make(map[string]cty.Type, len(decls))
		for n, d := range decls {
			types[n] = d.ty
		}
		var text string
		if owned {
			text = ownedString(b)
		} else {
			text = string(b)
		}
		if vals, members, ok := e.quickVarFile(text, types); ok && e.withinLimits(vals, members) {
			for n, v := range vals {
				decls[n].val, decls[n].set, decls[n].members = v, true, members[n]
			}
			return
		}
	}
	if d := checkSource(b, path, strings.HasSuffix(path, ".json")); d != nil {
		e.add(d...)
		return
	}
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSON(b, path)
	} else {
		f, diags = p.ParseHCL(b, path)
	}
	e.add(diags...)
	if diags.HasErrors() {
		return
	}
	attrs, diags := f.Body.JustAttributes()
	sortByPos(diags)
	e.add(diags...)
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		attr := attrs[n]
		d := decls[n]
		if d == nil {
			e.add(errorf(attr.NameRange.Ptr(), "Undeclared variable", "The variable file sets %q, but no variable of that name is declared in the spec.", n))
			continue
		}
		v, diags := attr.Expr.Value(nil)
		e.add(diags...)
		if diags.HasErrors() {
			d.failed = true
		} else {
			d.setValue(e, v, attr.Expr.Range())
		}
	}
}

// -- locals -------------------------------------------------------------------

type localDecl struct {
	name  string
	attr  *hcl.Attribute
	file  *parsedFile
	state int // 0 new, 1 evaluating, 2 done
}

// evalLocals evaluates every local value in dependency order and binds the
// "local" object. A cycle is reported once, naming its members.
func (e *evaluator) evalLocals() {
	order := e.declareLocals()
	le := &localsEval{e: e, vals: map[string]cty.Value{}}
	e.base.Variables["local"] = cty.EmptyObjectVal
	for _, n := range order {
		le.visit(e.localDecls[n])
	}
	e.base.Variables["local"] = cty.ObjectVal(le.vals)
}

// declareLocals collects the local values of every locals block into
// e.localDecls and returns their names in source order.
func (e *evaluator) declareLocals() []string {
	e.localDecls = map[string]*localDecl{}
	var order []string
	for _, b := range e.locals {
		attrs, diags := b.Body.JustAttributes()
		sortByPos(diags)
		e.add(diags...)
		names := make([]string, 0, len(attrs))
		for n := range attrs {
			names = append(names, n)
		}
		sort.Slice(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
		for _, n := range names {
			attr := attrs[n]
			if first, dup := e.localDecls[n]; dup {
				e.add(errorf(attr.NameRange.Ptr(), "Duplicate local value", "The local value %q is already defined at %s.", n, Pos(first.attr.NameRange)))
				continue
			}
			e.localDecls[n] = &localDecl{name: n, attr: attr, file: b.file}
			order = append(order, n)
		}
	}
	return order
}

// localsEval walks the local values depth first, each after the locals it
// refers to.
type localsEval struct {
	e     *evaluator
	vals  map[string]cty.Value
	stack []string // the locals being evaluated, outermost first
	// chainReported is set once a chain too long has been reported.
	chainReported bool
}

func (le *localsEval) visit(d *localDecl) {
	switch d.state {
	case 2:
		return
	case 1:
		le.cycle(d)
		return
	}
	d.state = 1
	le.stack = append(le.stack, d.name)
	if len(le.stack) > MaxNesting {
		le.tooLong(d)
		return
	}
	deps, whole := le.deps(d)
	for _, dep := range deps {
		le.visit(le.e.localDecls[dep])
	}
	le.stack = le.stack[:len(le.stack)-1]
	if d.state == 2 { // part of a cycle, already reported
		return
	}
	le.vals[d.name] = le.eval(d, deps, whole)
	d.state = 2
}

// cycle reports the cycle that reaching d again closes, and gives its
// members no value.
func (le *localsEval) cycle(d *localDecl) {
	i := 0
	for le.stack[i] != d.name {
		i++
	}
	cycle := append(append([]string{}, le.stack[i:]...), d.name)
	le.e.add(errorf(d.attr.NameRange.Ptr(), "Cycle in local values",
		"The local values refer to each other in a cycle: local.%s. Break the cycle.", strings.Join(cycle, " → local.")))
	for _, n := range le.stack[i:] {
		le.vals[n] = cty.DynamicVal
		le.e.localDecls[n].state = 2
	}
}

// tooLong reports, once, a chain of locals longer than MaxNesting: each
// could add MaxNesting levels to the one it refers to, and a long chain
// would build values too deep to handle. d gets no value.
func (le *localsEval) tooLong(d *localDecl) {
	if !le.chainReported {
		le.chainReported = true
		le.e.add(errorf(d.attr.NameRange.Ptr(), "Local values nested too deeply",
			"local.%s is reached through a chain of more than %d local values that refer to each other. Shorten the chain.", d.name, MaxNesting))
	}
	le.stack = le.stack[:len(le.stack)-1]
	le.vals[d.name] = cty.DynamicVal
	d.state = 2
}

// deps returns the locals d refers to, in the order it refers to them;
// whole is set when it uses the local object itself, or a local that does
// not exist (for HCL's "did you mean").
func (le *localsEval) deps(d *localDecl) (deps []string, whole bool) {
	for _, tr := range d.attr.Expr.Variables() {
		if tr.RootName() != "local" {
			continue
		}
		step, ok := hcl.TraverseAttr{}, len(tr) >= 2
		if ok {
			step, ok = tr[1].(hcl.TraverseAttr)
		}
		if !ok || le.e.localDecls[step.Name] == nil {
			whole = true
			continue
		}
		deps = append(deps, step.Name)
	}
	return deps, whole
}

// eval evaluates d with just the locals it refers to: rebuilding the
// object of every local for each of them made N locals cost N² (20,000
// locals took minutes). When whole is set, d sees every local evaluated
// so far.
func (le *localsEval) eval(d *localDecl, deps []string, whole bool) cty.Value {
	e := le.e
	ctx := d.file.ctx
	if whole {
		e.base.Variables["local"] = cty.ObjectVal(le.vals)
	} else {
		refs := make(map[string]cty.Value, len(deps))
		for _, n := range deps {
			refs[n] = le.vals[n]
		}
		ctx = ctx.NewChild()
		ctx.Variables = map[string]cty.Value{"local": cty.ObjectVal(refs)}
	}
	v, diags := evalBounded(d.attr.Expr, ctx, "local."+d.name)
	e.add(diags...)
	switch {
	case diags.HasErrors():
		return cty.DynamicVal
	case typeTooDeep(v.Type(), MaxNesting):
		e.add(errorf(d.attr.Expr.Range().Ptr(), "Value nested too deeply",
			"The value of local.%s nests lists, maps and objects more than %d levels deep. Simplify it.", d.name, MaxNesting))
		return cty.DynamicVal
	}
	return v
}
