package reconcile_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/spec"
	"github.com/keyprov/keyprov/store"
	"github.com/keyprov/keyprov/token"
)

// Test tokens, read by the specs below through env("TOKEN_…").
var testTokens = map[string]string{
	"TOKEN_A": "wat_uz5MftDKMDMtxFW56sil9k0jkRIDHBc7",
	"TOKEN_B": "wat_SAvMzIZXIFkI94XLaM01Z9Z5xMPrNYQV",
	"TOKEN_C": "wat_jPhcoGLR2mePtBGpLwSMZN9Y4snGEIwG",
	"TOKEN_D": "wat_JMD7mYe3lp1dJvQ7PtGDsrwTjWZtFKFU",
	"TOKEN_E": "wat_Y0XW50uwpuahwCv1ttaVBBMQjO404yiU",
	"TOKEN_F": "wat_1vTQYQgwbjShWUADS0GIo1I5sdq1CWRV",
}

// hintOf is the display hint of a test token.
func hintOf(env string) string { return token.Hint(testTokens[env], token.DefaultPrefix) }

// digestOf is the stored digest of a test token.
func digestOf(env string) token.Digest { return token.DigestOf(testTokens[env]) }

// lookupEnv serves testTokens to env().
func lookupEnv(name string) (string, bool) {
	v, ok := testTokens[name]
	return v, ok
}

// evalSpec evaluates an HCL spec with its secrets resolved from testTokens.
func evalSpec(t testing.TB, src string) *spec.Spec {
	t.Helper()
	s, diags := spec.Evaluate([]spec.Source{{Name: "keys.hcl", Dir: ".", Bytes: []byte(src)}},
		spec.Options{Secrets: true, LookupEnv: lookupEnv})
	require.False(t, diags.HasErrors(), "spec diagnostics: %v", diags)
	require.NotNil(t, s)
	return s
}

// withOwner prefixes a spec body with a settings block naming the owner.
func withOwner(owner, body string) string {
	return fmt.Sprintf("settings {\n  owner = %q\n}\n\n%s", owner, body)
}

// websiteKey is a tenant key acme/website with token TOKEN_A and the given
// extra attributes (name included).
func websiteKey(attrs string) string {
	return "tenant_key \"website\" {\n  tenant = \"acme\"\n  token  = env(\"TOKEN_A\")\n" + attrs + "\n}\n"
}

// testNow is the database time of the unit tests' states.
var testNow = time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)

// stateOf returns the store state that an apply of s leaves behind: every
// key owned by s's owner with its token active, disabled when s says so. Key IDs are stable: 1, 2, ….
func stateOf(s *spec.Spec) *store.State {
	st := &store.State{Now: testNow}
	for i, k := range s.Keys {
		sk := &store.Key{KeyRow: store.KeyRow{
			ID: int64(i + 1), Tenant: k.Address.Tenant, Slug: k.Address.Slug, Content: store.Content{Universal: k.Universal,
				Name: k.Name, Description: k.Description,
				Permissions: append([]byte(nil), k.PermissionsJSON...), Metadata: append([]byte(nil), k.MetadataJSON...),
				ExpiresAt: k.Expires, Owner: s.Settings.Owner},
		}, UpdatedAt: testNow.Add(-time.Hour)}
		if k.Disabled {
			at := testNow.Add(-time.Hour)
			sk.Disabled = store.Disabled{At: &at, Spec: true}
		}
		if k.Token.Known {
			sk.Tokens = []store.Token{{Digest: k.Token.Secret.Digest(),
				Hint: k.Token.Secret.Hint(s.Settings.TokenPrefix), State: store.StateActive}}
		}
		st.Keys = append(st.Keys, sk)
	}
	return st
}

// eventJSON decodes the changes of an event.
func eventJSON(t testing.TB, e store.Event) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(e.Changes, &m), "event changes %s", e.Changes)
	return m
}

// assertNoToken fails when text contains a test token or its body.
func assertNoToken(t testing.TB, what, text string) {
	t.Helper()
	for name, tok := range testTokens {
		body := strings.TrimPrefix(tok, token.DefaultPrefix)
		if strings.Contains(text, body) {
			t.Errorf("%s contains %s (or its body)", what, name)
		}
		// A long fragment of the body is a leak too (a hint shows 4 characters).
		if strings.Contains(text, body[:12]) || strings.Contains(text, body[len(body)-12:]) {
			t.Errorf("%s contains a fragment of %s", what, name)
		}
	}
}
