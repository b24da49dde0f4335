// Package leaky breaks every rule of lint.CheckSecrets once, for its test.
package leaky

import (
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/rs/zerolog"

	"github.com/keyprov/keyprov/token"
)

// Key holds a secret two fields down.
type Key struct {
	Name  string
	Token struct{ Secret token.Secret }
}

var logger = zerolog.New(os.Stderr)

// Leak passes secrets to every kind of sink.
func Leak(s token.Secret, k Key, keys []*Key) error {
	fmt.Println(s)
	fmt.Printf("%v\n", k)
	log.Printf("%v", keys)
	logger.Info().Interface("key", &k).Msg("x")
	logger.Info().Object("token", s).Msg("y")
	return fmt.Errorf("key %v", map[string]Key{"a": k})
}

// Reveals reveals a token where it is not allowed.
func Reveals(s token.Secret) error {
	return errors.New(s.Reveal())
}

// Hashes reveals a token where the allow-list says so.
func Hashes(s token.Secret) token.Digest {
	return token.DigestOf(s.Reveal())
}

// Fine passes only hints, digests and names.
func Fine(s token.Secret, k Key) {
	fmt.Println(s.Hint("wat_"), s.Digest().Hex(), k.Name)
	logger.Info().Str("hint", k.Token.Secret.Hint("wat_")).Msg("z")
}
