package scan

import "github.com/keyprov/keyprov/token"

// Span is the byte range [Start, End) of one token-shaped string, with the
// prefix that matched.
type Span struct {
	Start, End int
	Prefix     string
}

// Spans returns the token-shaped strings of b, in order, exactly as Reader
// finds them (same prefixes rule, same entropy rule): callers that show text
// to people replace each with its hint instead of writing a detector of
// their own. Empty prefixes means token.DefaultPrefix.
func Spans(b []byte, prefixes []string) []Span {
	if len(prefixes) == 0 {
		prefixes = []string{token.DefaultPrefix}
	}
	var out []Span
	matches(b, prefixes, func(start, end int, prefix string) {
		out = append(out, Span{Start: start, End: end, Prefix: prefix})
	})
	return out
}
