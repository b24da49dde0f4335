package fast

import (
	"strings"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// A call per instance (strlen(each.value) > 0 ? …, or
// "${trimsuffix(each.value, each.key)}…") costs more in cty's call
// machinery (the argument checks, the result's refinement, the number
// guard, the slice of arguments) than in the function itself. For the few
// functions below, the fast form computes what the function computes, on
// arguments already converted to its parameters' types (known, not null,
// unmarked), without the machinery; where it cannot be sure to, it calls
// the function as any other call (Direct.Call).

// Builtin names a function of cty's stdlib that the fast forms compute
// themselves. The caller sets it only where the function of the
// evaluation context is that function, with nothing around it that
// changes its result for such arguments.
type Builtin uint8

const (
	NoBuiltin  Builtin = iota
	Strlen             // stdlib.StrlenFunc
	TrimPrefix         // stdlib.TrimPrefixFunc
	TrimSuffix         // stdlib.TrimSuffixFunc
)

// Direct is a function of the evaluation context called with less
// machinery around it.
type Direct struct {
	// Call calls the function as its call gives it for arguments that
	// are known, not null, unmarked and of its parameters' types; false
	// where that call fails.
	Call func(args []cty.Value) (cty.Value, bool)
	// Builtin, when set, says the function is that one of cty's stdlib.
	Builtin Builtin
}

// builtin returns the fast form of a call of b with args, or nil.
func builtin(b Builtin, l Limits, call func([]cty.Value) (cty.Value, bool), args []Expr) Expr {
	switch {
	case b == Strlen && len(args) == 1:
		return strlenExpr{l: l, call: call, arg: args[0]}
	case (b == TrimPrefix || b == TrimSuffix) && len(args) == 2:
		return trimExpr{l: l, suffix: b == TrimSuffix, str: args[0], affix: args[1]}
	}
	return nil
}

// strlenExpr is strlen(ARG): the number of grapheme clusters of ARG. In
// ASCII text every byte is a cluster of its own, except that CR LF is one
// (Unicode's rules GB3 to GB5; nothing in ASCII extends a cluster); other
// text is counted by the function itself.
type strlenExpr struct {
	l    Limits
	call func([]cty.Value) (cty.Value, bool)
	arg  Expr
}

func (x strlenExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	a, ok := operand(x.arg, k, v, cty.String)
	if !ok {
		return cty.NilVal, false
	}
	n, ascii := asciiClusters(a.AsString())
	if !ascii {
		r, ok := x.call([]cty.Value{a})
		return r, ok && usable(r, x.l)
	}
	return intVal(n), true
}

// asciiClusters counts the grapheme clusters of s when s is ASCII.
func asciiClusters(s string) (int, bool) {
	n := len(s)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 0x80:
			return 0, false
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			n--
		}
	}
	return n, true
}

// smallInts are cty.NumberIntVal(0) to cty.NumberIntVal(len-1), made
// once: a cty value is never changed, so every instance can share them.
var smallInts = sync.OnceValue(func() []cty.Value {
	out := make([]cty.Value, 1024)
	for i := range out {
		out[i] = cty.NumberIntVal(int64(i))
	}
	return out
})

// intVal is cty.NumberIntVal(n).
func intVal(n int) cty.Value {
	if s := smallInts(); n >= 0 && n < len(s) {
		return s[n]
	}
	return cty.NumberIntVal(int64(n))
}

// trimExpr is trimprefix(STR, AFFIX) or trimsuffix(STR, AFFIX): the
// function's cty.StringVal(strings.TrimPrefix(str, prefix)), or
// TrimSuffix.
type trimExpr struct {
	l          Limits
	suffix     bool
	str, affix Expr
}

func (x trimExpr) Eval(k, v cty.Value) (cty.Value, bool) {
	s, ok := x.evalString(k, v)
	if !ok {
		return cty.NilVal, false
	}
	return cty.StringVal(s), true
}

// evalString is Eval's string, normalized as cty.StringVal normalizes
// it, without making a value of it: in a template, it is copied into the
// template's text.
func (x trimExpr) evalString(k, v cty.Value) (string, bool) {
	a, ok := operand(x.str, k, v, cty.String)
	if !ok {
		return "", false
	}
	b, ok := operand(x.affix, k, v, cty.String)
	if !ok {
		return "", false
	}
	var s string
	if x.suffix {
		s = strings.TrimSuffix(a.AsString(), b.AsString())
	} else {
		s = strings.TrimPrefix(a.AsString(), b.AsString())
	}
	s = cty.NormalizeString(s)
	if int64(len(s)) > x.l.Bytes {
		return "", false
	}
	return s, true
}

// stringExpr is a fast form that can give its value as a Go string, when
// that value is a known, unmarked string that is not null, within the
// limits; false otherwise (Eval then says what it is).
type stringExpr interface {
	Expr
	evalString(k, v cty.Value) (string, bool)
}

func (r eachRef) evalString(k, v cty.Value) (string, bool) {
	if len(r.steps) > 0 {
		return "", false
	}
	if r.key {
		v = k
	}
	if !PlainString(v) || int64(len(v.AsString())) > r.l.Bytes {
		return "", false
	}
	return v.AsString(), true
}

func (c constExpr) evalString(_, _ cty.Value) (string, bool) {
	if !PlainString(c.v) {
		return "", false
	}
	return c.v.AsString(), true
}

// maxStringParts bounds the parts of a template built from strings
// (templateExpr.evalStrings), held on the stack.
const maxStringParts = 8

// evalStrings builds the template's text from parts that all give
// strings, in one allocation; false when one does not (Eval then takes
// each part's value).
func (t templateExpr) evalStrings(k, v cty.Value) (cty.Value, bool) {
	var parts [maxStringParts]string
	var n int64
	for i, p := range t.strs {
		s, ok := p.evalString(k, v)
		if !ok {
			return cty.NilVal, false
		}
		parts[i] = s
		if n += int64(len(s)); n > t.l.Bytes {
			return cty.NilVal, false
		}
	}
	var b strings.Builder
	b.Grow(int(n))
	for _, s := range parts[:len(t.strs)] {
		b.WriteString(s)
	}
	return cty.StringVal(b.String()), true
}
