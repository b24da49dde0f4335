package spec

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// sizeCheck works out, from a function's arguments, the size of its result
// and returns a sizeError when it is past l. It runs before the function,
// and before the function's type check, which for some functions (flatten)
// already builds the result. Arguments may be marked or unknown: an
// unknown part is not counted (the function then returns an unknown value
// without building anything).
type sizeCheck func(l Limits, args []cty.Value) error

// sizeChecks lists every standard function of the spec (newFuncs): those
// that can build a value larger than their arguments have a check; nil
// marks a function whose result is never larger than its arguments (or is
// a number or a bool), which needs none. TestEveryFunctionBounded keeps
// the two lists in step.
var sizeChecks = map[string]sizeCheck{
	"chunklist":     checkChunklist,
	"concat":        checkSumOfLengths(false),
	"csvdecode":     checkCSVDecode,
	"flatten":       checkFlatten,
	"format":        checkFormat,
	"formatdate":    checkFormatDate,
	"formatlist":    checkFormatList,
	"indent":        checkIndent,
	"join":          checkJoin,
	"jsondecode":    checkJSONDecode, // not wrapped yet: see newFuncs
	"jsonencode":    checkJSONEncode,
	"keys":          checkSumOfLengths(false),
	"lower":         checkCase(unicode.ToLower),
	"merge":         checkSumOfLengths(true),
	"parseint":      checkNumberText,
	"range":         checkRange,
	"regexall":      checkRegexAll,
	"regex_replace": checkRegexReplace,
	"replace":       checkReplace,
	"setproduct":    checkSetProduct,
	"setunion":      checkSumOfLengths(true),
	"split":         checkSplit,
	"strrev":        checkStrrev,
	"title":         checkTitle,
	"tonumber":      checkNumberText,
	"upper":         checkCase(unicode.ToUpper),
	"values":        checkSumOfLengths(false),
	"zipmap":        checkZipmap,

	// Numbers and bools.
	"abs": nil, "ceil": nil, "floor": nil, "signum": nil, "log": nil, "pow": nil,
	"max": nil, "min": nil, "length": nil, "strlen": nil, "contains": nil,
	"tobool": nil,
	// Parts of their arguments, or their arguments rearranged.
	"chomp": nil, "trim": nil, "trimprefix": nil, "trimspace": nil, "trimsuffix": nil,
	"substr": nil, "regex": nil, "coalesce": nil, "coalescelist": nil,
	"compact": nil, "distinct": nil, "element": nil, "index": nil, "lookup": nil,
	"reverse": nil, "slice": nil, "sort": nil, "setintersection": nil,
	"setsubtract": nil, "tolist": nil, "tomap": nil, "toset": nil,
	// A number (at most 1e1000, so about a thousand characters) as text,
	// or a timestamp.
	"tostring": nil, "timeadd": nil,
}

// bounded wraps f, the standard function name, so that it refuses to build
// a result past l (sizeChecks), and so that a panic in it is an ordinary
// error: cty turns a panic into an error whose message holds the Go stack,
// which would end up in a diagnostic. f's parameters are kept as they are
// (jsondecode handles its own arguments); guardBounded opens them.
func bounded(name string, f function.Function, l Limits) function.Function {
	return wrapBounded(name, f, l, false)
}

// wrapBounded is bounded, and with guard also guardBounded: f's parameters
// opened to every value (f keeps its own semantics for them) and a number
// too large to print refused as a result.
func wrapBounded(name string, f function.Function, l Limits, guard bool) function.Function {
	check := sizeChecks[name]
	params, vp := f.Params(), f.VarParam() // copies
	if guard {
		for i := range params {
			params[i] = open(params[i])
		}
		if vp != nil {
			*vp = open(*vp)
		}
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    vp,
		Type: func(args []cty.Value) (ty cty.Type, err error) {
			defer recoverPanic(&err)
			if check != nil {
				if err := check(l, args); err != nil {
					return cty.NilType, err
				}
			}
			ty, err = f.ReturnTypeForValues(args)
			return ty, cleanPanic(err)
		},
		Impl: func(args []cty.Value, _ cty.Type) (v cty.Value, err error) {
			defer recoverPanic(&err)
			v, err = f.Call(args)
			if guard && err == nil && numberOutOfRange(v) {
				return cty.NilVal, errNumberTooLarge
			}
			return v, cleanPanic(err)
		},
	})
}

// recoverPanic turns a panic into *err, without the stack.
func recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = panicError(r)
	}
}

func panicError(r any) error {
	return fmt.Errorf("the function has no result for these arguments (%s)", firstLine(fmt.Sprint(r)))
}

// cleanPanic replaces cty's error for a panic, which holds the stack
// ("panic in function implementation: ... goroutine 1 [running]: ..."),
// with one that does not.
func cleanPanic(err error) error {
	if err == nil {
		return nil // without the allocation errors.As makes
	}
	var pe function.PanicError
	if errors.As(err, &pe) {
		return panicError(pe.Value)
	}
	return err
}

// -- helpers ----------------------------------------------------------------

// usable returns v unmarked and whether it is known and not null.
func usable(v cty.Value) (cty.Value, bool) {
	v, _ = v.Unmark()
	return v, v.IsKnown() && !v.IsNull()
}

func stringArg(v cty.Value) (string, bool) {
	v, ok := usable(v)
	if !ok || v.Type() != cty.String {
		return "", false
	}
	return v.AsString(), true
}

// lengthOf is the number of elements of a collection, tuple or object.
func lengthOf(v cty.Value) (int64, bool) {
	v, ok := usable(v)
	if !ok {
		return 0, false
	}
	ty := v.Type()
	if !(ty.IsCollectionType() || ty.IsTupleType() || ty.IsObjectType()) {
		return 0, false
	}
	return int64(v.LengthInt()), true
}

func intArg(v cty.Value) (int64, bool) {
	v, ok := usable(v)
	if !ok || v.Type() != cty.Number {
		return 0, false
	}
	bf := v.AsBigFloat()
	if bf.IsInf() {
		return 0, false
	}
	i, _ := bf.Int64() // saturates at math.MinInt64 and math.MaxInt64
	return i, true
}

func elemsErr(n int64, l Limits, upTo bool) error {
	if n > int64(l.MaxElements) {
		return sizeError{n: n, limit: int64(l.MaxElements), elems: true, upTo: upTo}
	}
	return nil
}

func bytesErr(n int64, l Limits, upTo bool) error {
	if n > l.MaxValueBytes {
		return sizeError{n: n, limit: l.MaxValueBytes, upTo: upTo}
	}
	return nil
}

// -- collections --------------------------------------------------------------

// checkSumOfLengths bounds concat, keys and values, whose result holds
// the elements of all their arguments, and merge and setunion, whose
// result holds at most as many (upTo).
func checkSumOfLengths(upTo bool) sizeCheck {
	return func(l Limits, args []cty.Value) error {
		var n int64
		for _, a := range args {
			if k, ok := lengthOf(a); ok {
				n = satAdd(n, k)
			}
		}
		return elemsErr(n, l, upTo)
	}
}

func checkZipmap(l Limits, args []cty.Value) error {
	if len(args) != 2 {
		return nil
	}
	n, _ := lengthOf(args[0])
	return elemsErr(n, l, false)
}

// checkChunklist: the chunks, and the elements again inside them.
func checkChunklist(l Limits, args []cty.Value) error {
	if len(args) != 2 {
		return nil
	}
	n, ok1 := lengthOf(args[0])
	size, ok2 := intArg(args[1])
	if !ok1 || !ok2 || size < 0 {
		return nil
	}
	chunks := int64(1)
	if size > 0 {
		chunks = (n + size - 1) / size
	}
	return elemsErr(satAdd(n, chunks), l, false)
}

// checkSetProduct: one tuple of len(args) elements per combination.
func checkSetProduct(l Limits, args []cty.Value) error {
	total := int64(1)
	for _, a := range args {
		n, ok := lengthOf(a)
		if !ok {
			return nil
		}
		total = satMul(total, n)
	}
	return elemsErr(satMul(total, int64(1+len(args))), l, false)
}

// checkFlatten counts the elements flatten would gather, through nested
// lists, sets and tuples. The nested lists count too (an upper bound), so
// that a walk through shared lists ([local.l, local.l, ...]) stops at the
// limit even when they hold only empty lists.
func checkFlatten(l Limits, args []cty.Value) error {
	if len(args) != 1 {
		return nil
	}
	var n int64
	max := int64(l.MaxElements)
	var walk func(v cty.Value) bool
	walk = func(v cty.Value) bool {
		v, _ = v.Unmark()
		ty := v.Type()
		if v.IsKnown() && !v.IsNull() && (ty.IsListType() || ty.IsSetType() || ty.IsTupleType()) {
			for it := v.ElementIterator(); it.Next(); {
				_, el := it.Element()
				n++
				if n > max || !walk(el) {
					return false
				}
			}
		}
		return true
	}
	if walk(args[0]) {
		return nil
	}
	return sizeError{n: math.MaxInt64, limit: max, elems: true}
}

// checkRange counts the numbers range would produce. (cty stops at 1024
// numbers anyway, after building them; this refuses range(1e15) at once.)
func checkRange(l Limits, args []cty.Value) error {
	nums := make([]*big.Float, len(args))
	for i, a := range args {
		a, ok := usable(a)
		if !ok || a.Type() != cty.Number || a.AsBigFloat().IsInf() {
			return nil
		}
		nums[i] = a.AsBigFloat()
	}
	var start, end, step *big.Float
	one := big.NewFloat(1)
	switch len(nums) {
	case 1:
		start, end, step = new(big.Float), nums[0], one
	case 2:
		start, end, step = nums[0], nums[1], one
	case 3:
		start, end, step = nums[0], nums[1], nums[2]
	default:
		return nil
	}
	if step.Sign() == 0 {
		return nil
	}
	q := new(big.Float).Sub(end, start)
	if len(nums) < 3 {
		q.Abs(q)
	} else {
		q.Quo(q, step)
	}
	if q.Sign() <= 0 {
		return nil
	}
	n, _ := q.Int64()
	if q.IsInt() || n == math.MaxInt64 {
		return elemsErr(n, l, false)
	}
	return elemsErr(n+1, l, false)
}

// -- text -----------------------------------------------------------------------

func checkJoin(l Limits, args []cty.Value) error {
	if len(args) < 2 {
		return nil
	}
	sep, ok := stringArg(args[0])
	if !ok {
		return nil
	}
	var total, count int64
	for _, list := range args[1:] {
		list, ok := usable(list)
		if !ok || !list.CanIterateElements() {
			continue
		}
		for it := list.ElementIterator(); it.Next(); {
			_, el := it.Element()
			if s, ok := stringArg(el); ok {
				total = satAdd(total, int64(len(s)))
			}
			count++
			if total > l.MaxValueBytes {
				return bytesErr(total, l, false)
			}
		}
	}
	if count > 1 {
		total = satAdd(total, satMul(int64(len(sep)), count-1))
	}
	return bytesErr(total, l, false)
}

func checkSplit(l Limits, args []cty.Value) error {
	if len(args) != 2 {
		return nil
	}
	sep, ok1 := stringArg(args[0])
	s, ok2 := stringArg(args[1])
	if !ok1 || !ok2 {
		return nil
	}
	return elemsErr(int64(strings.Count(s, sep))+1, l, sep == "")
}

func checkReplace(l Limits, args []cty.Value) error {
	if len(args) != 3 {
		return nil
	}
	s, ok1 := stringArg(args[0])
	old, ok2 := stringArg(args[1])
	repl, ok3 := stringArg(args[2])
	if !ok1 || !ok2 || !ok3 || len(repl) <= len(old) {
		return nil
	}
	n := int64(strings.Count(s, old))
	return bytesErr(satAdd(int64(len(s)), satMul(n, int64(len(repl)-len(old)))), l, false)
}

// checkRegexReplace runs the pattern once, without building the result,
// to count the matches and their length. A replacement that refers to
// groups ($1, ${name}) is counted as if each reference were the whole match.
// A count by match would need the groups of every match at once: memory
// for 16 numbers per match.
func checkRegexReplace(l Limits, args []cty.Value) error {
	if len(args) != 3 {
		return nil
	}
	s, ok1 := stringArg(args[0])
	pattern, ok2 := stringArg(args[1])
	repl, ok3 := stringArg(args[2])
	if !ok1 || !ok2 || !ok3 || repl == "" {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil // the function reports it
	}
	lit, refs := replacementText(repl)
	var matches, matched int64
	re.ReplaceAllStringFunc(s, func(m string) string {
		matches++
		matched += int64(len(m))
		return ""
	})
	total := satAdd(int64(len(s))-matched, satMul(matches, lit))
	total = satAdd(total, satMul(refs, matched))
	return bytesErr(total, l, refs > 0)
}

// replacementText splits a replacement of regexp.Expand into its literal
// bytes and its references to groups: $1, $name, ${1}, ${name} ($$ is a
// literal $).
func replacementText(repl string) (lit, refs int64) {
	word := func(c byte) bool {
		return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	for i := 0; i < len(repl); {
		switch {
		case repl[i] != '$' || i+1 == len(repl):
			lit++
			i++
		case repl[i+1] == '$':
			lit++
			i += 2
		case repl[i+1] == '{':
			end := strings.IndexByte(repl[i:], '}')
			if end < 0 {
				lit++ // not a reference: kept as written
				i++
				continue
			}
			refs++
			i += end + 1
		case word(repl[i+1]):
			refs++
			for i++; i < len(repl) && word(repl[i]); i++ {
			}
		default:
			lit++
			i++
		}
	}
	return lit, refs
}

// checkRegexAll counts the matches, stopping past the limit.
func checkRegexAll(l Limits, args []cty.Value) error {
	if len(args) != 2 {
		return nil
	}
	pattern, ok1 := stringArg(args[0])
	s, ok2 := stringArg(args[1])
	if !ok1 || !ok2 {
		return nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil
	}
	per := int64(1)
	if g := re.NumSubexp(); g > 0 {
		per += int64(g)
	}
	limit := int64(l.MaxElements)/per + 1
	idxs := re.FindAllStringSubmatchIndex(s, int(min(limit, math.MaxInt32)))
	if n := int64(len(idxs)); n >= limit {
		return sizeError{n: math.MaxInt64, limit: int64(l.MaxElements), elems: true}
	}
	var text int64
	for _, m := range idxs {
		if len(m) == 2 {
			text += int64(m[1] - m[0])
			continue
		}
		for g := 2; g+1 < len(m); g += 2 {
			if m[g] >= 0 {
				text += int64(m[g+1] - m[g])
			}
		}
	}
	if err := elemsErr(int64(len(idxs))*per, l, false); err != nil {
		return err
	}
	return bytesErr(text, l, false)
}

func checkIndent(l Limits, args []cty.Value) error {
	if len(args) != 2 {
		return nil
	}
	spaces, ok1 := intArg(args[0])
	s, ok2 := stringArg(args[1])
	if !ok1 || !ok2 || spaces <= 0 {
		return nil
	}
	return bytesErr(satAdd(int64(len(s)), satMul(spaces, int64(strings.Count(s, "\n")))), l, false)
}

func checkStrrev(l Limits, args []cty.Value) error {
	s, ok := oneStringArg(args)
	if !ok {
		return nil
	}
	return bytesErr(int64(len(s)), l, false)
}

// checkCase counts the bytes of upper(s) or lower(s): a few letters take
// more bytes in the other case ("ȿ" is two, "Ȿ" three).
func checkCase(to func(rune) rune) sizeCheck {
	return func(l Limits, args []cty.Value) error {
		s, ok := oneStringArg(args)
		if !ok {
			return nil
		}
		var n int64
		for _, r := range s {
			n += int64(utf8.RuneLen(to(r)))
		}
		return bytesErr(n, l, false)
	}
}

// checkTitle bounds title(s): each letter may become its title case.
func checkTitle(l Limits, args []cty.Value) error {
	s, ok := oneStringArg(args)
	if !ok {
		return nil
	}
	var n int64
	for _, r := range s {
		n += int64(max(utf8.RuneLen(r), utf8.RuneLen(unicode.ToTitle(r))))
	}
	return bytesErr(n, l, true)
}

// checkCSVDecode bounds the rows by the lines, each an object of as many
// attributes as the header has fields.
func checkCSVDecode(l Limits, args []cty.Value) error {
	s, ok := oneStringArg(args)
	if !ok {
		return nil
	}
	header, err := csv.NewReader(strings.NewReader(s)).Read()
	if err != nil {
		return nil
	}
	rows := int64(strings.Count(s, "\n") + 1)
	if err := elemsErr(satMul(rows, int64(len(header)+1)), l, true); err != nil {
		return err
	}
	return bytesErr(int64(len(s)), l, true)
}

func checkFormatDate(l Limits, args []cty.Value) error {
	if len(args) != 2 {
		return nil
	}
	f, ok := stringArg(args[0])
	if !ok {
		return nil
	}
	// The longest expansion is "Z" to "+05:00".
	return bytesErr(satAdd(satMul(6, int64(len(f))), 16), l, true)
}

// maxNumberText bounds the text read as a number by tonumber and parseint.
// A number of keyprov is at most 1e1000, so about 3,400 binary digits;
// reading a longer text takes time that grows with the square of its length
// (a million digits take seconds).
const maxNumberText = 4096

func checkNumberText(l Limits, args []cty.Value) error {
	if len(args) == 0 {
		return nil
	}
	if s, ok := stringArg(args[0]); ok && len(s) > maxNumberText {
		return function.NewArgErrorf(0, "a number is read from at most %d characters, and this text has %d: %s", maxNumberText, len(s), numberRule)
	}
	return nil
}

// -- format and jsonencode ------------------------------------------------------

func checkFormat(l Limits, args []cty.Value) error {
	if len(args) == 0 {
		return nil
	}
	f, ok := stringArg(args[0])
	if !ok {
		return nil
	}
	return bytesErr(formatBound(f, args[1:], l.MaxValueBytes), l, true)
}

// checkFormatList adds up format for each element of the list arguments.
func checkFormatList(l Limits, args []cty.Value) error {
	if len(args) == 0 {
		return nil
	}
	f, ok := stringArg(args[0])
	if !ok {
		return nil
	}
	rest := args[1:]
	n := int64(-1)
	for _, a := range rest {
		a, ok := usable(a)
		if !ok {
			return nil
		}
		if ty := a.Type(); ty.IsListType() || ty.IsTupleType() {
			if k := int64(a.LengthInt()); n < 0 || k < n {
				n = k
			}
		}
	}
	if n < 0 {
		n = 1
	}
	if err := elemsErr(n, l, false); err != nil {
		return err
	}
	one := make([]cty.Value, len(rest))
	var total int64
	for i := int64(0); i < n; i++ {
		for j, a := range rest {
			a, _ := usable(a)
			if ty := a.Type(); ty.IsListType() || ty.IsTupleType() {
				a = a.Index(cty.NumberIntVal(i))
			}
			one[j] = a
		}
		total = satAdd(total, formatBound(f, one, l.MaxValueBytes-total))
		if total > l.MaxValueBytes {
			break
		}
	}
	return bytesErr(total, l, true)
}

// formatBound is an upper bound of the length of format(f, args...),
// following cty's format grammar: %[flags][width][.precision][[argument]]verb.
// Widths and precisions are parsed as cty parses them, overflow included.
// It stops counting past budget, and then returns math.MaxInt64. A format
// cty would refuse counts as far as it can be read.
func formatBound(f string, args []cty.Value, budget int64) int64 {
	var total int64
	next := 1
	digit := func(c byte) bool { return '0' <= c && c <= '9' }
	i := 0
	for i < len(f) && total <= budget {
		if f[i] != '%' {
			total++
			i++
			continue
		}
		if i+1 < len(f) && f[i+1] == '%' {
			total++
			i += 2
			continue
		}
		j := i + 1
		for j < len(f) && strings.IndexByte("0#-+ ", f[j]) >= 0 {
			j++
		}
		width, hasWidth, w0 := 0, false, j
		if j < len(f) && f[j] >= '1' && f[j] <= '9' {
			hasWidth = true
			for ; j < len(f) && digit(f[j]); j++ {
				width = 10*width + int(f[j]-'0')
			}
		}
		widthText := f[w0:j]
		prec, hasPrec, p0 := 0, false, j
		if j < len(f) && f[j] == '.' {
			hasPrec = true
			for j++; j < len(f) && digit(f[j]); j++ {
				prec = 10*prec + int(f[j]-'0')
			}
		}
		precText := f[min(p0+1, j):j]
		arg := next
		if j < len(f) && f[j] == '[' {
			arg = 0
			for j++; j < len(f) && digit(f[j]); j++ {
				arg = 10*arg + int(f[j]-'0')
			}
			if j >= len(f) || f[j] != ']' {
				return total
			}
			j++
		}
		if j >= len(f) || arg < 1 || arg > len(args) {
			return total
		}
		v := verb{mode: f[j], width: width, hasWidth: hasWidth, prec: prec, hasPrec: hasPrec,
			widthText: widthText, precText: precText, sharp: strings.Contains(f[i+1:w0], "#")}
		total = satAdd(total, v.bound(args[arg-1], budget))
		next = arg + 1
		i = j + 1
	}
	if i < len(f) {
		return math.MaxInt64 // past budget before the end: "more than"
	}
	return total
}

// verb is one verb of a format string: its width and precision as cty
// reads them (overflowing int), and as written.
type verb struct {
	mode                byte
	width, prec         int
	hasWidth, hasPrec   bool
	widthText, precText string
	sharp               bool
}

// goNum reads a width or precision as Go's fmt does, and returns the text
// it prints instead of one too large ("%!(BADWIDTH)").
func goNum(digits string) (n, bad int64) {
	for i := 0; i < len(digits); i++ {
		if n > 1e6 {
			return 0, 16
		}
		n = 10*n + int64(digits[i]-'0')
	}
	return n, 0
}

// bound bounds the text of the verb for arg. cty formats numbers with Go's
// fmt, which reads the width and precision itself, and pads strings and
// JSON itself to any width.
func (v verb) bound(arg cty.Value, budget int64) int64 {
	arg, ok := usable(arg)
	if !ok {
		return 4 // null, or unknown (then the result is unknown)
	}
	pad := int64(0)
	if v.hasWidth && v.width > 0 {
		pad = int64(v.width)
	}
	switch v.mode {
	case 't':
		return 5
	case 'b', 'd', 'o', 'x', 'X', 'e', 'E', 'f', 'g', 'G':
		n := int64(numberTextMax)
		if arg.Type() == cty.Number {
			n = numberDigitsBound(arg.AsBigFloat())
		} else if s, ok := stringArg(arg); ok {
			n = int64(len(s)) + numberTextMax
		}
		// Go pads to the width; the precision adds digits.
		w, badW := goNum(v.widthText)
		p, badP := goNum(v.precText)
		return max(w, n+p+8) + badW + badP
	case 's', 'q':
		switch arg.Type() {
		case cty.String:
			s := arg.AsString()
			return padded(jsonEscapedLen(s), pad, isASCII(s))
		case cty.Number:
			return padded(numberTextBound(arg.AsBigFloat()), pad, true)
		default:
			return padded(5, pad, true)
		}
	case 'v':
		switch {
		case arg.Type() == cty.Number && !v.sharp:
			return padded(numberTextBound(arg.AsBigFloat()), pad, true)
		case arg.Type() == cty.String:
			s := arg.AsString()
			return padded(jsonEscapedLen(s), pad, isASCII(s))
		default:
			// JSON of a collection may hold text of any script.
			return padded(jsonSize(arg, budget), pad, false)
		}
	}
	return 0 // cty refuses the verb
}

// padded bounds text of n bytes padded to width characters (grapheme
// clusters): when the text is ASCII each byte is one, and the result is
// the longer of the two; otherwise the padding adds up to width bytes.
func padded(n, width int64, ascii bool) int64 {
	if ascii {
		return max(n, width)
	}
	return satAdd(n, width)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// numberTextMax bounds the text of a number in range (1e±1000), in any
// base, and the digits cty's 512-bit numbers print after the point.
const numberTextMax = maxNumberExp2 + 200

// numberTextBound bounds the text of f in any base: its binary exponent
// bounds its digits before the point, and 512 bits of precision about 160
// decimal digits after it.
func numberTextBound(f *big.Float) int64 {
	if f.IsInf() || f.Sign() == 0 {
		return 8
	}
	if f.IsInt() {
		if i, acc := f.Int64(); acc == big.Exact {
			return int64(len(strconv.FormatInt(i, 10)))
		}
	}
	exp := int64(f.MantExp(nil))
	if exp < 0 {
		exp = -exp
	}
	return exp + 200
}

// numberDigitsBound bounds the text of f in base 2 (and so in any base)
// before the point, and in base 10 after it.
func numberDigitsBound(f *big.Float) int64 {
	if f.IsInf() || f.Sign() == 0 {
		return 8
	}
	exp := int64(f.MantExp(nil))
	if exp < 0 {
		exp = -exp
	}
	if f.IsInt() {
		return exp + 2
	}
	return exp + 200
}

// jsonEscapedLen is an upper bound of the length of s as a JSON string, as
// encoding/json writes it: control characters, <, > and & as \u00XX, quotes
// and backslashes escaped, U+2028 and U+2029 as \u2028 and \u2029.
func jsonEscapedLen(s string) int64 {
	n := int64(2)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c == '<', c == '>', c == '&':
			n += 6
		case c == '"', c == '\\':
			n += 2
		case c == 0xE2: // may start U+2028 or U+2029: 3 bytes become 6
			n += 4
		default:
			n++
		}
	}
	return n
}

// jsonSize bounds the length of v encoded as JSON (jsonencode, format's %v
// of a collection). It stops past budget.
func jsonSize(v cty.Value, budget int64) int64 {
	var n int64
	var walk func(v cty.Value) bool
	walk = func(v cty.Value) bool {
		v, ok := usable(v)
		if !ok {
			n += 4
			return n <= budget
		}
		ty := v.Type()
		switch {
		case ty == cty.String:
			n = satAdd(n, jsonEscapedLen(v.AsString()))
		case ty == cty.Number:
			n = satAdd(n, numberTextBound(v.AsBigFloat()))
		case ty == cty.Bool:
			n += 5
		case ty.IsMapType() || ty.IsObjectType():
			n += 2 // {}
			for i, it := 0, v.ElementIterator(); it.Next(); i++ {
				k, el := it.Element()
				n = satAdd(n, jsonEscapedLen(k.AsString())+1) // "key":
				if i > 0 {
					n++ // ,
				}
				if n > budget || !walk(el) {
					return false
				}
			}
		case v.CanIterateElements():
			n += 2 // []
			for i, it := 0, v.ElementIterator(); it.Next(); i++ {
				_, el := it.Element()
				if i > 0 {
					n++ // ,
				}
				if n > budget || !walk(el) {
					return false
				}
			}
		}
		return n <= budget
	}
	walk(v)
	return n
}

// checkJSONDecode bounds the elements of the value a JSON text decodes
// to by its commas and opening brackets outside strings: cty takes a few
// hundred bytes of memory per element, so 32 MiB of "0,0,0,..." would
// take gigabytes.
func checkJSONDecode(l Limits, args []cty.Value) error {
	s, ok := oneStringArg(args)
	if !ok {
		return nil
	}
	var n int64
	inString := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case !inString && (c == ',' || c == '[' || c == '{'):
			n++
		}
	}
	return elemsErr(n, l, true)
}

func checkJSONEncode(l Limits, args []cty.Value) error {
	if len(args) != 1 {
		return nil
	}
	return bytesErr(jsonSize(args[0], l.MaxValueBytes), l, true)
}

// oneStringArg returns the argument of a one-argument function when it is
// a known string.
func oneStringArg(args []cty.Value) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	return stringArg(args[0])
}
