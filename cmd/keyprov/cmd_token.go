package main

import (
	"context"
	"fmt"
	"iter"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/token"
	"github.com/keyprov/keyprov/view"
)

var tokenCmd = &command{
	name:    "token",
	summary: "generate a new token (token new)",
	help: `Subcommands:
  new    print a new random token

Run "keyprov token new --help" for its flags.`,
	run: runToken,
}

var tokenNewCmd = &command{
	name: "token new",
	help: fmt.Sprintf(`Prints a new random token on standard output: the prefix, %d characters
from a cryptographic random source in base62, and a %d-character base62
CRC-32 checksum, which lets scanners tell real tokens from look-alikes
(validate --secrets reports "checksum valid"). Tokens without a checksum,
made by other systems, are accepted too.

Write it straight to where the secret lives; it is shown once:
  keyprov token new > /run/secrets/website_key

Exit status: 0 success; 1 bad flags.`, token.RandomLen, token.ChecksumLen),
}

func runToken(ctx context.Context, a *app, c *command, args []string) int {
	if len(args) == 0 {
		a.errorf("keyprov token: want a subcommand: new")
		return exitInvalid
	}
	switch args[0] {
	case "new":
		return runTokenNew(a, args[1:])
	case "-h", "-help", "--help", "help":
		fmt.Fprintf(a.out, "Usage: keyprov token <subcommand> [flags]\n\n%s\n", c.help)
		return exitOK
	}
	a.errorf("keyprov token: unknown subcommand %s: want new", quoteArg(args[0]))
	return exitInvalid
}

func runTokenNew(a *app, args []string) int {
	fs := newFlagSet(tokenNewCmd)
	prefix := fs.String("prefix", token.DefaultPrefix, "token `prefix` (the spec's settings.token_prefix)")
	pos, code, ok := fs.parse(a, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		a.errorf("keyprov token new: unexpected argument %s", quoteArg(pos[0]))
		return exitInvalid
	}
	// The rule of the spec's settings.token_prefix.
	valid := len(*prefix) >= 1 && len(*prefix) <= 32
	for i := 0; valid && i < len(*prefix); i++ {
		valid = token.IsTokenChar((*prefix)[i])
	}
	if !valid {
		a.errorf("keyprov token new: invalid prefix %s: use 1 to 32 letters, digits, '_' and '-'", quoteArg(*prefix))
		return exitInvalid
	}
	tok, err := token.Generate(*prefix)
	if err != nil {
		a.errorf("keyprov token new: %v", err)
		return exitInvalid
	}
	fmt.Fprintln(a.out, tok.Reveal())
	return exitOK
}

// checksumStates yields, for validate --secrets, whether each token of
// the spec carries a keyprov checksum ("checksum valid") or not ("no
// checksum": made by another system, still accepted). The token is
// revealed here only to compute its checksum; the states carry hints.
func checksumStates(s *spec.Spec) iter.Seq[view.ChecksumState] {
	return func(yield func(view.ChecksumState) bool) {
		if s == nil {
			return
		}
		p := s.Settings.TokenPrefix
		for _, k := range s.Keys {
			if k.Token.Known {
				sec := k.Token.Secret
				if !yield(view.ChecksumState{Address: k.Address.String(), Attribute: "token", Hint: sec.Hint(p), State: token.ChecksumState(sec.Reveal(), p)}) {
					return
				}
			}
			if k.Previous != nil && k.Previous.Token.Known {
				sec := k.Previous.Token.Secret
				if !yield(view.ChecksumState{Address: k.Address.String(), Attribute: "previous_token", Hint: sec.Hint(p), State: token.ChecksumState(sec.Reveal(), p)}) {
					return
				}
			}
		}
	}
}
