package spec

import (
	"strconv"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// checkSource runs the checks that must pass before a spec or variable
// file is parsed: its nesting, its numbers and, for JSON syntax, its text.
func checkSource(src []byte, filename string, isJSON bool) hcl.Diagnostics {
	if isJSON {
		if diags := checkJSONText(src, filename); diags != nil {
			return diags
		}
	}
	if diags := CheckNesting(src, filename, isJSON); diags != nil {
		return diags
	}
	return checkNumbers(src, filename, isJSON)
}

// checkJSONText refuses what HCL's JSON parser would silently replace with
// U+FFFD: bytes that are not UTF-8, and escapes of half a UTF-16 surrogate
// pair ("\ud800"). The native syntax refuses both; in JSON syntax a name
// or a permission would otherwise be stored differently from what the
// reviewed file says.
func checkJSONText(src []byte, filename string) hcl.Diagnostics {
	if !utf8.Valid(src) {
		i := 0
		for i < len(src) {
			r, n := utf8.DecodeRune(src[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return hcl.Diagnostics{errorf(rangeAt(src, filename, i, 1), "Invalid character encoding",
			"All input files must be UTF-8 encoded. Ensure that UTF-8 encoding is selected in your editor.")}
	}
	for i := 0; i < len(src); i++ {
		if src[i] != '"' {
			continue
		}
		n := jsonStringLen(src[i:])
		if at, esc := loneSurrogate(src[i : i+n]); at >= 0 {
			return hcl.Diagnostics{errorf(rangeAt(src, filename, i+at, 6), "Invalid escape sequence",
				"Cannot encode character U+%s in UTF-8: it is half of a UTF-16 surrogate pair.", esc)}
		}
		i += n - 1
	}
	return nil
}

// loneSurrogate returns the offset in the JSON string token s of the first
// \u escape of a surrogate that is not part of a pair, and its hex digits;
// the offset is -1 when there is none.
func loneSurrogate(s []byte) (int, string) {
	hex := func(i int) (rune, bool) {
		if i+6 > len(s) || s[i] != '\\' || s[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(s[i+2:i+6]), 16, 32)
		return rune(v), err == nil
	}
	for i := 1; i < len(s); i++ {
		if s[i] != '\\' {
			continue
		}
		r, ok := hex(i)
		if !ok {
			i++ // skip the escaped character
			continue
		}
		switch {
		case r >= 0xD800 && r <= 0xDBFF:
			if lo, ok := hex(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11
				continue
			}
			return i, string(s[i+2 : i+6])
		case r >= 0xDC00 && r <= 0xDFFF:
			return i, string(s[i+2 : i+6])
		}
		i += 5
	}
	return -1, ""
}

// rangeAt returns the range of n bytes at offset off of src, counting
// columns in characters as HCL does for text without combining marks.
func rangeAt(src []byte, filename string, off, n int) *hcl.Range {
	p := hcl.Pos{Line: 1, Column: 1}
	for i := 0; i < off && i < len(src); {
		if src[i] == '\n' {
			p.Line++
			p.Column = 1
			i++
			continue
		}
		_, size := utf8.DecodeRune(src[i:])
		p.Column++
		i += size
	}
	p.Byte = off
	end := p
	end.Byte += n
	end.Column += n
	return &hcl.Range{Filename: filename, Start: p, End: end}
}
