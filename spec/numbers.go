package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// maxNumberExp bounds the decimal exponent of numbers: 1e1000 is allowed,
// 1e1001 is not. cty keeps numbers as big.Float, so 1e9999999 costs nothing
// to parse, but writing it as a string (a template, jsonencode, any string
// attribute) prints ten million digits, which took half a minute; 1e999999999
// would take days. No key needs a number past 1e64 (see maxNumberDigits).
const maxNumberExp = 1000

// maxNumberExp2 is maxNumberExp as a binary exponent (1000 × log2(10) ≈ 3322).
const maxNumberExp2 = 3400

// numberRule says what is allowed.
var numberRule = fmt.Sprintf("keyprov accepts numbers up to 1e%d in magnitude, since larger ones take minutes to print", maxNumberExp)

var errNumberTooLarge = fmt.Errorf("the result is a number out of range: %s", numberRule)

// numberOutOfRange reports whether v holds a number whose magnitude exceeds
// 1e±maxNumberExp (infinities aside). Only values whose type holds numbers
// are walked.
func numberOutOfRange(v cty.Value) bool { return outOfRange(v, false) }

// decodedNumberOutOfRange is numberOutOfRange for a value decoded from
// JSON text, where an infinity is a literal too large for cty's numbers
// (1E700000000 overflows big.Float's exponent) and so out of range too:
// it could not be written back as JSON.
func decodedNumberOutOfRange(v cty.Value) bool { return outOfRange(v, true) }

func outOfRange(v cty.Value, inf bool) bool {
	if !typeHasNumber(v.Type(), MaxNesting) {
		return false
	}
	v, _ = v.Unmark()
	if !v.IsKnown() || v.IsNull() {
		return false
	}
	ty := v.Type()
	if ty == cty.Number {
		f := v.AsBigFloat()
		if f.IsInf() {
			return inf
		}
		if f.Sign() == 0 {
			return false
		}
		exp := f.MantExp(nil)
		return exp > maxNumberExp2 || exp < -maxNumberExp2
	}
	if ty.IsCollectionType() || ty.IsObjectType() || ty.IsTupleType() {
		for it := v.ElementIterator(); it.Next(); {
			if _, el := it.Element(); outOfRange(el, inf) {
				return true
			}
		}
	}
	return false
}

func typeHasNumber(ty cty.Type, limit int) bool {
	if limit < 0 {
		return false
	}
	switch {
	case ty == cty.Number || ty == cty.DynamicPseudoType:
		return ty == cty.Number
	case ty.IsCollectionType():
		return typeHasNumber(ty.ElementType(), limit-1)
	case ty.IsObjectType():
		for _, at := range ty.AttributeTypes() {
			if typeHasNumber(at, limit-1) {
				return true
			}
		}
	case ty.IsTupleType():
		for _, et := range ty.TupleElementTypes() {
			if typeHasNumber(et, limit-1) {
				return true
			}
		}
	}
	return false
}

// numberLitInRange reports whether a number literal (HCL or JSON: digits,
// a fraction, an exponent) is within 1e±maxNumberExp.
func numberLitInRange(lit string) bool {
	if len(lit) > maxNumberExp {
		return false
	}
	mant, exp, hasExp := strings.Cut(strings.ToLower(lit), "e")
	mant = strings.TrimLeft(mant, "-+")
	intPart, frac, _ := strings.Cut(mant, ".")
	intPart = strings.TrimLeft(intPart, "0")
	// mag is the decimal exponent of the leading digit: 1 for 12.5, -3
	// for 0.00123.
	mag := len(intPart) - 1
	if intPart == "" {
		t := strings.TrimLeft(frac, "0")
		if t == "" {
			return true // zero
		}
		mag = -(len(frac) - len(t) + 1)
	}
	if hasExp {
		e, err := strconv.Atoi(exp)
		if err != nil {
			return !strings.ContainsAny(exp, "0123456789") // not a number literal at all: HCL reports it
		}
		mag += e
	}
	return mag <= maxNumberExp && mag >= -maxNumberExp
}

// mayHaveHugeNumber reports whether src holds a run of more than
// maxNumberExp digits or an exponent of four digits or more, the only
// ways to write a number out of range; lexing is skipped for the others.
func mayHaveHugeNumber(src []byte) bool {
	run := 0
	for i, c := range src {
		if c >= '0' && c <= '9' {
			if run++; run > maxNumberExp {
				return true
			}
			continue
		}
		run = 0
		if (c == 'e' || c == 'E') && i > 0 && src[i-1] >= '0' && src[i-1] <= '9' {
			j := i + 1
			if j < len(src) && (src[j] == '+' || src[j] == '-') {
				j++
			}
			k := j
			for k < len(src) && src[k] >= '0' && src[k] <= '9' {
				k++
			}
			if k-j >= 4 {
				return true
			}
		}
	}
	return false
}

// checkNumbers refuses number literals out of range in a spec or variable
// file, before anything converts them to text.
func checkNumbers(src []byte, filename string, isJSON bool) hcl.Diagnostics {
	if !mayHaveHugeNumber(src) {
		return nil
	}
	bad := func(rng hcl.Range) hcl.Diagnostics {
		return hcl.Diagnostics{errorf(&rng, "Number out of range", "This number is out of range: %s.", numberRule)}
	}
	checkTokens := func(toks hclsyntax.Tokens) hcl.Diagnostics {
		for _, t := range toks {
			if t.Type == hclsyntax.TokenNumberLit && !numberLitInRange(string(t.Bytes)) {
				return bad(t.Range)
			}
		}
		return nil
	}
	if !isJSON {
		toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
		return checkTokens(toks)
	}
	// JSON: numbers outside strings, and those of templates in strings.
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '"':
			n := jsonStringLen(src[i:])
			if s, ok := jsonStringValue(src[i : i+n]); ok && strings.Contains(s, "${") && mayHaveHugeNumber([]byte(s)) {
				toks, _ := hclsyntax.LexTemplate([]byte(s), filename, hcl.InitialPos)
				if d := checkTokens(toks); d != nil {
					return bad(*rangeAt(src, filename, i, n))
				}
			}
			i += n
		case c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.':
			j := i
			for j < len(src) && strings.IndexByte("-+.eE0123456789", src[j]) >= 0 {
				j++
			}
			if !numberLitInRange(string(src[i:j])) {
				return bad(*rangeAt(src, filename, i, j-i))
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

// jsonStringValue decodes a JSON string token as HCL's JSON parser does.
func jsonStringValue(tok []byte) (string, bool) {
	var s string
	return s, json.Unmarshal(tok, &s) == nil
}
