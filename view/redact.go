package view

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/keyprov/keyprov/scan"
	"github.com/keyprov/keyprov/token"
)

// Masked replaces a password in source text shown to people.
const Masked = "****"

// RedactSource returns source text for a person to read: every string that
// the scan detector recognises as a token (token.DefaultPrefix and
// prefixes) becomes its hint, and the password of a URL
// (postgres://user:PASSWORD@host) or of a key=value setting
// (password=PASSWORD, also "password": "…" and PGPASSWORD=…) becomes
// Masked.
//
// It is for source text only: the lines of a file that keyprov quotes in a
// diagnostic or a diff, which may be anything when a spec path is a
// symbolic link to a secrets file or a database-URL file. Values keyprov
// holds as secrets are token.Secret and never reach this function;
// formatted output (fmt rewriting a file) is never passed through it.
func RedactSource(text string, prefixes ...string) string {
	rs := redactions(text, prefixes)
	if len(rs) == 0 {
		return text
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, r := range rs {
		b.WriteString(text[last:r.start])
		b.WriteString(r.repl)
		last = r.end
	}
	b.WriteString(text[last:])
	return b.String()
}

// redaction replaces text[start:end] with repl.
type redaction struct {
	start, end int
	repl       string
}

var (
	// urlPassword finds scheme://user:PASSWORD@ (group 1 is the password).
	// The password runs to the last "@" before a space or a quote: a
	// password with an unescaped "@" or "/" is masked whole, at the price
	// of masking a little more of an odd URL.
	urlPassword = regexp.MustCompile("[A-Za-z][A-Za-z0-9+.-]*://[^\\s/?#@:\"'<>`]*:([^\\s\"'<>`]+)@")
	// settingPassword finds password=VALUE, password = 'VALUE',
	// "password": "VALUE", PGPASSWORD=VALUE (group 1 is the value, quotes
	// included; an unterminated quote runs to the end of the line).
	settingPassword = regexp.MustCompile(`(?i)password"?[ \t]*[=:][ \t]*("(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|[^\s"'&]+)`)
	// prefixSetting finds a spec's token_prefix in HCL or JSON, even in a
	// file that does not parse.
	prefixSetting = regexp.MustCompile(`token_prefix"?[ \t]*[=:][ \t]*"([A-Za-z0-9_-]{1,32})"`)
)

// redactions returns what RedactSource replaces, sorted and disjoint.
func redactions(text string, prefixes []string) []redaction {
	var rs []redaction
	b := []byte(text)
	for _, s := range scan.Spans(b, withDefaultPrefix(prefixes)) {
		rs = append(rs, redaction{s.Start, s.End, token.Hint(text[s.Start:s.End], s.Prefix)})
	}
	for _, m := range urlPassword.FindAllStringSubmatchIndex(text, -1) {
		rs = append(rs, redaction{m[2], m[3], Masked})
	}
	for _, m := range settingPassword.FindAllStringSubmatchIndex(text, -1) {
		start, end := m[2], m[3]
		if q := text[start]; q == '"' || q == '\'' {
			start++
			if end > start && text[end-1] == q {
				end--
			}
		}
		if end > start {
			rs = append(rs, redaction{start, end, Masked})
		}
	}
	if len(rs) < 2 {
		return rs
	}
	// A token inside a password, or a password=… inside a URL: keep the
	// outer one.
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].start != rs[j].start {
			return rs[i].start < rs[j].start
		}
		if rs[i].end != rs[j].end {
			return rs[i].end > rs[j].end
		}
		return rs[i].repl == Masked // a password that is a token: mask it
	})
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		switch {
		case r.start >= last.end:
			out = append(out, r)
		case r.end > last.end:
			// Overlapping without nesting: mask the union.
			last.end, last.repl = r.end, Masked
		}
	}
	return out
}

// withDefaultPrefix returns prefixes with token.DefaultPrefix.
func withDefaultPrefix(prefixes []string) []string {
	for _, p := range prefixes {
		if p == token.DefaultPrefix {
			return prefixes
		}
	}
	return append([]string{token.DefaultPrefix}, prefixes...)
}

// SourcePrefixes returns the token prefixes that sources set with
// settings.token_prefix, found in the text so that it works for files
// that do not parse.
func SourcePrefixes(sources map[string][]byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, src := range sources {
		for _, m := range prefixSetting.FindAllSubmatch(src, -1) {
			if p := string(m[1]); !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// redactedLine is one source line as shown, and the underline of the byte
// range [start, end) of the original line beneath it: a redacted part is
// underlined whole when the range touches it.
func redactedLine(line string, start, end int, prefixes []string) (shown, under string) {
	rs := redactions(line, prefixes)
	var s, u strings.Builder
	for i := 0; i < len(line); {
		if len(rs) > 0 && rs[0].start == i {
			r := rs[0]
			rs = rs[1:]
			s.WriteString(r.repl)
			if r.start < end {
				mark := byte(' ')
				if r.end > start {
					mark = '^'
				}
				u.WriteString(strings.Repeat(string(mark), utf8.RuneCountInString(r.repl)))
			}
			i = r.end
			continue
		}
		c := line[i]
		s.WriteByte(c)
		switch {
		case i >= end:
		case c&0xC0 == 0x80: // a continuation byte: one column per rune
		case i < start && c == '\t':
			u.WriteByte('\t')
		case i < start:
			u.WriteByte(' ')
		default:
			u.WriteByte('^')
		}
		i++
	}
	return s.String(), u.String()
}
