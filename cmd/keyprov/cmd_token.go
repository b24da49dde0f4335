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

// tokenNewOptions are token new's flag; it takes no argument.
type tokenNewOptions struct {
	prefix string
	args   []string
}

func newTokenNewOptions(fs *flagSet) *tokenNewOptions {
	o := &tokenNewOptions{}
	fs.StringVar(&o.prefix, "prefix", token.DefaultPrefix, "token `prefix` (the spec's settings.token_prefix)")
	return o
}

func (o *tokenNewOptions) check() error {
	if len(o.args) > 0 {
		return fmt.Errorf("unexpected argument %s", quoteArg(o.args[0]))
	}
	// The rule of the spec's settings.token_prefix.
	valid := len(o.prefix) >= 1 && len(o.prefix) <= 32
	for i := 0; valid && i < len(o.prefix); i++ {
		valid = token.IsTokenChar(o.prefix[i])
	}
	if !valid {
		return fmt.Errorf("invalid prefix %s: use 1 to 32 letters, digits, '_' and '-'", quoteArg(o.prefix))
	}
	return nil
}

// runTokenNew prints a new token. It is the one place keyprov prints a
// token, and the token is the one it has just made: the view package
// never receives a token, only hints.
func runTokenNew(a *app, args []string) int {
	fs := newFlagSet(tokenNewCmd)
	o := newTokenNewOptions(fs)
	if code, ok := a.parseOptions(tokenNewCmd, fs, args, &o.args, o, nil); !ok {
		return code
	}
	tok, err := token.Generate(o.prefix)
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
