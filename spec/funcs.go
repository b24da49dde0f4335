package spec

import (
	"encoding/json"
	"sync"

	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/keyprov/keyprov/spec/internal/fast"
)

// guardBounded wraps f so that it never builds a result past l (bounded,
// boundedfuncs.go) and a number it returns is never too large to print
// (see numberOutOfRange), in one wrapper: a per-instance call such as
// strlen(each.value) runs once for every key. Marks, unknowns and nulls
// are handed to f unchanged, so f keeps its own semantics (including how
// marks pass to the result). No value in HCL is secret: token references
// are read in Go (refs.go), so an error message may quote its arguments.
func guardBounded(name string, f function.Function, l Limits) function.Function {
	return wrapBounded(name, f, l, true)
}

func open(p function.Parameter) function.Parameter {
	p.AllowMarked, p.AllowUnknown, p.AllowNull, p.AllowDynamicType = true, true, true, true
	return p
}

// funcs holds the function table and the files that token references read.
type funcs struct {
	opts     *Options
	maxBytes int64

	mu      sync.Mutex
	files   map[string]fileResult
	secrets map[string]*secretJSONResult
	// decoded holds what jsondecode made of large inputs (decodeCached).
	decoded fast.DecodeCache
	// rec records the files read (nil in some tests).
	rec *recorder

	std map[string]function.Function
	// direct are the guarded functions of std for the speed layer's calls
	// (directCalls).
	direct map[string]fast.Direct
}

type fileResult struct {
	s   string
	err error
}

func newFuncs(opts *Options) *funcs {
	fs := &funcs{opts: opts, maxBytes: opts.limits().MaxFileBytes, files: map[string]fileResult{}, secrets: map[string]*secretJSONResult{}}
	std := map[string]function.Function{
		"abs":             stdlib.AbsoluteFunc,
		"ceil":            stdlib.CeilFunc,
		"chomp":           stdlib.ChompFunc,
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"csvdecode":       stdlib.CSVDecodeFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"floor":           stdlib.FloorFunc,
		"format":          stdlib.FormatFunc,
		"formatdate":      stdlib.FormatDateFunc,
		"formatlist":      stdlib.FormatListFunc,
		"indent":          stdlib.IndentFunc,
		"index":           stdlib.IndexFunc,
		"join":            stdlib.JoinFunc,
		"jsonencode":      stdlib.JSONEncodeFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"log":             stdlib.LogFunc,
		"lookup":          stdlib.LookupFunc,
		"lower":           stdlib.LowerFunc,
		"max":             stdlib.MaxFunc,
		"merge":           stdlib.MergeFunc,
		"min":             stdlib.MinFunc,
		"parseint":        stdlib.ParseIntFunc,
		"pow":             stdlib.PowFunc,
		"range":           stdlib.RangeFunc,
		"regex":           stdlib.RegexFunc,
		"regexall":        stdlib.RegexAllFunc,
		"regex_replace":   stdlib.RegexReplaceFunc,
		"replace":         stdlib.ReplaceFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"signum":          stdlib.SignumFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"split":           stdlib.SplitFunc,
		"strlen":          stdlib.StrlenFunc,
		"strrev":          stdlib.ReverseFunc,
		"substr":          stdlib.SubstrFunc,
		"timeadd":         stdlib.TimeAddFunc,
		"title":           stdlib.TitleFunc,
		"tobool":          stdlib.MakeToFunc(cty.Bool),
		"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber":        stdlib.MakeToFunc(cty.Number),
		"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring":        stdlib.MakeToFunc(cty.String),
		"trim":            stdlib.TrimFunc,
		"trimprefix":      stdlib.TrimPrefixFunc,
		"trimspace":       stdlib.TrimSpaceFunc,
		"trimsuffix":      stdlib.TrimSuffixFunc,
		"upper":           stdlib.UpperFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
	}
	fs.direct = directCalls(std, opts.limits())
	for name, f := range std {
		std[name] = guardBounded(name, f, opts.limits())
	}
	// try and can must see their arguments' diagnostics; they are not guarded.
	std["jsondecode"] = bounded("jsondecode", fs.jsonDecodeFunc(), opts.limits()) // handles marks itself (see there)
	std["try"] = tryfunc.TryFunc
	std["can"] = tryfunc.CanFunc
	fs.std = std
	return fs
}

// jsonDecodeFunc is jsondecode. A spec that writes
// jsondecode(var.names_json)[each.key] decodes the text once, not once per
// for_each instance (decodeCached).
func (fs *funcs) jsonDecodeFunc() function.Function {
	decode := func(s string) (cty.Value, error) { return fs.decodeCached(s, decodeJSON) }
	// Marks are handled here rather than by cty: cty would walk the
	// arguments and the result for marks on every call of every instance.
	return function.New(&function.Spec{
		Description: stdlib.JSONDecodeFunc.Description(),
		Params:      []function.Parameter{{Name: "str", Type: cty.String, AllowMarked: true, AllowUnknown: true}},
		Type: func(args []cty.Value) (cty.Type, error) {
			a, _ := args[0].Unmark()
			if !a.IsKnown() {
				return cty.DynamicPseudoType, nil
			}
			v, err := decode(a.AsString())
			if err != nil {
				return cty.NilType, function.NewArgError(0, err)
			}
			return v.Type(), nil
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			a, marks := args[0].Unmark()
			if !a.IsKnown() {
				return cty.DynamicVal.WithMarks(marks), nil
			}
			v, err := decode(a.AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return v.WithMarks(marks), nil
		},
	})
}

// mapMinAttrs is the size from which a JSON object whose values all have the
// same type decodes as a cty map rather than an object.
const mapMinAttrs = 32

func decodeJSON(s string) (cty.Value, error) {
	// The common large input, a JSON object of strings (tenant → name),
	// is read by the speed layer in one pass; it cannot nest.
	if m, ok := quickStringMap(s); ok && len(m) >= mapMinAttrs {
		return cty.MapVal(m), nil
	}
	if err := checkJSONNesting(s); err != nil {
		return cty.NilVal, err
	}
	b := []byte(s)
	// cty's decoder reads the first value and ignores the rest: "{} junk"
	// decoded as {}. Refuse text that is not exactly one JSON value, with
	// encoding/json's message.
	if !json.Valid(b) {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			return cty.NilVal, err
		}
	}
	ty, err := ctyjson.ImpliedType(b)
	if err != nil {
		return cty.NilVal, err
	}
	// A large object of like values (tenants mapped to their names)
	// becomes a map: indexing is the same, but a map's type is
	// compared in constant time, where an object type with N attributes costs
	// N on every function call that returns or checks it — quadratic over
	// N for_each instances.
	if ty.IsObjectType() && len(ty.AttributeTypes()) >= mapMinAttrs {
		var elem cty.Type
		same := true
		for _, at := range ty.AttributeTypes() {
			if elem == cty.NilType {
				elem = at
			} else if !elem.Equals(at) {
				same = false
				break
			}
		}
		if same && elem.IsPrimitiveType() {
			ty = cty.Map(elem)
		}
	}
	v, err := ctyjson.Unmarshal(b, ty)
	if err == nil && decodedNumberOutOfRange(v) {
		return cty.NilVal, errNumberTooLarge
	}
	return v, err
}
