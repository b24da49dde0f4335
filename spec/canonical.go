package spec

import (
	"errors"
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
)

// Canonical JSON is byte for byte the text PostgreSQL prints for a jsonb
// value: object keys ordered by length, then by bytes; ", " between
// elements and ": " after keys; strings escaped as escape_json does; numbers
// as plain decimals. The store compares what it reads (jsonb::text) with the
// spec's canonical form without decoding either side.

// maxNumberDigits bounds the decimal form of a number in a permission or
// metadata value; jsonb's numeric accepts far more, nobody needs it.
const maxNumberDigits = 64

var errNumberRange = fmt.Errorf("number out of range (at most %d digits)", maxNumberDigits)

// appendCanonical appends the canonical JSON of v, which must be known and
// unmarked all the way down.
func appendCanonical(b []byte, v cty.Value) ([]byte, error) {
	if v.IsNull() {
		return append(b, "null"...), nil
	}
	ty := v.Type()
	switch {
	case ty == cty.String:
		return appendJSONString(b, v.AsString())
	case ty == cty.Bool:
		if v.True() {
			return append(b, "true"...), nil
		}
		return append(b, "false"...), nil
	case ty == cty.Number:
		s, err := canonicalNumber(v.AsBigFloat())
		if err != nil {
			return nil, err
		}
		return append(b, s...), nil
	case ty.IsObjectType() || ty.IsMapType():
		m := v.AsValueMap()
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sortJSONBKeys(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ", "...)
			}
			var err error
			if b, err = appendJSONString(b, k); err != nil {
				return nil, err
			}
			b = append(b, ": "...)
			if b, err = appendCanonical(b, m[k]); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case ty.IsListType() || ty.IsTupleType() || ty.IsSetType():
		b = append(b, '[')
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, e := it.Element()
			if i > 0 {
				b = append(b, ", "...)
			}
			var err error
			if b, err = appendCanonical(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	}
	return nil, fmt.Errorf("values of type %s cannot be stored", ty.FriendlyName())
}

// sortJSONBKeys orders object keys as jsonb stores them: shorter first, then bytewise.
func sortJSONBKeys(keys []string) {
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) < len(keys[j])
		}
		return keys[i] < keys[j]
	})
}

var errNUL = errors.New(`the character U+0000 cannot be stored`)

func appendJSONString(b []byte, s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("invalid UTF-8")
	}
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case 0:
			return nil, errNUL
		default:
			if c < 0x20 {
				b = fmt.Appendf(b, `\u%04x`, c)
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"'), nil
}

// canonicalNumber prints f as numeric_out prints it: a plain decimal with
// no exponent and no trailing zeros. A fraction with more than
// maxNumberDigits significant digits is the result of arithmetic on binary
// numbers (1.1 * 1.1 is not exactly 1.21 in cty's 512-bit floats) or of a
// division (1 / 3); it is rounded to maxNumberDigits significant digits.
// An integer that long is an error: rounding it would change the value
// that was written.
func canonicalNumber(f *big.Float) (string, error) {
	if f.IsInf() {
		return "", errNumberRange
	}
	if f.Sign() == 0 {
		return "0", nil
	}
	// Bound the magnitude before formatting: 1e100000 would print 100,000 digits.
	if exp := f.MantExp(nil); exp > 4*maxNumberDigits || exp < -4*maxNumberDigits {
		return "", errNumberRange
	}
	s := trimFraction(f.Text('f', -1))
	if significantDigits(s) <= maxNumberDigits {
		return s, nil
	}
	if f.IsInt() {
		return "", errNumberRange
	}
	return trimFraction(plainDecimal(f.Text('e', maxNumberDigits-1))), nil
}

// trimFraction removes trailing zeros after a decimal point, and the point.
func trimFraction(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// significantDigits counts the digits of a plain decimal, leading zeros excluded.
func significantDigits(s string) int {
	s = strings.TrimLeft(strings.Replace(strings.TrimPrefix(s, "-"), ".", "", 1), "0")
	return len(s)
}

// plainDecimal rewrites big.Float's 'e' format ("-1.2345e-05") as a plain
// decimal ("-0.000012345").
func plainDecimal(e string) string {
	sign := ""
	if strings.HasPrefix(e, "-") {
		sign, e = "-", e[1:]
	}
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	digits := strings.Replace(mant, ".", "", 1)
	// The point goes after exp+1 digits.
	switch point := exp + 1; {
	case point <= 0:
		return sign + "0." + strings.Repeat("0", -point) + digits
	case point >= len(digits):
		return sign + digits + strings.Repeat("0", point-len(digits))
	default:
		return sign + digits[:point] + "." + digits[point:]
	}
}
