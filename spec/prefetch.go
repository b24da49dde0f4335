package spec

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// prefetch starts computing, on another core, the parts of for_each blocks
// that fold will compute and that depend on nothing the evaluation has to
// produce first: calls without any variable, such as the
// jsondecode(file("secrets.json")) of
//
//	token = jsondecode(file("secrets.json"))[each.key]
//
// file() and jsondecode cache their results, so when fold reaches the
// call, after the variables (a large var-file), the locals and the
// for_each collection, it finds the value ready or waits for it. The set
// of calls is fold's own (replaceEachFree), narrowed to those without
// variables: nothing is read that the evaluation would not read. Results
// and diagnostics are dropped here; the evaluation reports them.
//
// The goroutine is not waited for: it only fills caches, and when the
// evaluation needs a value it waits on that value's cache entry. It closes
// the returned channel when it is done (nil: nothing to prefetch).
func (e *evaluator) prefetch() <-chan struct{} {
	type call struct {
		expr hclsyntax.Expression
		ctx  *hcl.EvalContext
	}
	var calls []call
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
			replaceEachFree(attr.Expr, func(x hclsyntax.Expression) hclsyntax.Expression {
				if len(x.Variables()) == 0 {
					if ctx == nil {
						// Its own context: the evaluation adds variables to
						// the files' contexts meanwhile.
						ctx = (&hcl.EvalContext{Functions: e.fn.std}).NewChild()
						ctx.Functions = stubFuncs()
					}
					calls = append(calls, call{x, ctx})
				}
				return x
			})
		}
	}
	// The files of token references whose path names no variable: a
	// secrets file of 100,000 entries is read and decoded meanwhile.
	type file struct {
		path string
		json bool
	}
	var files []file
	if e.opts.Secrets {
		ctx := &hcl.EvalContext{Functions: e.fn.std}
		for _, r := range e.refs {
			if r == nil || r.kind == refEnv || len(r.arg.Variables()) > 0 {
				continue
			}
			if v, diags := r.arg.Value(ctx); !diags.HasErrors() && plainString(v) {
				files = append(files, file{r.absPath(v.AsString()), r.kind == refJSON})
			}
		}
	}
	if len(calls) == 0 && len(files) == 0 {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, f := range files {
			if f.json {
				_, _ = e.fn.secretJSON(f.path)
			} else {
				_, _ = e.fn.secretFile(f.path)
			}
		}
		for _, c := range calls {
			_, _ = c.expr.Value(c.ctx)
		}
	}()
	return done
}
