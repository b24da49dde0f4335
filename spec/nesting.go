package spec

import (
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
		if bound, ok := quickNesting(src); ok && bound <= MaxNesting {
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
	if bound, ok := quickNesting(src); ok && bound <= MaxNesting {
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
