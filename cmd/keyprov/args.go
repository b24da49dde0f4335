package main

import (
	"strconv"
	"strings"
	"unicode"

	"github.com/keyprov/keyprov/scan"
	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/view"
)

// A token pasted where an address, a path or a subcommand belongs is a
// leak already (shell history, ps); keyprov must not add its error
// output, which ends up in CI logs, to the places it is copied to.

// notRepeated stands for an argument that looks like a token in messages.
const notRepeated = "(an argument that looks like a token; it is not repeated here)"

// tokenAddressMessage is the whole error for an address argument that
// looks like a token.
const tokenAddressMessage = "the argument looks like a token, not a key address (tenant/slug); it is not repeated here. If it is a real token, treat it as leaked"

// looksLikeToken reports whether s holds a string that the scan detector
// takes for a token, with the default prefix or with prefixes. A token of
// another spec's prefix ("acme_…") is found too: any run of 32 or more
// token characters that passes the entropy rule counts when it has an
// upper-case letter, which no address or identifier has (a random base62
// body lacks one once in thirty million).
func looksLikeToken(s string, prefixes ...string) bool {
	if len(s) < token.MinBodyLen {
		return false
	}
	b := []byte(s)
	if len(scan.Spans(b, append([]string{token.DefaultPrefix}, prefixes...))) > 0 {
		return true
	}
	for _, sp := range scan.Spans(b, []string{""}) {
		if strings.IndexFunc(s[sp.Start:sp.End], unicode.IsUpper) >= 0 {
			return true
		}
	}
	return false
}

// quoteArg quotes an argument for an error message, unless it looks like
// a token.
func quoteArg(s string, prefixes ...string) string {
	if looksLikeToken(s, prefixes...) {
		return notRepeated
	}
	return strconv.Quote(s)
}

// parseAddressArg parses a key address given on the command line. Unlike
// spec.ParseAddress, its error never quotes an argument that looks like a
// token.
func parseAddressArg(s string) (spec.Address, error) {
	if looksLikeToken(s) {
		return spec.Address{}, errTokenArgument{}
	}
	return spec.ParseAddress(s)
}

// errTokenArgument is the error for an address argument that looks like a token.
type errTokenArgument struct{}

func (errTokenArgument) Error() string { return tokenAddressMessage }

// printableArg is an argument as it may be repeated in a message: as it
// is, escaped, unless it looks like a token.
func printableArg(s string, prefixes ...string) string {
	if looksLikeToken(s, prefixes...) {
		return notRepeated
	}
	return view.Printable(s)
}
