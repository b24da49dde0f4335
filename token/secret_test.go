package token

import (
	"bytes"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	testToken  = "wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"
	testToken2 = "wat_Lm4N8pQ2rT6vX0zB3dF7hJ1kM5sW9yC2"
)

// assertHidden fails when out contains any part of the test token longer
// than a few characters.
func assertHidden(t *testing.T, out, what string) {
	t.Helper()
	body := testToken[4:]
	for i := 0; i+6 <= len(body); i++ {
		if strings.Contains(out, body[i:i+6]) {
			t.Errorf("%s prints the token: %q", what, out)
			return
		}
	}
}

type exported struct {
	Name  string
	Token Secret
	Ptr   *Secret
	List  []Secret
	Map   map[string]Secret
	Any   any
}

type unexported struct {
	name  string
	token Secret
	ptr   *Secret
	list  []Secret
}

type embedded struct {
	Secret
	Label string
}

func TestSecretNeverPrints(t *testing.T) {
	s := NewSecret(testToken)
	values := map[string]any{
		"Secret":            s,
		"*Secret":           &s,
		"exported fields":   exported{Name: "a", Token: s, Ptr: &s, List: []Secret{s}, Map: map[string]Secret{"k": s}, Any: s},
		"*exported":         &exported{Token: s, Ptr: &s},
		"unexported fields": unexported{name: "a", token: s, ptr: &s, list: []Secret{s}},
		"*unexported":       &unexported{token: s},
		"embedded":          embedded{Secret: s, Label: "x"},
		"slice":             []Secret{s, s},
		"map value":         map[string]Secret{"a": s},
		"map key":           map[Secret]int{s: 1},
		"interface slice":   []any{s, &s},
		"wrapped error":     fmt.Errorf("reading %v: %w", s, errors.New("boom")),
	}
	verbs := []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T", "%10.3s", "%-50v", "% x"}
	for name, v := range values {
		for _, verb := range verbs {
			assertHidden(t, fmt.Sprintf(verb, v), name+" with "+verb)
		}
		assertHidden(t, fmt.Sprint(v), name+" with Sprint")
		assertHidden(t, fmt.Sprintln(v), name+" with Sprintln")
		if b, err := json.Marshal(v); err == nil {
			assertHidden(t, string(b), name+" as JSON")
		}
	}

	assert.Equal(t, Redacted, s.String())
	assert.Equal(t, Redacted, fmt.Sprintf("%v", s))
	assert.Equal(t, Redacted, fmt.Sprintf("%s", s))
	assert.Equal(t, Redacted, fmt.Sprintf("%q", s))
	assert.Equal(t, Redacted, fmt.Sprintf("%x", s))
	assert.Equal(t, "token.Secret("+Redacted+")", fmt.Sprintf("%#v", s))
	assert.Equal(t, "{Name:a Token:(sensitive)}", fmt.Sprintf("%+v", struct {
		Name  string
		Token Secret
	}{"a", s}))
}

func TestSecretMarshalling(t *testing.T) {
	s := NewSecret(testToken)

	b, err := json.Marshal(s)
	require.NoError(t, err)
	assert.Equal(t, `"(sensitive)"`, string(b))

	b, err = json.Marshal(struct {
		Token  Secret  `json:"token"`
		Ptr    *Secret `json:"ptr"`
		hidden Secret
	}{Token: s, Ptr: &s, hidden: s})
	require.NoError(t, err)
	assert.Equal(t, `{"token":"(sensitive)","ptr":"(sensitive)"}`, string(b))

	b, err = json.Marshal(map[Secret]Secret{s: s})
	require.NoError(t, err)
	assert.Equal(t, `{"(sensitive)":"(sensitive)"}`, string(b), "map keys use MarshalText")

	var tm encoding.TextMarshaler = s
	b, err = tm.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, Redacted, string(b))
}

func TestSecretInZerolog(t *testing.T) {
	s := NewSecret(testToken)
	var buf bytes.Buffer
	log := zerolog.New(&buf)
	log.Info().
		Interface("interface", s).
		Any("any", s).
		Any("ptr", &s).
		Stringer("stringer", s).
		Object("object", s).
		Fields(map[string]any{"field": s}).
		Interface("struct", exported{Token: s}).
		Msg("tokens")
	log.Error().Err(fmt.Errorf("rotating %v", s)).Send()
	log.Info().Array("array", zerolog.Arr().Interface(s).Object(s)).Send()
	log.Info().Dict("dict", zerolog.Dict().Stringer("s", s).Interface("i", s)).Send()
	ctxLog := log.With().Interface("ctx", s).Logger()
	ctxLog.Info().Send()

	out := buf.String()
	assertHidden(t, out, "zerolog")
	// zerolog prefers LogObjectMarshaler for Interface and Any.
	const obj = `{"value":"(sensitive)"}`
	assert.Contains(t, out, `"interface":`+obj)
	assert.Contains(t, out, `"any":`+obj)
	assert.Contains(t, out, `"ptr":`+obj)
	assert.Contains(t, out, `"stringer":"(sensitive)"`)
	assert.Contains(t, out, `"object":`+obj)
	assert.Contains(t, out, `"field":`+obj)
	assert.Contains(t, out, `"struct":{"Name":"","Token":"(sensitive)"`)
	assert.Contains(t, out, `"error":"rotating (sensitive)"`)
	assert.Contains(t, out, `"array":[`+obj+`,`+obj+`]`)
	assert.Contains(t, out, `"dict":{"s":"(sensitive)","i":`+obj+`}`)
	assert.Contains(t, out, `"ctx":`+obj)

	// The console writer formats the same events for terminals.
	buf.Reset()
	console := zerolog.New(zerolog.ConsoleWriter{Out: &buf, NoColor: true})
	console.Info().Interface("i", s).Stringer("s", s).Object("o", s).Msg("tokens")
	assertHidden(t, buf.String(), "zerolog console")
	assert.Contains(t, buf.String(), `s=(sensitive)`)
}

func TestSecretValue(t *testing.T) {
	s := NewSecret(testToken)
	assert.Equal(t, testToken, s.Reveal())
	assert.False(t, s.IsZero())
	assert.True(t, s.Equal(NewSecret(testToken)))
	assert.False(t, s.Equal(NewSecret(testToken2)))
	assert.False(t, s.Equal(Secret{}))
	assert.Equal(t, DigestOf(testToken), s.Digest())
	assert.Equal(t, "wat_…gS0a", s.Hint("wat_"))

	var zero Secret
	assert.Equal(t, "", zero.Reveal())
	assert.True(t, zero.IsZero())
	assert.True(t, NewSecret("").IsZero())
	assert.Equal(t, Redacted, fmt.Sprint(zero))
	assert.True(t, zero.Equal(NewSecret("")))
}

func TestDigest(t *testing.T) {
	// echo -n wat_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a | sha256sum
	d := DigestOf(testToken)
	assert.Equal(t, "ac6d22aa862186a59cd7b67f5d7f16e566171e9e2c69d83828474355c5ea1317", d.Hex())
	assert.Equal(t, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", DigestOf("").Hex())
	assert.NotEqual(t, DigestOf(testToken), DigestOf(testToken2))
	assert.False(t, d.IsZero())
	assert.True(t, Digest{}.IsZero())
	assert.Equal(t, "sha256", Scheme)
}

func TestHint(t *testing.T) {
	for name, tc := range map[string]struct{ tok, prefix, want string }{
		"token":                 {testToken, "wat_", "wat_…gS0a"},
		"custom prefix":         {"acme_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a", "acme_", "acme_…gS0a"},
		"without the prefix":    {"key_Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a", "wat_", "…gS0a"},
		"five after the prefix": {"wat_abcde", "wat_", "wat_…bcde"},
		"four after the prefix": {"wat_abcd", "wat_", "wat_…"},
		"prefix only":           {"wat_", "wat_", "wat_…"},
		"short":                 {"abc", "wat_", "…"},
		"empty":                 {"", "wat_", "…"},
		"empty prefix":          {"Q3xT9mLpV2", "", "…LpV2"},
	} {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tc.want, Hint(tc.tok, tc.prefix))
		})
	}
}
