package view

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Printable returns text that keyprov did not write — values read back
// from the store (names, descriptions, metadata, permissions, reasons,
// actors, owners, hints) — fit to print for people: control characters
// (C0 with tab and line breaks, DEL, C1), format characters (the
// bidirectional controls U+202A–U+202E and U+2066–U+2069, U+200E, U+200F,
// U+061C, zero-width characters), the line and paragraph separators and
// invalid UTF-8 are written as Go escapes (\x1b, \r, \u202e, \xff), so
// that a stored value can neither drive the terminal nor reorder or hide
// what is printed around it. Everything else, backslashes included, is
// unchanged: ordinary text prints as it is.
//
// It is the one escaping function of keyprov's text output; JSON output
// goes through PrintableJSON.
func Printable(s string) string {
	i := 0
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		if unsafeRune(r, n) {
			break
		}
		i += n
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case !unsafeRune(r, n):
			b.WriteString(s[i : i+n])
		case r == utf8.RuneError:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\a':
			b.WriteString(`\a`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\v':
			b.WriteString(`\v`)
		case r < 0x80:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r <= 0xFFFF:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			fmt.Fprintf(&b, `\U%08x`, r)
		}
		i += n
	}
	return b.String()
}

// PrintableJSON rewrites a JSON document so that the characters Printable
// escapes are \u escapes: encoding/json escapes C0 controls but writes DEL,
// C1 controls and the bidirectional controls as they are, and a person
// reads JSON output in a terminal too. The document means the same: only
// characters inside strings change, since no other part of a JSON document
// may hold them. Invalid UTF-8 becomes \ufffd.
func PrintableJSON(doc []byte) []byte {
	i := 0
	for i < len(doc) {
		r, n := utf8.DecodeRune(doc[i:])
		if r >= 0x7f && unsafeRune(r, n) {
			break
		}
		i += n
	}
	if i == len(doc) {
		return doc
	}
	out := make([]byte, 0, len(doc)+16)
	out = append(out, doc[:i]...)
	for i < len(doc) {
		r, n := utf8.DecodeRune(doc[i:])
		switch {
		case r < 0x7f || !unsafeRune(r, n):
			out = append(out, doc[i:i+n]...)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			out = fmt.Appendf(out, `\u%04x\u%04x`, r1, r2)
		default: // invalid UTF-8 (utf8.RuneError) included
			out = fmt.Appendf(out, `\u%04x`, r)
		}
		i += n
	}
	return out
}

// unsafeRune reports whether r, encoded in n bytes, is escaped by
// Printable.
func unsafeRune(r rune, n int) bool {
	if r < utf8.RuneSelf {
		return r < 0x20 || r == 0x7f
	}
	return r == utf8.RuneError && n == 1 ||
		unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}
