package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// MaxNesting bounds how deeply a spec's expressions and values may nest:
// brackets, braces, parentheses, templates and chained operators in the
// text, and lists, maps and objects in values (JSON decoded by jsondecode,
// local values built from each other).
//
// HCL's parser and evaluator recurse once or more per level, and a Go
// stack overflow is fatal: it cannot be recovered. A spec nested 100,000
// levels deep crashed keyprov before any diagnostic could be printed, so
// nesting is measured on the tokens before parsing. No real spec comes
// close; at the limit, evaluation needs about 20 MB of stack.
const MaxNesting = 1000

// CheckNesting reports an error when src, a spec or variable file in
// native syntax (or in JSON syntax when isJSON is set), nests deeper than
// MaxNesting. It runs before parsing; the text is lexed, never parsed.
func CheckNesting(src []byte, filename string, isJSON bool) hcl.Diagnostics {
	if !mayNest(src) {
		return nil
	}
	var at *hcl.Range
	if isJSON {
		at = jsonNesting(src, filename, hcl.InitialPos)
	} else {
		if bound, ok := quickNesting(src, nil); ok && bound <= MaxNesting {
			return nil
		}
		toks, _ := hclsyntax.LexConfig(src, filename, hcl.InitialPos)
		at = tokenNesting(toks, 0, MaxNesting)
	}
	if at == nil {
		return nil
	}
	return hcl.Diagnostics{tooDeep(at)}
}

// checkExpressionNesting is CheckNesting for one expression in native
// syntax, such as a -var value.
func checkExpressionNesting(src []byte, filename string) hcl.Diagnostics {
	if !mayNest(src) {
		return nil
	}
	if bound, ok := quickNesting(src, nil); ok && bound <= MaxNesting {
		return nil
	}
	toks, _ := hclsyntax.LexExpression(src, filename, hcl.InitialPos)
	if at := tokenNesting(toks, 0, MaxNesting); at != nil {
		return hcl.Diagnostics{tooDeep(at)}
	}
	return nil
}

// mayNest reports whether src has enough of the bytes that open a level
// (every bracket, brace, parenthesis, template and operator has one of
// them, and in JSON strings an escape may stand for one) to nest more than
// MaxNesting levels. Lexing is skipped for the others, such as a file that
// is one long string.
func mayNest(src []byte) bool {
	n := 0
	for _, c := range src {
		switch c {
		case '(', '[', '{', '!', '-', '+', '*', '/', '%', '<', '>', '=', '&', '|', '?', '\\':
			if n++; n > MaxNesting {
				return true
			}
		}
	}
	return false
}

func tooDeep(at *hcl.Range) *hcl.Diagnostic {
	return errorf(at, "Expression nested too deeply",
		"The expression here is nested more than %d levels deep (brackets, braces, parentheses, templates and chained operators count as levels). Simplify it: keyprov refuses deeper nesting rather than risk exhausting its stack.", MaxNesting)
}

// nestFrame is one open bracket, brace, parenthesis, template or
// interpolation while measuring nesting.
type nestFrame struct {
	open hclsyntax.TokenType
	// ops counts the operators chained in this frame since its last comma
	// or, in a body or object, its last newline: each makes the parser or
	// the evaluator recurse once more (a - - - 1, a ? b : c ? d : e, and
	// left-nested a + b + c all grow a level per operator).
	ops int
	// dirs counts the open %{ if } and %{ for } directives of a template.
	dirs int
}

// closes maps each closing token to the opening token it closes.
var closes = map[hclsyntax.TokenType][]hclsyntax.TokenType{
	hclsyntax.TokenCBrace:         {hclsyntax.TokenOBrace},
	hclsyntax.TokenCBrack:         {hclsyntax.TokenOBrack},
	hclsyntax.TokenCParen:         {hclsyntax.TokenOParen},
	hclsyntax.TokenCQuote:         {hclsyntax.TokenOQuote},
	hclsyntax.TokenCHeredoc:       {hclsyntax.TokenOHeredoc},
	hclsyntax.TokenTemplateSeqEnd: {hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl},
}

// tokenNesting returns the range of the first token at which the nesting
// of toks exceeds limit (base levels are already open), or nil. It
// over-counts rather than under-counts: a closing token that does not
// match the innermost open one closes nothing.
func tokenNesting(toks hclsyntax.Tokens, base, limit int) *hcl.Range {
	stack := []nestFrame{{}} // the bottom frame holds top-level operators
	depth := base
	top := func() *nestFrame { return &stack[len(stack)-1] }
	reset := func() {
		f := top()
		depth -= f.ops
		f.ops = 0
	}
	var prev hclsyntax.TokenType
	for i := range toks {
		t := &toks[i]
		switch t.Type {
		case hclsyntax.TokenOBrack:
			switch prev {
			case hclsyntax.TokenIdent, hclsyntax.TokenNumberLit, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
				hclsyntax.TokenCBrace, hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
				// An index: x[a][b][c] nests one expression per index.
				top().ops++
				depth++
			}
			fallthrough
		case hclsyntax.TokenOBrace, hclsyntax.TokenOParen, hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			stack = append(stack, nestFrame{open: t.Type})
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenCQuote,
			hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(stack) > 1 {
				for _, o := range closes[t.Type] {
					if top().open == o {
						f := top()
						depth -= 1 + f.ops + f.dirs
						stack = stack[:len(stack)-1]
						break
					}
				}
			}
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenAnd, hclsyntax.TokenOr, hclsyntax.TokenBang, hclsyntax.TokenQuestion:
			top().ops++
			depth++
		case hclsyntax.TokenComma:
			reset()
		case hclsyntax.TokenNewline:
			if o := top().open; o == hclsyntax.TokenNil || o == hclsyntax.TokenOBrace {
				reset()
			}
		case hclsyntax.TokenIdent:
			// The keyword after %{ opens or closes a directive of the
			// template around it.
			if prev == hclsyntax.TokenTemplateControl && len(stack) > 2 {
				tmpl := &stack[len(stack)-2]
				switch string(t.Bytes) {
				case "if", "for":
					tmpl.dirs++
					depth++
				case "endif", "endfor":
					if tmpl.dirs > 0 {
						tmpl.dirs--
						depth--
					}
				}
			}
		}
		if depth > limit {
			return t.Range.Ptr()
		}
		prev = t.Type
	}
	return nil
}

// quickNesting returns, without lexing, a bound that the nesting
// tokenNesting measures on the tokens of src never exceeds, or false when
// src holds something it does not follow exactly as HCL's scanner does:
// heredocs, template directives (%{), strip markers (~), strings across
// lines, block comments left open, bytes outside ASCII outside strings,
// braces that close an interpolation with a bracket or parenthesis still
// open in it. Lexing a large spec costs more than parsing it: a spec of
// strings, interpolations, literals, brackets, operators and comments is
// measured on its bytes, anything else is lexed.
//
// The bound may be higher than the nesting (every "[" counts as an index
// too, every operator character as one operator, "&" and "|" alone
// included), never lower: a file it puts above MaxNesting is lexed and
// measured exactly.
//
// cut, when not nil, is called with the offset just after each "}\n" that
// closes a block or object at the top level: a place where a body can be
// cut in two (parse.go).
func quickNesting(src []byte, cut func(int)) (int, bool) {
	// A frame is an open bracket, brace or parenthesis, a string ('"') or
	// an interpolation ('$'). In a string, the bytes are text; elsewhere,
	// tokens.
	type frame struct {
		open byte
		ops  int
	}
	stack := []frame{{}} // the bottom frame holds top-level operators
	depth, bound := 0, 0
	interps := 0 // open interpolations
	op := func() {
		stack[len(stack)-1].ops++
		depth++
		bound = max(bound, depth)
	}
	push := func(c byte) {
		stack = append(stack, frame{open: c})
		depth++
		bound = max(bound, depth)
	}
	pop := func(open byte) bool {
		n := len(stack)
		if n > 1 && stack[n-1].open == open {
			depth -= 1 + stack[n-1].ops
			stack = stack[:n-1]
			return true
		}
		return false
	}
	reset := func() {
		f := &stack[len(stack)-1]
		depth -= f.ops
		f.ops = 0
	}
	next := func(i int) byte {
		if i+1 < len(src) {
			return src[i+1]
		}
		return 0
	}
	for i := 0; i < len(src); {
		c := src[i]
		if stack[len(stack)-1].open == '"' {
			switch {
			case c == '"':
				pop('"')
				i++
			case c == '\n' || c == '\r':
				return 0, false
			case c == '\\':
				// An escape takes the next character, unless it ends the line.
				if n := next(i); n == '\n' || n == '\r' || n == 0 {
					return 0, false
				}
				i += 2
			case (c == '$' || c == '%') && next(i) == c && i+2 < len(src) && src[i+2] == '{':
				i += 3 // $${ and %%{ are text
			case c == '$' && next(i) == '{':
				if i+2 < len(src) && src[i+2] == '~' {
					return 0, false
				}
				push('$')
				interps++
				i += 2
			case c == '%' && next(i) == '{':
				return 0, false
			default:
				i++
			}
			continue
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r':
			i++
		case c == '\n':
			if o := stack[len(stack)-1].open; o == 0 || o == '{' {
				reset()
			}
			i++
		case c == ',':
			reset()
			i++
		case c == '#' || c == '/' && next(i) == '/':
			// A line comment takes its newline: HCL emits no newline token.
			if j := bytes.IndexByte(src[i:], '\n'); j >= 0 {
				i += j + 1
			} else {
				i = len(src)
			}
		case c == '/' && next(i) == '*':
			j := bytes.Index(src[i+2:], []byte("*/"))
			if j < 0 {
				return 0, false
			}
			i += 2 + j + 2
		case c == '"':
			push('"')
			i++
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_':
			for i++; i < len(src); i++ {
				if d := src[i]; !(d >= 'a' && d <= 'z' || d >= 'A' && d <= 'Z' || d >= '0' && d <= '9' || d == '_' || d == '-') {
					break
				}
			}
		case c >= '0' && c <= '9':
			i = numberEnd(src, i)
		case c == '{' || c == '(':
			push(c)
			i++
		case c == '[':
			op() // perhaps an index
			push(c)
			i++
		case c == '}' && interps > 0:
			// HCL's scanner ends the interpolation at the brace that
			// balances it; tokenNesting closes the frame on top. They
			// agree when the top is a brace or the interpolation.
			switch stack[len(stack)-1].open {
			case '{':
				pop('{')
			case '$':
				pop('$')
				interps--
			default:
				return 0, false
			}
			i++
		case c == '}':
			if pop('{') && len(stack) == 1 && cut != nil && next(i) == '\n' {
				cut(i + 2)
			}
			i++
		case c == ')':
			pop('(')
			i++
		case c == ']':
			pop('[')
			i++
		case c == '<' && next(i) == '<', c == '~':
			return 0, false
		case c == '=' && next(i) == '>':
			i += 2
		case c == '=' && next(i) == '=', c == '!' && next(i) == '=', c == '<' && next(i) == '=',
			c == '>' && next(i) == '=', c == '&' && next(i) == '&', c == '|' && next(i) == '|':
			op()
			i += 2
		case strings.IndexByte("+-*/%!<>?", c) >= 0:
			op()
			i++
		case strings.IndexByte("=.:;&|^`'", c) >= 0:
			i++
		default:
			return 0, false
		}
	}
	if stack[len(stack)-1].open == '"' {
		return 0, false // a string left open
	}
	return bound, true
}

// numberEnd returns the end of the number literal at src[i], a digit, as
// HCL's scanner finds it: digits, dots and exponents ("1.5e+3"), not
// ending in a dot.
func numberEnd(src []byte, i int) int {
	digit := func(j int) bool { return j < len(src) && src[j] >= '0' && src[j] <= '9' }
	end := i + 1
	for j := i + 1; j < len(src); {
		switch c := src[j]; {
		case digit(j):
			j++
			end = j
		case c == '.':
			j++
		case (c == 'e' || c == 'E') && digit(j+1):
			j += 2
			end = j
		case (c == 'e' || c == 'E') && (j+1 < len(src) && (src[j+1] == '+' || src[j+1] == '-')) && digit(j+2):
			j += 3
			end = j
		default:
			return end
		}
	}
	return end
}

// jsonNesting measures a file in HCL's JSON syntax: arrays and objects,
// plus the templates that HCL parses out of strings during evaluation. It
// scans the text exactly as HCL's JSON scanner does, so that both agree on
// where strings begin and end.
func jsonNesting(src []byte, filename string, start hcl.Pos) *hcl.Range {
	depth := 0
	pos := start
	var stack []byte
	rangeAt := func(p hcl.Pos) *hcl.Range {
		return &hcl.Range{Filename: filename, Start: p, End: hcl.Pos{Line: p.Line, Column: p.Column + 1, Byte: p.Byte + 1}}
	}
	for i := 0; i < len(src); {
		switch c := src[i]; {
		case c == ' ' || c == '\t' || c == '\r':
			i++
			pos.Byte++
			pos.Column++
		case c == '\n':
			i++
			pos.Byte++
			pos.Line++
			pos.Column = 1
		case c == '[' || c == '{':
			stack = append(stack, c)
			depth++
			if depth > MaxNesting {
				return rangeAt(pos)
			}
			i++
			pos.Byte++
			pos.Column++
		case c == ']' || c == '}':
			if n := len(stack); n > 0 && (stack[n-1] == '[') == (c == ']') {
				stack = stack[:n-1]
				depth--
			}
			i++
			pos.Byte++
			pos.Column++
		case c == ',' || c == ':' || c == '=':
			i++
			pos.Byte++
			pos.Column++
		case c == '"':
			n := jsonStringLen(src[i:])
			str := src[i : i+n]
			if strings.ContainsAny(string(str), "{\\") {
				var s string
				if json.Unmarshal(str, &s) == nil && (strings.Contains(s, "${") || strings.Contains(s, "%{")) {
					toks, _ := hclsyntax.LexTemplate([]byte(s), filename, pos)
					if at := tokenNesting(toks, depth, MaxNesting); at != nil {
						// Positions inside a decoded string are approximate:
						// point at the string.
						return rangeAt(pos)
					}
				}
			}
			i += n
			pos.Byte += n
			pos.Column += n
		case c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.':
			for i < len(src) && strings.IndexByte("-+.eE0123456789", src[i]) >= 0 {
				i++
				pos.Byte++
				pos.Column++
			}
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			for i < len(src) && (src[i] >= 'a' && src[i] <= 'z' || src[i] >= 'A' && src[i] <= 'Z' || src[i] == '_') {
				i++
				pos.Byte++
				pos.Column++
			}
		default:
			// HCL's scanner stops at the first invalid byte: nothing after
			// it is parsed.
			return nil
		}
	}
	return nil
}

// jsonStringLen returns the length of the string token at the start of b,
// found as HCL's JSON scanner finds it: a backslash escapes the next byte,
// a byte below 0x20 ends the token, and other characters are consumed a
// grapheme cluster at a time.
func jsonStringLen(b []byte) int {
	i := 1
	escaping := false
	for i < len(b) {
		switch c := b[i]; {
		case c == '\\':
			escaping = !escaping
			i++
		case c == '"':
			i++
			if !escaping {
				return i
			}
			escaping = false
		case c < 0x20:
			return i
		default:
			n, _, _ := textseg.ScanGraphemeClusters(b[i:], true)
			if n == 0 {
				n = 1
			}
			i += n
			escaping = false
		}
	}
	return i
}

// checkJSONNesting reports an error when a JSON document (for jsondecode)
// nests arrays and objects deeper than MaxNesting. Strings follow the JSON
// standard, as encoding/json reads them.
func checkJSONNesting(s string) error {
	depth := 0
	inString, escaped := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '[' || c == '{':
			depth++
			if depth > MaxNesting {
				return fmt.Errorf("the JSON nests arrays and objects more than %d levels deep", MaxNesting)
			}
		case c == ']' || c == '}':
			depth--
		}
	}
	return nil
}

// typeTooDeep reports whether values of type ty nest lists, sets, maps,
// tuples or objects more than limit levels deep. A known value's type
// describes its whole structure, so no value is walked (walking a large set
// sorts it). The recursion stops at the limit.
func typeTooDeep(ty cty.Type, limit int) bool {
	if limit < 0 {
		return true
	}
	switch {
	case ty.IsCollectionType():
		return typeTooDeep(ty.ElementType(), limit-1)
	case ty.IsObjectType():
		for _, at := range ty.AttributeTypes() {
			if typeTooDeep(at, limit-1) {
				return true
			}
		}
	case ty.IsTupleType():
		for _, et := range ty.TupleElementTypes() {
			if typeTooDeep(et, limit-1) {
				return true
			}
		}
	}
	return false
}
