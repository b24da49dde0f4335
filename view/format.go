package view

import (
	"bufio"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/pmezard/go-difflib/difflib"
)

// WriteFormatChange writes what keyprov fmt says of a file whose
// formatting changes from old to new: its name (with list), then the
// change as a unified diff (with diff), redacted as UnifiedDiff redacts.
func WriteFormatChange(w io.Writer, name string, old, new []byte, list, diff bool, prefixes []string) error {
	bw := bufio.NewWriter(w)
	if list {
		fmt.Fprintln(bw, name)
	}
	if diff {
		fmt.Fprint(bw, UnifiedDiff(old, new, filepath.ToSlash(name), prefixes))
	}
	return bw.Flush()
}

// UnifiedDiff returns the change from a to b as a unified diff of name,
// for people: each line is redacted (RedactSource) after its +, - or
// space, so a token at the start of a line is found too.
func UnifiedDiff(a, b []byte, name string, prefixes []string) string {
	ud := difflib.UnifiedDiff{A: splitLines(a), B: splitLines(b), FromFile: "old/" + name, ToFile: "new/" + name, Context: 3}
	text, _ := difflib.GetUnifiedDiffString(ud)
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = l[:1] + RedactSource(l[1:], prefixes...)
		}
	}
	return strings.Join(lines, "")
}

// splitLines splits b after each newline. Unlike difflib.SplitLines it adds
// no empty last line after a final newline, which showed in every diff as
// a spurious blank context line.
func splitLines(b []byte) []string {
	lines := strings.SplitAfter(string(b), "\n")
	if n := len(lines); n > 0 && lines[n-1] == "" {
		lines = lines[:n-1]
	}
	return lines
}
