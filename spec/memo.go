package spec

import (
	"sync"

	"github.com/hashicorp/hcl/v2"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// A for_each block over 100,000 tenants evaluates its attributes 100,000
// times, but most of them (permissions, metadata, expires…) do not refer to
// each and have the same value every time. They are evaluated once for the
// block, by the first instance that needs them, and their diagnostics are
// reported once, naming the block. blockState, built once per block before
// the instances are evaluated, holds those values, and the fast forms the
// speed layer gave the per-instance attributes (foldAttr). Instances only
// read it, so they need no lock beyond each value's sync.Once.
type blockState struct {
	// attrs are the block's attributes.
	attrs hcl.Attributes
	// perInstance names the attributes that refer to each.
	perInstance map[string]bool
	// shared holds one entry per field that instances share.
	shared map[string]*memoEntry
	// fast holds the fast forms of per-instance attributes (foldAttr).
	fast map[string]fast.Expr
	// limits are the evaluation's: a fast value past them is left to HCL.
	limits Limits
	// ranges are the ranges of the token attributes' expressions, which
	// the block's keys share (Token.Range).
	ranges map[*hcl.Attribute]*hcl.Range
}

// exprRange returns the range of attr's expression: the block's shared
// copy for a token attribute.
func (bs *blockState) exprRange(attr *hcl.Attribute) *hcl.Range {
	if r := bs.ranges[attr]; r != nil {
		return r
	}
	r := attr.Expr.Range()
	return &r
}

type memoEntry struct {
	once  sync.Once
	val   any
	diags hcl.Diagnostics
}

// get returns f's result, computing it once, whichever instance asks
// first. The diagnostics are returned to the block's first instance only
// (first), which asks for every shared value its block's instances ask
// for: they come out in the same place whatever the order in which
// instances run. failed reports whether they hold errors.
func (me *memoEntry) get(first bool, f func() (any, hcl.Diagnostics)) (val any, diags hcl.Diagnostics, failed bool) {
	me.once.Do(func() { me.val, me.diags = f() })
	if first {
		diags = me.diags
	}
	return me.val, diags, me.diags.HasErrors()
}

// sharedFields are the values a for_each block's instances may share.
var sharedFields = []string{"name", "description", "expires", "revoked", "disabled", "permissions", "metadata", "slug", "tenant", "previous_until"}

func newBlockState(content *hcl.BodyContent, forEach bool, ctx *hcl.EvalContext, direct map[string]fast.Direct) *blockState {
	bs := &blockState{attrs: content.Attributes, ranges: map[*hcl.Attribute]*hcl.Range{}}
	for _, name := range []string{"token", "previous_token"} {
		if attr := content.Attributes[name]; attr != nil {
			r := attr.Expr.Range()
			bs.ranges[attr] = &r
		}
	}
	if !forEach {
		return bs
	}
	bs.perInstance = make(map[string]bool, len(content.Attributes))
	bs.fast = make(map[string]fast.Expr, len(content.Attributes))
	bs.limits = limitsOf(ctx)
	for name, attr := range content.Attributes {
		// Token attributes are references, read by readRef.
		if name != "for_each" && name != "token" && name != "previous_token" && refersToEach(attr.Expr) {
			bs.perInstance[name] = true
			if f := foldAttr(attr, ctx, direct); f != nil {
				bs.fast[name] = f
			}
		}
	}
	bs.shared = make(map[string]*memoEntry, len(sharedFields))
	for _, f := range sharedFields {
		bs.shared[f] = &memoEntry{}
	}
	return bs
}

// isShared reports whether the instances of the block share field, whose
// attribute is attr (nil when absent): see evaluator.shared.
func (bs *blockState) isShared(field string, attr *hcl.Attribute) bool {
	return bs.shared[field] != nil && (attr == nil || !bs.perInstance[attr.Name])
}

// refersToEach reports whether expr refers to each: an attribute that does
// is evaluated per instance.
func refersToEach(expr hcl.Expression) bool { return fast.RefersToEach(expr) }
