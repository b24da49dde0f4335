package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// scope evaluates the attributes of one instance: through their fast
// forms where the speed layer gave them one (foldAttr), otherwise with HCL
// in an evaluation context built on first use.
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
	if v, ok := evalFast(s.in.state.fast[attr.Name], s.in); ok && checkValueSize(v, s.in.state.limits) == "" {
		if cv, err := convertValue(v, ty); err == nil {
			return cv, nil
		}
	}
	return evalAttr(attr, s.Ctx(), ty)
}
