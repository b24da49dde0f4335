package fast

import (
	"bytes"
	"strings"
)

// NestingBound returns, without lexing, a bound that the nesting spec
// measures on the tokens of src (spec's tokenNesting) never exceeds, or false when
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
// included), never lower: a file it puts above spec.MaxNesting is lexed
// and measured exactly.
//
// cut, when not nil, is called with the offset just after each "}\n" that
// closes a block or object at the top level: a place where a body can be
// cut in two (ParseNative).
func NestingBound(src []byte, cut func(int)) (int, bool) {
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
