package view

import (
	"bufio"
	"fmt"
	"io"
	"iter"
)

// ChecksumState is whether a token of the spec ends in a keyprov
// checksum, for validate --secrets: the token by its hint only.
type ChecksumState struct {
	// Address is the key's address, Attribute token or previous_token.
	Address, Attribute string
	// Hint is the token's hint (wat_…9fQx).
	Hint string
	// State is "checksum valid" or "no checksum" (token.ChecksumState).
	State string
}

// WriteValidText writes what keyprov validate says of a valid spec: with
// secrets read, each token's checksum state (states, in the spec's
// order), then the line that counts its keys and warnings.
func WriteValidText(w io.Writer, keys, warnings int, secretsRead bool, states iter.Seq[ChecksumState]) error {
	// One write per key would be one system call per key.
	bw := bufio.NewWriter(w)
	mode := "secrets not read"
	if secretsRead {
		mode = "secrets read"
		for s := range states {
			fmt.Fprintf(bw, "%s: %s %s: %s\n", s.Address, s.Attribute, s.Hint, s.State)
		}
	}
	fmt.Fprintf(bw, "The spec is valid: %s, %s (%s).\n", Plural(keys, "key"), Plural(warnings, "warning"), mode)
	return bw.Flush()
}
