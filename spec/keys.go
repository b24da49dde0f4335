package spec

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/keyprov/keyprov/token"
)

var keySchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "name", Required: true},
		{Name: "description"},
		{Name: "token"},
		{Name: "previous_token"},
		{Name: "previous_until"},
		{Name: "permissions"},
		{Name: "metadata"},
		{Name: "expires"},
		{Name: "revoked"},
		{Name: "disabled"},
		{Name: "for_each"},
		{Name: "slug"},
		{Name: "tenant"},
	},
}

// Length limits of key attributes.
const (
	maxNameLen        = 200
	maxDescriptionLen = 2000
	maxPermissionName = 200
	maxPermissions    = 1000
	maxMetadataKeys   = 64
	maxMetadataKeyLen = 63
	maxMetadataValLen = 1000
)

// instance is one key instance to evaluate: a block, and its for_each element.
type instance struct {
	block   blockIn
	content *hcl.BodyContent
	state   *blockState
	// eachKey and eachValue are each.key and each.value (NilVal without for_each).
	eachKey, eachValue cty.Value
	// first is set for the first instance of its block (the only one
	// without for_each): the diagnostics of the values its block's
	// instances share come back to it.
	first bool
	ref   BlockRef
	// elem is the instance's number among its block's (0 without for_each).
	elem int
}

func (e *evaluator) evalKeys(settings Settings) []*Key {
	// First the blocks and their for_each elements, then the instances,
	// made one at a time as they are evaluated (instanceSet): a million
	// instances held at once would be a quarter of a gigabyte.
	var set instanceSet
	total := 0
	var over *hcl.Range // the first block past the limit
	for _, b := range e.keys {
		content, diags := b.Body.Content(keySchema)
		sortByPos(diags)
		e.add(withAddress(diags, b.Type+"."+b.Labels[0])...)
		if diags.HasErrors() && content.Attributes["name"] == nil && len(content.Attributes) == 0 {
			continue
		}
		ref := BlockRef{decl: &blockDecl{typ: b.Type, label: b.Labels[0], defRange: b.DefRange}}
		fe := content.Attributes["for_each"]
		if fe == nil {
			if total++; total == e.limits.MaxKeys+1 {
				over = b.DefRange.Ptr()
			}
			set.add(blockWork{b: b, content: content, ref: ref, state: newBlockState(content, false, b.file.ctx, e.fn.direct)})
			continue
		}
		elems, ok := e.forEach(fe, b)
		if !ok {
			continue
		}
		total += elems.len()
		if total > e.limits.MaxKeys {
			e.add(errorf(fe.Expr.Range().Ptr(), "Too many keys", "The spec declares more than %d keys (KEYPROV_MAX_KEYS).", e.limits.MaxKeys))
			return nil
		}
		set.add(blockWork{b: b, content: content, ref: ref, state: newBlockState(content, true, b.file.ctx, e.fn.direct), elems: elems, forEach: true})
	}
	if total > e.limits.MaxKeys {
		e.add(errorf(over, "Too many keys", "The spec declares %d keys; the limit is %d (KEYPROV_MAX_KEYS), and this block is the first past it.", total, e.limits.MaxKeys))
		return nil
	}

	e.declared = make([]DeclaredBlock, 0, len(set.blocks))
	for _, w := range set.blocks {
		n := 1
		if w.forEach {
			n = w.elems.len()
		}
		e.declared = append(e.declared, DeclaredBlock{Type: w.b.Type, Label: w.b.Labels[0], DefRange: w.b.DefRange, Keys: n})
	}
	e.priorErrors = e.diags.HasErrors()
	all, valid, diags := evalInstances(e, &settings, &set)
	e.add(dropFileRepeats(diags)...)
	if !e.diags.HasErrors() {
		// Every key that is left out is reported: a key that cannot be
		// evaluated without a diagnostic would vanish from validate and diff.
		for i, k := range all {
			if !valid[i] {
				e.add(withAddress(hcl.Diagnostics{errorf(k.Block.DefRange().Ptr(), "Key not evaluated", "%s could not be evaluated, and no reason was found. This is a bug in keyprov: please report it.", k.Address)}, k.Address.String())...)
				break
			}
		}
		if len(all) < set.n {
			e.add(errorf(nil, "Key not evaluated", "%d declared keys could not be evaluated, and no reason was found. This is a bug in keyprov: please report it.", set.n-len(all)))
		}
	}
	// Duplicates are checked among every key whose address could be
	// evaluated, valid or not, so that one run reports them together with
	// the keys' other mistakes.
	e.checkDuplicates(all)
	keys := make([]*Key, 0, len(all))
	for i, k := range all {
		if valid[i] {
			keys = append(keys, k)
		}
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Address.Compare(keys[j].Address) < 0 })
	return keys
}

// forEach evaluates a for_each argument into (each.key, each.value) pairs.
func (e *evaluator) forEach(attr *hcl.Attribute, b blockIn) (forEachElems, bool) {
	addr := b.Type + "." + b.Labels[0]
	fail := func(detail string, args ...any) (forEachElems, bool) {
		e.add(withAddress(hcl.Diagnostics{errorf(attr.Expr.Range().Ptr(), "Invalid for_each argument", detail, args...)}, addr)...)
		return forEachElems{}, false
	}
	if out, ok := e.deferredForEach(attr.Expr); ok {
		return out, true
	}
	if out, ok := quickForEach(attr.Expr, b.file.ctx); ok {
		return out, true
	}
	v, diags := evalBounded(attr.Expr, b.file.ctx, "for_each")
	e.add(withAddress(diags, addr)...)
	if diags.HasErrors() {
		return forEachElems{}, false
	}
	// Checks go top-down rather than with IsWhollyKnown: walking a cty set
	// sorts it, which costs seconds for 100,000 tenants.
	const unknown = "The for_each value is not known. It must be fully known when the spec is evaluated."
	switch {
	case !v.IsKnown() && e.diags.HasErrors():
		return forEachElems{}, false // unknown because of an error reported already (a variable, a local)
	case !v.IsKnown():
		return fail(unknown)
	case v.IsNull():
		return fail("The for_each value is null; use an empty set or map to declare no keys.")
	}
	ty := v.Type()
	var out [][2]cty.Value
	switch {
	case ty.IsSetType():
		if !ty.ElementType().Equals(cty.String) {
			cv, err := convertValue(v, cty.Set(cty.String))
			if err != nil {
				return fail("for_each needs a set of strings; this set's elements are %s.", ty.ElementType().FriendlyName())
			}
			v = cv
		}
		for it := v.ElementIterator(); it.Next(); {
			_, el := it.Element()
			switch {
			case !el.IsKnown():
				return fail(unknown)
			case el.IsNull():
				return fail("The for_each set contains null.")
			}
			out = append(out, [2]cty.Value{el, el})
		}
	case ty.IsMapType() || ty.IsObjectType():
		if pairs, ok := e.quickMembers(v); ok {
			return pairs, true
		}
		// One pass over the elements, rather than a walk for unknowns and
		// an iteration, each of which sorts the keys.
		out = make([][2]cty.Value, 0, v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, el := it.Element()
			if !el.IsWhollyKnown() {
				return fail(unknown)
			}
			out = append(out, [2]cty.Value{k, el})
		}
	case ty.IsListType() || ty.IsTupleType():
		return fail("for_each needs a set or a map, and this is %s. Convert a list of strings with toset(...).", aType(ty))
	default:
		return fail("for_each needs a set of strings or a map, and this is %s.", aType(ty))
	}
	return forEachElems{vals: out}, true
}

// aType names a type with its article: "an object", "a list of string".
func aType(ty cty.Type) string {
	name := ty.FriendlyName()
	if strings.ContainsAny(name[:1], "aeiou") {
		return "an " + name
	}
	return "a " + name
}

// quoteShort quotes s for a message, cut to 64 characters: a value can be
// as long as a spec file, and a message should stay a line.
func quoteShort(s string) string {
	if utf8.RuneCountInString(s) <= 64 {
		return fmt.Sprintf("%q", s)
	}
	r := []rune(s)
	return fmt.Sprintf("%q… (%d characters)", string(r[:64]), len(r))
}

// blockWork is a key block to evaluate, with its for_each elements.
type blockWork struct {
	b       blockIn
	content *hcl.BodyContent
	ref     BlockRef
	state   *blockState
	elems   forEachElems
	forEach bool
}

// forEachElems are a for_each block's elements, (each.key, each.value):
// cty values, or the strings of a map read from a variable file
// (quickMembers), made into cty values instance by instance.
type forEachElems struct {
	vals        [][2]cty.Value
	strs        [][2]string
	fromStrings bool
}

func (f *forEachElems) len() int {
	if f.fromStrings {
		return len(f.strs)
	}
	return len(f.vals)
}

// at returns element i, and each.key as a Go string.
func (f *forEachElems) at(i int) (key, val cty.Value, keyString string) {
	if f.fromStrings {
		p := &f.strs[i]
		return cty.StringVal(p[0]), cty.StringVal(p[1]), p[0]
	}
	p := &f.vals[i]
	return p[0], p[1], p[0].AsString()
}

// instanceSet is the instances of a spec's key blocks, in order: a block
// without for_each is one instance, a for_each block one per element.
// Instances are made by at, when they are evaluated.
type instanceSet struct {
	blocks []blockWork
	// start[i] is the index of blocks[i]'s first instance.
	start []int
	n     int
}

func (s *instanceSet) add(w blockWork) {
	s.blocks = append(s.blocks, w)
	s.start = append(s.start, s.n)
	if w.forEach {
		s.n += w.elems.len()
	} else {
		s.n++
	}
}

// at returns instance i.
func (s *instanceSet) at(i int) instance {
	// The last block starting at or before i: blocks may be empty (a
	// for_each of nothing), so the search skips to the last of equal starts.
	b := sort.Search(len(s.start), func(j int) bool { return s.start[j] > i }) - 1
	w := &s.blocks[b]
	if !w.forEach {
		return instance{block: w.b, content: w.content, ref: w.ref, state: w.state, first: true}
	}
	j := i - s.start[b]
	key, val, keyString := w.elems.at(j)
	r := w.ref
	r.HasForEach, r.InstanceKey = true, keyString
	return instance{block: w.b, content: w.content, ref: r, state: w.state, eachKey: key, eachValue: val, first: j == 0, elem: j}
}

// evalInstances evaluates every instance (on every core for a large
// spec: forEachIndex). It returns the keys whose address could be
// evaluated and, for each, whether it is valid. The result keeps instance
// order (and so does the order of diagnostics), so the output does not
// depend on scheduling.
func evalInstances(e *evaluator, settings *Settings, set *instanceSet) ([]*Key, []bool, hcl.Diagnostics) {
	keys := make([]*Key, set.n)
	valid := make([]bool, set.n)
	// Diagnostics are rare: kept by instance index, not in a slice of one
	// entry per instance.
	var (
		mu    sync.Mutex
		diags = map[int]hcl.Diagnostics{}
	)
	// The keys are made in one allocation, each in its place: a million
	// separate ones cost the allocator and the collector more than the
	// keys' own evaluation.
	slab := make([]Key, set.n)
	forEachIndex(set.n, func(i int) {
		var ds hcl.Diagnostics
		keys[i], valid[i], ds = e.evalInstance(settings, set.at(i), &slab[i])
		if len(ds) > 0 {
			mu.Lock()
			diags[i] = ds
			mu.Unlock()
		}
	})
	var all hcl.Diagnostics
	for _, i := range slices.Sorted(maps.Keys(diags)) {
		all = append(all, diags[i]...)
	}
	outKeys, outValid := keys[:0], valid[:0]
	for i, k := range keys {
		if k != nil {
			outKeys = append(outKeys, k)
			outValid = append(outValid, valid[i])
		}
	}
	return outKeys, outValid, all
}

// evalInstance evaluates one key into into. It returns the key whenever its
// address could be evaluated (nil otherwise), and valid reports whether the key has
// no error at all. It only reads shared state, so instances may be
// evaluated concurrently.
func (e *evaluator) evalInstance(settings *Settings, in instance, into *Key) (k *Key, valid bool, _ hcl.Diagnostics) {
	// The evaluation's scratch state is reused from instance to instance:
	// nothing keeps it once the key is made (a million instances made
	// a quarter of a gigabyte of garbage).
	ke := keyEvals.Get().(*keyEval)
	defer func() {
		*ke = keyEval{}
		keyEvals.Put(ke)
	}()
	*ke = keyEval{e: e, settings: settings, in: in, attrs: in.state.attrs, ok: true}
	ke.scope.in = &ke.in
	ke.sc = &ke.scope
	*into = Key{Universal: in.block.Type == "universal_key", Block: in.ref}
	ke.k = into

	// Identity first, so that every later diagnostic names the key's address.
	ke.slug()
	ke.tenant()
	identified := ke.ok
	ke.name()
	ke.description()
	ke.expires()
	ke.k.Revoked = ke.flag("revoked")
	ke.k.Disabled = ke.flag("disabled")
	ke.permissions()
	ke.metadata()
	ke.token()
	ke.previousToken()

	diags := ke.diags
	if len(diags) > 0 {
		// Diagnostics name the key's address, or its block when the
		// address could not be evaluated.
		if identified {
			diags = withAddress(diags, ke.k.Address.String())
		} else {
			diags = withAddress(diags, in.ref.String())
		}
	}
	if !identified {
		return nil, false, diags
	}
	return ke.k, ke.ok && !diags.HasErrors(), diags
}

// keyEvals hold keyEvals to reuse (evalInstance).
var keyEvals = sync.Pool{New: func() any { return new(keyEval) }}

// keyEval is the evaluation of one key instance: one method per attribute,
// called in the order of evalInstance, each adding its diagnostics and
// clearing ok when the key cannot be used.
type keyEval struct {
	e        *evaluator
	settings *Settings
	in       instance
	sc       *scope
	// scope is what sc points at.
	scope scope
	attrs hcl.Attributes
	k     *Key
	diags hcl.Diagnostics
	ok    bool
}

func (ke *keyEval) add(ds ...*hcl.Diagnostic) { ke.diags = append(ke.diags, ds...) }

// fail adds a diagnostic and makes the key invalid.
func (ke *keyEval) fail(d *hcl.Diagnostic) {
	ke.add(d)
	ke.ok = false
}

// str evaluates a reviewed string attribute; it reports false when the
// attribute is absent, or its value unusable or breaking check (the
// diagnostics say why).
func (ke *keyEval) str(name string, check func(string) string) (string, bool) {
	attr := ke.attrs[name]
	if attr == nil {
		return "", false
	}
	type strResult struct {
		s  string
		ok bool
	}
	eval := func() (strResult, hcl.Diagnostics) {
		v, ds := ke.sc.value(attr, cty.String)
		if !known(v) {
			switch {
			case ds.HasErrors():
			case v.IsNull():
				ds = append(ds, errorf(attr.Expr.Range().Ptr(), "Invalid value", "%s must not be null.", name))
			case !v.IsWhollyKnown() && !ke.e.priorErrors:
				ds = append(ds, unknownValue(attr))
			}
			return strResult{}, ds
		}
		s := v.AsString()
		if msg := check(s); msg != "" {
			return strResult{}, append(ds, errorf(attr.Expr.Range().Ptr(), "Invalid "+name, "%s %s.", upperFirst(name), msg))
		}
		return strResult{s, true}, ds
	}
	var (
		res strResult
		ds  hcl.Diagnostics
	)
	if ke.in.state.isShared(name, attr) {
		r, d, _ := ke.e.shared(ke.in, name, attr, func() (any, hcl.Diagnostics) { return eval() })
		res, ds = r.(strResult), d
	} else {
		// Per instance (tenant = each.key): directly, without boxing the
		// result for the memo.
		res, ds = eval()
	}
	ke.add(ds...)
	return res.s, res.ok
}

// checkIdent is the check of str for slugs and tenants.
func checkIdent(s string) string {
	if !ValidIdent(s) {
		return fmt.Sprintf("%s is not valid: use %s", quoteShort(s), identRule)
	}
	return ""
}

// slug is the block label, or the slug attribute of a for_each instance.
func (ke *keyEval) slug() {
	b := ke.in.block
	ke.k.Address.Slug = b.Labels[0]
	attr := ke.attrs["slug"]
	switch {
	case attr != nil && !ke.in.ref.HasForEach:
		ke.fail(errorf(attr.NameRange.Ptr(), "Unexpected slug", "slug is only used with for_each, to derive a slug per instance; without for_each the block label %q is the slug.", b.Labels[0]))
	case attr != nil:
		if s, good := ke.str("slug", checkIdent); good {
			ke.k.Address.Slug = s
		} else {
			ke.ok = false
		}
	case !ValidIdent(ke.k.Address.Slug):
		ke.fail(errorf(b.LabelRanges[0].Ptr(), "Invalid slug", "The slug %s is not valid: use %s.", quoteShort(ke.k.Address.Slug), identRule))
	}
}

// tenant is the root tenant for a universal key, the tenant attribute for
// a tenant key.
func (ke *keyEval) tenant() {
	attr := ke.attrs["tenant"]
	switch {
	case ke.k.Universal:
		ke.k.Address.Tenant = ke.settings.RootTenant
		if attr != nil {
			ke.fail(errorf(attr.NameRange.Ptr(), "Unexpected tenant", "A universal key lives in the root tenant (%q) and reaches every tenant; it has no tenant argument. Use tenant_key for a key scoped to one tenant.", ke.settings.RootTenant))
		}
	case attr == nil:
		ke.fail(errorf(ke.in.block.DefRange.Ptr(), "Missing tenant", "A tenant_key needs a tenant argument naming the tenant it is scoped to."))
	default:
		if t, good := ke.str("tenant", checkIdent); good {
			ke.k.Address.Tenant = t
		} else {
			ke.ok = false
		}
	}
}

func (ke *keyEval) name() {
	s, good := ke.str("name", func(s string) string {
		if s == "" {
			return "must not be empty"
		}
		return checkText(s, false, maxNameLen)
	})
	if good {
		ke.k.Name = s
	} else if ke.attrs["name"] != nil {
		ke.ok = false
	}
}

func (ke *keyEval) description() {
	s, good := ke.str("description", func(s string) string { return checkText(s, true, maxDescriptionLen) })
	if good {
		ke.k.Description = s
	} else if ke.attrs["description"] != nil {
		ke.ok = false
	}
}

func (ke *keyEval) expires() {
	if ke.attrs["expires"] == nil {
		return
	}
	if s, good := ke.str("expires", checkTime); good {
		t := parseTime(s)
		ke.k.Expires = &t
	} else {
		ke.ok = false
	}
}

// flag evaluates revoked or disabled: false when absent.
func (ke *keyEval) flag(name string) bool {
	attr := ke.attrs[name]
	if attr == nil {
		return false
	}
	v, ds := ke.e.evalShared(ke.in, attr, ke.sc, cty.Bool)
	ke.add(ds...)
	switch {
	case v == cty.NilVal: // failed in another instance, and reported there
	case known(v):
		return v.True()
	case ds.HasErrors():
	case v.IsNull():
		ke.add(errorf(attr.Expr.Range().Ptr(), "Invalid value", "%s must not be null.", name))
	case !ke.e.priorErrors:
		ke.add(unknownValue(attr))
	}
	ke.ok = false
	return false
}

func (ke *keyEval) permissions() {
	type permsResult struct {
		p []Permission
		j []byte
	}
	attr := ke.attrs["permissions"]
	r, ds, failed := ke.e.shared(ke.in, "permissions", attr, func() (any, hcl.Diagnostics) {
		p, j, ds := permissions(attr, ke.sc.Ctx(), *ke.settings)
		return permsResult{p, j}, ds
	})
	ke.add(ds...)
	if failed {
		ke.ok = false
		return
	}
	ke.k.Permissions, ke.k.PermissionsJSON = r.(permsResult).p, r.(permsResult).j
}

func (ke *keyEval) metadata() {
	type metaResult struct {
		m map[string]string
		j []byte
	}
	attr := ke.attrs["metadata"]
	r, ds, failed := ke.e.shared(ke.in, "metadata", attr, func() (any, hcl.Diagnostics) {
		m, j, ds := metadata(attr, ke.sc.Ctx())
		return metaResult{m, j}, ds
	})
	ke.add(ds...)
	if failed {
		ke.ok = false
		return
	}
	ke.k.Metadata, ke.k.MetadataJSON = r.(metaResult).m, r.(metaResult).j
}

// token reads the token; only a revoked key may omit it.
func (ke *keyEval) token() {
	attr := ke.attrs["token"]
	if attr == nil {
		if !ke.k.Revoked {
			ke.fail(errorf(ke.in.block.DefRange.Ptr(), "Missing token", "A key needs a token argument read with env() or file(), e.g. token = env(\"FRONTEND_KEY\"). Only a revoked key may omit it."))
		}
		return
	}
	t, ds, good := ke.e.tokenAttr(attr, ke.in.content.Attributes["token"].Expr, ke.sc, *ke.settings)
	ke.add(ds...)
	ke.k.Token = t
	ke.ok = ke.ok && good
}

// previousToken reads previous_token and previous_until, which come
// together.
func (ke *keyEval) previousToken() {
	prev, until := ke.attrs["previous_token"], ke.attrs["previous_until"]
	switch {
	case prev == nil && until == nil:
		return
	case until == nil:
		ke.fail(errorf(prev.NameRange.Ptr(), "Missing previous_until", "previous_token keeps an old token valid during a rolling rotation and needs previous_until, the time after which the old token stops working."))
		return
	case prev == nil:
		ke.fail(errorf(until.NameRange.Ptr(), "Missing previous_token", "previous_until is the cutoff of previous_token, which is not set."))
		return
	}
	t, ds, tokGood := ke.e.tokenAttr(prev, ke.in.content.Attributes["previous_token"].Expr, ke.sc, *ke.settings)
	ke.add(ds...)
	s, good := ke.str("previous_until", checkTime)
	switch {
	case !tokGood || !good:
		ke.ok = false
	case ke.attrs["token"] == nil:
		ke.fail(errorf(prev.NameRange.Ptr(), "Missing token", "previous_token needs a current token."))
	case t.Known && ke.k.Token.Known && t.Secret.Equal(ke.k.Token.Secret):
		ke.fail(errorf(prev.Expr.Range().Ptr(), "Invalid previous_token", "previous_token has the same value as token; set it to the token being replaced."))
	default:
		ke.k.Previous = &PreviousToken{Token: t, Until: parseTime(s)}
	}
}

// shared computes f once per block when the instance belongs to a for_each
// block and attr does not refer to each (or is absent), and every time
// otherwise. Diagnostics of a shared value come back once, naming the block.
func (e *evaluator) shared(in instance, field string, attr *hcl.Attribute, f func() (any, hcl.Diagnostics)) (any, hcl.Diagnostics, bool) {
	if !in.state.isShared(field, attr) {
		v, ds := f()
		return v, ds, ds.HasErrors()
	}
	return in.state.shared[field].get(in.first, func() (any, hcl.Diagnostics) {
		v, ds := f()
		return v, withAddress(ds, in.ref.Type()+"."+in.ref.Label())
	})
}

// evalShared is evalAttr through shared. It returns cty.NilVal when a
// shared value failed in another instance (the failure is reported there).
func (e *evaluator) evalShared(in instance, attr *hcl.Attribute, sc *scope, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	v, ds, failed := e.shared(in, attr.Name, attr, func() (any, hcl.Diagnostics) {
		v, ds := sc.value(attr, ty)
		return v, ds
	})
	if failed && ds == nil {
		return cty.NilVal, nil
	}
	return v.(cty.Value), ds
}

// tokenAttr reads a token or previous_token attribute through its
// reference (refs.go). source is the attribute's expression as written.
// It reports false when the attribute cannot be used; its errors are then
// in the diagnostics, or were reported once for the block.
func (e *evaluator) tokenAttr(attr *hcl.Attribute, source hcl.Expression, sc *scope, settings Settings) (Token, hcl.Diagnostics, bool) {
	t := Token{Set: true, rng: sc.in.state.exprRange(attr)}
	ref, parsed := e.refs[keyOf(source.Range())]
	if ref == nil {
		if !parsed {
			// Not seen by checkSecretCalls: never expected, never read.
			return t, hcl.Diagnostics{hideSource(errorf(t.rng, "Invalid token reference", "%s could not be checked as a token reference.", attr.Name))}, false
		}
		if d := e.refDiags[keyOf(source.Range())]; d != nil {
			return t, hcl.Diagnostics{d}, false
		}
		return t, nil, false // reported once, for the block
	}
	rng := t.rng
	r, diags, good := e.readRef(ref, sc, attr.Name, rng)
	if r.source.base != nil && *r.source.base != "" {
		t.source = r.source
	}
	if !good {
		return t, diags, false
	}
	if !r.known {
		return t, diags, true // offline: only the sources are known
	}
	t.Secret, t.Known = token.NewSecret(r.value), true
	t.Digest = t.Secret.Digest()
	t.Checksum = token.HasChecksum(r.value, settings.TokenPrefix)
	for _, err := range token.Check(r.value, settings.TokenPrefix) {
		diags = append(diags, errorf(rng, "Invalid token", "The %s read from %s breaks a token rule: %s.", attr.Name, r.source.String(), strings.TrimPrefix(err.Error(), "token: ")))
	}
	// A previous_token is exempt: a rotation away from tokens without
	// checksums keeps the old one for a while.
	if settings.TokenChecksum && attr.Name == "token" && !t.Checksum {
		diags = append(diags, errorf(rng, "Invalid token", "The token read from %s carries no keyprov checksum, which settings.token_checksum requires: make tokens with keyprov token new.", r.source.String()))
	}
	return t, diags, !diags.HasErrors()
}

// unknownValue reports an attribute whose value is not known when the spec
// is evaluated. A key is never left out silently: validate, diff and plan
// would disagree with apply about the keys a spec declares. (After an
// error reported earlier, such as a variable without a value, an unknown is
// its consequence: the spec is invalid already, and it is not reported.)
func unknownValue(attr *hcl.Attribute) *hcl.Diagnostic {
	return errorf(attr.Expr.Range().Ptr(), "Unknown value", "The value of %s is not known when the spec is evaluated. Every attribute but a token must be known in a review, without secrets or a database.", attr.Name)
}

// permissions evaluates and canonicalises a permissions list: the
// permissions sorted by name, then by their canonical JSON, and their JSON
// array.
func permissions(attr *hcl.Attribute, ctx *hcl.EvalContext, settings Settings) ([]Permission, []byte, hcl.Diagnostics) {
	if attr == nil {
		return nil, []byte("[]"), nil
	}
	v, diags := evalAttr(attr, ctx, cty.DynamicPseudoType)
	if diags.HasErrors() {
		return nil, nil, diags
	}
	rng := attr.Expr.Range().Ptr()
	fail := func(detail string) ([]Permission, []byte, hcl.Diagnostics) {
		return nil, nil, append(diags, errorf(rng, "Invalid permissions", "%s", detail))
	}
	if msg := checkPermissionList(v); msg != "" {
		return fail(msg)
	}
	if v.IsNull() {
		return nil, []byte("[]"), diags
	}
	var perms []Permission
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, el := it.Element()
		p, msg := permission(i, el)
		if msg != "" {
			return fail(msg)
		}
		if len(settings.AllowedPermissions) > 0 && !allowedBy(p.Name, settings.AllowedPermissions) {
			diags = append(diags, errorf(rng, "Permission not allowed", "The permission %q matches no entry of settings.allowed_permissions (%s).", p.Name, strings.Join(quoteAll(settings.AllowedPermissions), ", ")))
		}
		perms = append(perms, p)
	}
	if diags.HasErrors() {
		return nil, nil, diags
	}
	out, msg := joinPermissions(perms)
	if msg != "" {
		return fail(msg)
	}
	return perms, out, diags
}

// checkPermissionList says what is wrong with a permissions value as a
// whole, or "": it must be known, and a list of at most maxPermissions
// (or null).
func checkPermissionList(v cty.Value) string {
	switch {
	case !v.IsWhollyKnown():
		return "The permissions are not known."
	case v.IsNull():
		return ""
	}
	ty := v.Type()
	if !(ty.IsListType() || ty.IsTupleType() || ty.IsSetType()) {
		return fmt.Sprintf("permissions must be a list of permission names or objects with a name, and this is %s.", aType(ty))
	}
	if n := v.LengthInt(); n > maxPermissions {
		return fmt.Sprintf("A key may have at most %d permissions; this one has %d.", maxPermissions, n)
	}
	return ""
}

// permission reads element i of a permissions list: a name, or an object
// with a name. It says what is wrong with it, or "".
func permission(i int, el cty.Value) (Permission, string) {
	var p Permission
	switch et := el.Type(); {
	case el.IsNull():
		return p, fmt.Sprintf("Permission %d is null.", i+1)
	case et == cty.String:
		p.Name = el.AsString()
		el = cty.ObjectVal(map[string]cty.Value{"name": el})
	case et.IsObjectType() || et.IsMapType():
		n, has := el.AsValueMap()["name"]
		if !has {
			return p, fmt.Sprintf("Permission %d has no name: each permission object needs a name, e.g. { name = \"wb.page\", rwd = \"r\" }.", i+1)
		}
		if n.IsNull() || n.Type() != cty.String {
			return p, fmt.Sprintf("The name of permission %d must be a string.", i+1)
		}
		p.Name = n.AsString()
	default:
		return p, fmt.Sprintf("Permission %d is %s; each permission is a name (\"posts:read\") or an object with a name.", i+1, aType(et))
	}
	if p.Name == "" {
		return p, fmt.Sprintf("Permission %d has an empty name.", i+1)
	}
	if msg := checkText(p.Name, false, maxPermissionName); msg != "" {
		return p, fmt.Sprintf("The name of permission %d %s.", i+1, msg)
	}
	if msg := checkStrings(el); msg != "" {
		return p, fmt.Sprintf("Permission %q %s.", p.Name, msg)
	}
	j, err := appendCanonical(nil, el)
	if err != nil {
		return p, fmt.Sprintf("Permission %q cannot be stored: %s.", p.Name, err)
	}
	p.JSON = j
	return p, ""
}

// joinPermissions sorts perms by name, then by their canonical JSON, and
// returns their JSON array, or what is wrong: a permission listed twice.
func joinPermissions(perms []Permission) ([]byte, string) {
	sort.SliceStable(perms, func(i, j int) bool {
		if perms[i].Name != perms[j].Name {
			return perms[i].Name < perms[j].Name
		}
		return string(perms[i].JSON) < string(perms[j].JSON)
	})
	out := []byte{'['}
	for i, p := range perms {
		if i > 0 {
			if string(p.JSON) == string(perms[i-1].JSON) {
				return nil, fmt.Sprintf("The permission %s is listed twice.", p.JSON)
			}
			out = append(out, ", "...)
		}
		out = append(out, p.JSON...)
	}
	return append(out, ']'), ""
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// metadata evaluates and canonicalises a metadata map.
func metadata(attr *hcl.Attribute, ctx *hcl.EvalContext) (map[string]string, []byte, hcl.Diagnostics) {
	if attr == nil {
		return nil, []byte("{}"), nil
	}
	v, diags := evalAttr(attr, ctx, cty.Map(cty.String))
	if diags.HasErrors() {
		return nil, nil, diags
	}
	rng := attr.Expr.Range().Ptr()
	fail := func(detail string, args ...any) (map[string]string, []byte, hcl.Diagnostics) {
		return nil, nil, append(diags, errorf(rng, "Invalid metadata", detail, args...))
	}
	if !v.IsWhollyKnown() {
		return fail("The metadata is not known.")
	}
	if v.IsNull() {
		return nil, []byte("{}"), diags
	}
	if v.LengthInt() > maxMetadataKeys {
		return fail("At most %d metadata entries are allowed.", maxMetadataKeys)
	}
	m := map[string]string{}
	for it := v.ElementIterator(); it.Next(); {
		kv, vv := it.Element()
		k := kv.AsString()
		if vv.IsNull() {
			return fail("The metadata value for %q is null.", k)
		}
		if k == "" {
			return fail("Metadata keys must not be empty.")
		}
		if msg := checkText(k, false, maxMetadataKeyLen); msg != "" {
			return fail("The metadata key %q %s.", k, msg)
		}
		if msg := checkText(vv.AsString(), false, maxMetadataValLen); msg != "" {
			return fail("The metadata value for %q %s.", k, msg)
		}
		m[k] = vv.AsString()
	}
	j, err := appendCanonical(nil, v)
	if err != nil {
		return fail("The metadata cannot be stored: %s.", err)
	}
	return m, j, diags
}

// checkText rejects invalid UTF-8, control characters and invisible
// bidirectional overrides (which can make a reviewed name read differently
// from what is stored), and bounds the length.
func checkText(s string, allowNewlines bool, max int) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	if n := utf8.RuneCountInString(s); n > max {
		return fmt.Sprintf("is %d characters long; at most %d are allowed", n, max)
	}
	for _, r := range s {
		if allowNewlines && (r == '\n' || r == '\t') {
			continue
		}
		if unicode.IsControl(r) {
			return fmt.Sprintf("contains the control character %U", r)
		}
		if isBidiControl(r) {
			return fmt.Sprintf("contains the invisible bidirectional control character %U", r)
		}
	}
	return ""
}

func isBidiControl(r rune) bool {
	return r >= 0x202A && r <= 0x202E || r >= 0x2066 && r <= 0x2069 || r == 0x200E || r == 0x200F || r == 0x061C
}

// checkStrings applies checkText to every string inside a permission value.
func checkStrings(v cty.Value) string {
	if v.IsNull() {
		return ""
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return checkText(v.AsString(), true, 10000)
	case ty.IsObjectType() || ty.IsMapType() || ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		for it := v.ElementIterator(); it.Next(); {
			k, el := it.Element()
			if k.Type() == cty.String {
				if msg := checkText(k.AsString(), false, 200); msg != "" {
					return "has an attribute name that " + msg
				}
			}
			if msg := checkStrings(el); msg != "" {
				return msg
			}
		}
	}
	return ""
}

func checkTime(s string) string {
	if _, err := time.Parse(time.RFC3339, s); err != nil {
		return fmt.Sprintf("%q is not an RFC 3339 time such as \"2027-06-30T00:00:00Z\"", s)
	}
	return ""
}

// parseTime parses an RFC 3339 time already checked by checkTime. Times are
// kept in UTC at microsecond precision, the precision PostgreSQL stores.
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339, s)
	return t.UTC().Truncate(time.Microsecond)
}

// checkDuplicates reports keys with the same address, and tokens used twice.
// A key whose address is taken already is reported as such and its tokens
// are not compared. The two checks build an index of every key each
// (dupindex.go): they run side by side, the token check
// assuming no duplicate addresses, and only when there are some (a spec
// with errors) is it run again without those keys. The diagnostics come
// in key order either way.
func (e *evaluator) checkDuplicates(keys []*Key) {
	var (
		dupAddr               []bool
		addrDiags, tokenDiags []keyDiag
	)
	both(func() { dupAddr, addrDiags = duplicateAddresses(keys) }, func() { tokenDiags = duplicateTokens(keys, nil) })
	if len(addrDiags) > 0 {
		tokenDiags = duplicateTokens(keys, dupAddr)
	}
	all := append(addrDiags, tokenDiags...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].key < all[j].key })
	for _, d := range all {
		e.add(d.diags...)
	}
}

// keyDiag is a diagnostic about keys[key].
type keyDiag struct {
	key   int
	diags hcl.Diagnostics
}

// duplicateAddresses reports every key whose address an earlier key has;
// dup marks them.
func duplicateAddresses(keys []*Key) (dup []bool, out []keyDiag) {
	first := newAddressIndex(keys, len(keys))
	for i, k := range keys {
		fi, taken := first.add(i)
		if !taken {
			continue
		}
		f := keys[fi]
		if dup == nil {
			dup = make([]bool, len(keys))
		}
		dup[i] = true
		where := Pos(f.Block.DefRange())
		if f.Block.HasForEach {
			where += fmt.Sprintf(" (instance %q)", f.Block.InstanceKey)
		}
		out = append(out, keyDiag{i, withAddress(hcl.Diagnostics{errorf(k.Block.DefRange().Ptr(), "Duplicate key",
			"The key %s is declared twice: by %s here, and first at %s. A key's identity is its tenant and slug.", k.Address, k.Block, where)}, k.Address.String())})
	}
	return dup, out
}

// duplicateTokens reports every token (or previous token) that an earlier
// key, or the same key's other token, has, leaving out the keys that skip
// marks.
func duplicateTokens(keys []*Key, skip []bool) []keyDiag {
	// Room for one token a key: a previous token is rare, and the index
	// grows if there are many.
	tokens := newDigestIndex(keys, len(keys))
	var out []keyDiag
	for i, k := range keys {
		if skip != nil && skip[i] {
			continue
		}
		check := func(t *Token, which int) {
			if !t.Known {
				return
			}
			// The digest is computed with the token, on every core.
			if fk, fw, dup := tokens.add(i, which); dup {
				out = append(out, keyDiag{i, withAddress(hcl.Diagnostics{errorf(t.Range().Ptr(), "Token used twice",
					"The %s of %s has the same value as the %s of %s. Every key needs its own token.", tokenAttrs[which], k.Address, tokenAttrs[fw], keys[fk].Address)}, k.Address.String())})
			}
		}
		check(&k.Token, currentToken)
		if k.Previous != nil {
			check(&k.Previous.Token, previousToken)
		}
	}
	return out
}

// tokenAttrs names the attribute of currentToken and previousToken.
var tokenAttrs = [2]string{currentToken: "token", previousToken: "previous_token"}
