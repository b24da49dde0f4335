package spec

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"
)

// A for_each block over 100,000 tenants evaluates its attributes 100,000
// times, but most of them (permissions, metadata, expires…) do not refer to
// each and have the same value every time. Those are evaluated once per
// block and shared; their diagnostics are reported once, not once per
// instance.

type memoEntry struct {
	once  sync.Once
	val   any
	diags hcl.Diagnostics
	taken atomic.Bool
}

// memo returns f's result for key, computing it once. The diagnostics are
// returned to the first caller only; failed reports whether they hold errors.
func (e *evaluator) memo(key any, f func() (any, hcl.Diagnostics)) (val any, diags hcl.Diagnostics, failed bool) {
	m, _ := e.memos.LoadOrStore(key, &memoEntry{})
	me := m.(*memoEntry)
	me.once.Do(func() { me.val, me.diags = f() })
	if me.taken.CompareAndSwap(false, true) {
		diags = me.diags
	}
	return me.val, diags, me.diags.HasErrors()
}

type eachKey struct{ expr hcl.Expression }

// perInstance reports whether attr refers to each, so that its value may
// differ between for_each instances.
func (e *evaluator) perInstance(attr *hcl.Attribute) bool {
	v, _, _ := e.memo(eachKey{attr.Expr}, func() (any, hcl.Diagnostics) {
		return refersToEach(attr.Expr), nil
	})
	return v.(bool)
}

func refersToEach(expr hcl.Expression) bool {
	for _, tr := range expr.Variables() {
		if tr.RootName() == "each" {
			return true
		}
	}
	return false
}
