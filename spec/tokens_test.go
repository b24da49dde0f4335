package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const literalDetail = "The value of token is written in the spec. Never commit a token: read it with env(\"NAME\") or file(\"/run/secrets/NAME\"), and treat the committed value as leaked."

// A token written into the spec is refused however it reaches the token
// attribute, offline and with secrets. The check follows cty marks, not
// the source text.
func TestLiteralToken(t *testing.T) {
	key := func(tokenExpr string) string {
		return "universal_key \"a\" {\n  name  = \"a\"\n  token = " + tokenExpr + "\n}\n"
	}
	tests := map[string]struct {
		spec     string
		files    map[string]string
		env      fakeEnv
		vars     []Var
		varFiles []string
		// offlineOnly: with secrets the value carries the mark of env()
		// from the branch not taken (HCL marks a conditional's result with
		// both branches' marks), so only offline validation catches it.
		offlineOnly bool
	}{
		"string":             {spec: key(`"` + tokA + `"`)},
		"heredoc":            {spec: key("<<EOT\n" + tokA + "\nEOT")},
		"through a local":    {spec: "locals {\n  t = \"" + tokA + "\"\n}\n" + key("local.t")},
		"through two locals": {spec: "locals {\n  t = local.u\n  u = \"" + tokA + "\"\n}\n" + key("local.t")},
		"variable default":   {spec: "variable \"t\" {\n  default = \"" + tokA + "\"\n}\n" + key("var.t")},
		"-var":               {spec: "variable \"t\" {\n  type = string\n}\n" + key("var.t"), vars: []Var{{"t", tokA}}},
		"KEYPROV_VAR_t":      {spec: "variable \"t\" {\n  type = string\n}\n" + key("var.t"), env: fakeEnv{"KEYPROV_VAR_t": tokA}},
		"-var-file": {spec: "variable \"t\" {\n  type = string\n}\n" + key("var.t"),
			files: map[string]string{"vars.hcl": "t = \"" + tokA + "\"\n"}, varFiles: []string{"vars.hcl"}},
		"template":                                   {spec: "locals {\n  body = \"" + tokA[4:] + "\"\n}\n" + key(`"wat_${local.body}"`)},
		"function of a literal":                      {spec: key(`lower("` + tokA + `")`)},
		"conditional on a literal":                   {spec: key(`true ? "` + tokA + `" : "` + tokB + `"`)},
		"conditional with env() in the other branch": {spec: key(`true ? "` + tokA + `" : env("A")`), offlineOnly: true},
		"lookup default":                             {spec: key(`lookup({}, "a", "` + tokA + `")`)},
		"jsondecode of a literal":                    {spec: key(`jsondecode("{\"a\": \"` + tokA + `\"}")["a"]`)},
		"env name from a template":                   {spec: key(`"${"wat_"}` + tokA[4:] + `"`)},
	}
	for name, tc := range tests {
		for _, secrets := range []bool{false, true} {
			if secrets && tc.offlineOnly {
				continue
			}
			t.Run(name+mode(secrets), func(t *testing.T) {
				files := map[string]string{"keys.hcl": tc.spec}
				for n, c := range tc.files {
					files[n] = c
				}
				env := fakeEnv{"A": tokB}
				for k, v := range tc.env {
					env[k] = v
				}
				s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: secrets, LookupEnv: env.lookup, Vars: tc.vars, VarFiles: tc.varFiles})
				assert.Nil(t, s)
				require.Len(t, ds, 1, dumpDiags(diagsOf(ds)))
				d := ds[0]
				assert.Equal(t, "Literal token", d.Summary)
				assert.Equal(t, literalDetail, d.Detail)
				assert.Equal(t, "root/a", DiagnosticAddress(d))
				assert.True(t, DiagnosticHidesSource(d), "the source line holds the token and must not be printed")
				lines := strings.Count(tc.spec[:strings.Index(tc.spec, "token =")], "\n")
				assert.Equal(t, lines+1, d.Subject.Start.Line)
				assert.Equal(t, 11, d.Subject.Start.Column)
			})
		}
	}
}

func mode(secrets bool) string {
	if secrets {
		return " (secrets)"
	}
	return " (offline)"
}

// Tokens read with env() or file(), directly or through functions, locals
// and templates, are accepted offline and with secrets, and Token.Sources
// names where they come from.
func TestTokenFromEnvOrFile(t *testing.T) {
	secretsJSON := `{"acme": "` + tokC + `", "globex": "` + tokD + `"}`
	tests := map[string]struct {
		spec    string
		sources map[string][]string // address -> sources
	}{
		"env": {
			spec:    `token = env("A")`,
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"file": {
			spec:    `token = file("token.txt")`,
			sources: map[string][]string{"root/a": {`file("token.txt")`}},
		},
		"template around env": {
			spec:    `token = "${env("A")}"`,
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"through a local": {
			spec:    "token = local.t\n}\nlocals {\n  t = env(\"A\")",
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"functions of env": {
			spec:    `token = trimspace(format("%s", lower(upper(env("A")))) == "" ? "" : env("A"))`,
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"trimspace of file": {
			spec:    `token = trimspace(file("token.txt"))`,
			sources: map[string][]string{"root/a": {`file("token.txt")`}},
		},
		"try": {
			spec:    `token = try(env("UNSET"), env("A"))`,
			sources: map[string][]string{"root/a": {`env("A")`, `env("UNSET")`}},
		},
		"coalesce": {
			spec:    `token = coalesce(env("A"), env("B"))`,
			sources: map[string][]string{"root/a": {`env("A")`, `env("B")`}},
		},
		"for expression": {
			spec:    `token = [for t in [env("A")] : t][0]`,
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"jsondecode of file per for_each instance": {
			spec: "for_each = toset([\"acme\", \"globex\"])\n  token = jsondecode(file(\"secrets.json\"))[each.key]",
			sources: map[string][]string{
				"root/a-acme":   {`file("secrets.json")`},
				"root/a-globex": {`file("secrets.json")`},
			},
		},
		"lookup in a mounted JSON file": {
			spec: "for_each = toset([\"acme\", \"globex\"])\n  token = lookup(jsondecode(file(\"secrets.json\")), each.key, \"\")",
			sources: map[string][]string{
				"root/a-acme":   {`file("secrets.json")`},
				"root/a-globex": {`file("secrets.json")`},
			},
		},
		"env name from each.key": {
			spec: "for_each = toset([\"b\", \"c\"])\n  token = env(upper(each.key))",
			sources: map[string][]string{
				"root/a-b": {`env("B")`},
				"root/a-c": {`env("C")`},
			},
		},
		"env name from a template": {
			spec: "for_each = toset([\"c\", \"d\"])\n  token = env(\"${upper(each.key)}\")",
			sources: map[string][]string{
				"root/a-c": {`env("C")`},
				"root/a-d": {`env("D")`},
			},
		},
	}
	for name, tc := range tests {
		for _, secrets := range []bool{false, true} {
			t.Run(name+mode(secrets), func(t *testing.T) {
				spec := "universal_key \"a\" {\n  name = \"a\"\n  " + tc.spec + "\n}\n"
				if strings.Contains(tc.spec, "for_each") {
					spec = strings.Replace(spec, "name = \"a\"", "name = \"a\"\n  slug = \"a-${each.key}\"", 1)
				}
				files := map[string]string{"keys.hcl": spec, "token.txt": tokD + "\n", "secrets.json": secretsJSON}
				env := fakeEnv{"A": tokA, "B": tokB, "C": tokC, "D": tokD}
				s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: secrets, LookupEnv: env.lookup})
				requireDiags(t, ds)
				require.NotNil(t, s)
				got := map[string][]string{}
				for _, k := range s.Keys {
					got[k.Address.String()] = k.Token.Sources
					assert.Equal(t, secrets, k.Token.Known, "Known")
					assert.True(t, k.Token.Set)
					if secrets {
						assert.Empty(t, checkToken(k.Token.Secret.Reveal()))
					} else {
						assert.True(t, k.Token.Secret.IsZero(), "an unknown token has no value")
					}
				}
				assert.Equal(t, tc.sources, got)
			})
		}
	}
}

// checkToken reports whether tok is one of the test tokens.
func checkToken(tok string) string {
	switch tok {
	case tokA, tokB, tokC, tokD:
		return ""
	}
	return "not a test token"
}

// Reading secrets: unset or empty variables and unreadable files are named,
// their values never appear.
func TestReadingSecrets(t *testing.T) {
	key := func(expr string) string {
		return "tenant_key \"a\" {\n  tenant = \"acme\"\n  name   = \"a\"\n  token  = " + expr + "\n}\n"
	}
	runRuleCases(t, map[string]ruleCase{
		"unset environment variable": {
			spec: key(`env("WEBSITE_KEY")`), secrets: true,
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "env" failed: environment variable WEBSITE_KEY is not set.`, Address: "acme/a"}},
		},
		"empty environment variable": {
			spec: key(`env("WEBSITE_KEY")`), secrets: true, env: fakeEnv{"WEBSITE_KEY": ""},
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "env" failed: environment variable WEBSITE_KEY is empty.`, Address: "acme/a"}},
		},
		"unset environment variable offline": {
			spec: key(`env("WEBSITE_KEY")`),
			keys: []string{"acme/a"},
		},
		"set environment variable": {
			spec: key(`env("WEBSITE_KEY")`), secrets: true, env: fakeEnv{"WEBSITE_KEY": tokA},
			keys: []string{"acme/a"},
		},
		"environment variable name with =": {
			spec: key(`env("A=B")`),
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Invalid function argument", Detail: `Invalid value for "name" parameter: "A=B" is not a valid environment variable name.`, Address: "acme/a"}},
		},
		"missing file": {
			spec: key(`file("secrets/website.txt")`), secrets: true,
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "file" failed: secrets/website.txt does not exist.`, Address: "acme/a"}},
		},
		"file is a directory": {
			spec: key(`file("secrets")`), secrets: true, files: map[string]string{"secrets/x": ""},
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "file" failed: secrets is a directory, not a file.`, Address: "acme/a"}},
		},
		"file is not UTF-8": {
			spec: key(`file("token.bin")`), secrets: true, files: map[string]string{"token.bin": "wat_\xff\xfe"},
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "file" failed: token.bin is not valid UTF-8 text.`, Address: "acme/a"}},
		},
		"file path read from env()": {
			spec: key(`file(env("KEY_FILE"))`), secrets: true, env: fakeEnv{"KEY_FILE": "token.txt"}, files: map[string]string{"token.txt": tokA},
			keys: []string{"acme/a"},
		},
		"missing file whose path is read from env()": {
			spec: key(`file(env("KEY_FILE"))`), secrets: true, env: fakeEnv{"KEY_FILE": "/run/secrets/" + tokB[4:]},
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "file" failed: the file whose path is read by env() or file() cannot be read.`, Address: "acme/a"}},
		},
		"unset variable whose name is read from a file": {
			spec: key(`env(file("name.txt"))`), secrets: true, files: map[string]string{"name.txt": tokB[4:]},
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Error in function call", Detail: `Call to function "env" failed: environment variable (its name read by env() or file()) is not set.`, Address: "acme/a"}},
		},
		"invalid variable name read from env()": {
			spec: key(`env(env("NAME"))`), secrets: true, env: fakeEnv{"NAME": tokB + "="},
			want: []diag{{Pos: "keys.hcl:4:16", Summary: "Invalid function argument", Detail: `Invalid value for "name" parameter: the name read by env() or file() is not a valid environment variable name.`, Address: "acme/a"}},
		},
		"missing file offline": {
			spec: key(`file("secrets/website.txt")`),
			keys: []string{"acme/a"},
		},
		"empty file path": {
			spec: key(`file("")`),
			want: []diag{{Pos: "keys.hcl:4:19", Summary: "Invalid function argument", Detail: `Invalid value for "path" parameter: "" is not a valid file path.`, Address: "acme/a"}},
		},
		"file with one trailing newline": {
			spec: key(`file("token.txt")`), secrets: true, files: map[string]string{"token.txt": tokA + "\n"},
			keys: []string{"acme/a"},
		},
		"file with a trailing CRLF": {
			spec: key(`file("token.txt")`), secrets: true, files: map[string]string{"token.txt": tokA + "\r\n"},
			keys: []string{"acme/a"},
		},
		"file with two trailing newlines keeps one": {
			spec: key(`file("token.txt")`), secrets: true, files: map[string]string{"token.txt": tokA + "\n\n"},
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Invalid token", Detail: `The token value breaks a token rule: contains whitespace: tokens must not contain spaces, tabs or line breaks.`, Address: "acme/a"}},
		},
		"mounted JSON file without the tenant": {
			spec:    "tenant_key \"a\" {\n  for_each = toset([\"acme\", \"initech\"])\n  tenant   = each.key\n  name     = \"a\"\n  token    = jsondecode(file(\"secrets.json\"))[each.key]\n}\n",
			files:   map[string]string{"secrets.json": `{"acme": "` + tokA + `"}`},
			secrets: true,
			want:    []diag{{Pos: "keys.hcl:5:46", Summary: "Invalid index", Detail: `The given key does not identify an element in this collection value.`, Address: "initech/a"}},
		},
		"mounted JSON file that is not JSON": {
			spec:    key(`jsondecode(file("secrets.json"))["acme"]`),
			files:   map[string]string{"secrets.json": `{"acme": "` + tokA + `",}`},
			secrets: true,
			want:    []diag{{Pos: "keys.hcl:4:23", Summary: "Invalid function argument", Detail: `Invalid value for "str" parameter: the function failed on a value read by env() or file(); the message is withheld because it could contain a secret.`, Address: "acme/a"}},
		},
	})
}

// file() resolves relative paths against the folder of the spec file that
// calls it, not the working directory.
func TestFileRelativeToSpecFolder(t *testing.T) {
	files := map[string]string{
		"specs/keys.hcl":      "universal_key \"a\" {\n  name  = \"a\"\n  token = file(\"secrets/a.txt\")\n}\n",
		"specs/more/b.hcl":    "universal_key \"b\" {\n  name  = \"b\"\n  token = file(\"b.txt\")\n}\n",
		"specs/secrets/a.txt": tokA + "\n",
		"specs/more/b.txt":    tokB,
		"secrets/a.txt":       tokC,
	}
	s, ds := loadFiles(t, files, Options{Paths: []string{"specs/keys.hcl", "specs/more"}, Secrets: true})
	requireDiags(t, ds)
	require.NotNil(t, s)
	require.Len(t, s.Keys, 2)
	assert.Equal(t, tokA, s.Keys[0].Token.Secret.Reveal())
	assert.Equal(t, tokB, s.Keys[1].Token.Secret.Reveal())

	abs := writeFiles(t, map[string]string{"t.txt": tokD})
	_, ds = loadFiles(t, map[string]string{"keys.hcl": "universal_key \"a\" {\n  name  = \"a\"\n  token = file(\"" + abs + "/t.txt\")\n}\n"}, Options{Secrets: true})
	requireDiags(t, ds)

	_, ds = loadFiles(t, map[string]string{"specs/keys.hcl": files["specs/keys.hcl"]}, Options{Paths: []string{"specs"}, Secrets: true})
	requireDiags(t, ds, diag{Pos: "specs/keys.hcl:3:11", Summary: "Error in function call",
		Detail: `Call to function "file" failed: specs/secrets/a.txt does not exist.`, Address: "root/a"})
}

// Token rules apply when secrets are read. Messages never quote the token.
func TestTokenRules(t *testing.T) {
	const body = "Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"
	key := func(slug, env string) string {
		return "universal_key \"" + slug + "\" {\n  name  = \"" + slug + "\"\n  token = env(\"" + env + "\")\n}\n"
	}
	rule := func(detail string) []diag {
		return []diag{{Pos: "keys.hcl:3:11", Summary: "Invalid token", Detail: "The token value breaks a token rule: " + detail, Address: "root/a"}}
	}
	tests := map[string]struct {
		spec  string
		token string
		want  []diag
	}{
		"valid":                    {token: "wat_" + body},
		"missing prefix":           {token: "key_" + body, want: rule(`missing prefix: tokens must start with "wat_".`)},
		"prefix is case sensitive": {token: "WAT_" + body, want: rule(`missing prefix: tokens must start with "wat_".`)},
		"custom prefix": {
			spec:  "settings {\n  token_prefix = \"acme_\"\n}\n",
			token: "wat_" + body,
			want:  []diag{{Pos: "keys.hcl:6:11", Summary: "Invalid token", Detail: `The token value breaks a token rule: missing prefix: tokens must start with "acme_".`, Address: "root/a"}},
		},
		"custom prefix valid": {spec: "settings {\n  token_prefix = \"acme_\"\n}\n", token: "acme_" + body},
		"31 characters":       {token: "wat_" + body[:31], want: rule("too short: 31 characters after the prefix, at least 32 are required.")},
		"32 characters":       {token: "wat_" + body},
		"64 characters":       {token: "wat_" + body + "Zy8Xw7Vu6Ts5Rq4Po3Nm2Lk1Ji0Hg9Fe"},
		"dash and underscore": {token: "wat_" + body[:10] + "-_" + body[12:]},
		"invalid characters": {token: "wat_" + body[:10] + "!." + body[12:],
			want: rule("invalid character: 2 characters outside [A-Za-z0-9_-] after the prefix.")},
		"non-ASCII": {token: "wat_" + body[:10] + "é" + body[12:],
			want: rule("invalid character: 1 character outside [A-Za-z0-9_-] after the prefix.")},
		"space": {token: "wat_" + body[:10] + " " + body[11:],
			want: rule("contains whitespace: tokens must not contain spaces, tabs or line breaks.")},
		"tab": {token: "wat_" + body + "\t",
			want: rule("contains whitespace: tokens must not contain spaces, tabs or line breaks.")},
		"leading newline": {token: "\nwat_" + body, want: append(
			rule("contains whitespace: tokens must not contain spaces, tabs or line breaks."),
			rule(`missing prefix: tokens must start with "wat_".`)...)},
		"six repeated characters": {token: "wat_" + body[:20] + "aaaaaa" + body[26:],
			want: rule("low entropy: a run of 6 or more repeated characters.")},
		"five repeated characters": {token: "wat_" + body[:20] + "aaaaa" + body[25:]},
		"all the same character": {token: "wat_" + strings.Repeat("a", 40),
			want: rule("low entropy: only 1 distinct character, at least 10 are required.")},
		"six sequential characters": {token: "wat_" + body[:20] + "012345" + body[26:],
			want: rule("low entropy: a run of 6 or more sequential characters.")},
		"six descending characters": {token: "wat_" + body[:20] + "fedcba" + body[26:],
			want: rule("low entropy: a run of 6 or more sequential characters.")},
		"five sequential characters": {token: "wat_" + body[:20] + "01234" + body[25:]},
		"alphabet": {token: "wat_abcdefghijklmnopqrstuvwxyzABCDEF",
			want: rule("low entropy: a run of 6 or more sequential characters.")},
		"nine distinct characters": {token: "wat_" + strings.Repeat("a1b2c3d4e", 4),
			want: rule("low entropy: only 9 distinct characters, at least 10 are required.")},
		"ten distinct characters": {token: "wat_" + strings.Repeat("a1b2c3d4e5", 4)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			env := fakeEnv{"T": tc.token}
			s, ds := load(t, tc.spec+key("a", "T"), Options{Secrets: true, LookupEnv: env.lookup})
			requireDiags(t, ds, tc.want...)
			assertNoValue(t, ds, tc.token)
			if tc.want == nil {
				require.NotNil(t, s)
				assert.Equal(t, tc.token, s.Keys[0].Token.Secret.Reveal())
			}
			// Offline, the same spec is valid: the rules need the value.
			_, ds = load(t, tc.spec+key("a", "T"), Options{LookupEnv: env.lookup})
			requireDiags(t, ds)
		})
	}
}

func assertNoValue(t *testing.T, ds hcl.Diagnostics, value string) {
	t.Helper()
	body := strings.TrimSpace(value)
	if len(body) < 12 {
		return // not a token
	}
	body = body[4 : len(body)-2]
	for _, d := range ds {
		assert.NotContains(t, d.Summary+d.Detail, body, "a diagnostic quotes the token")
	}
}

// The same token on two keys is an error that names both addresses.
func TestTokenUsedTwice(t *testing.T) {
	runRuleCases(t, map[string]ruleCase{
		"two keys": {
			secrets: true,
			spec:    "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\ntenant_key \"b\" {\n  tenant = \"acme\"\n  name   = \"b\"\n  token  = env(\"A2\")\n}\n",
			env:     fakeEnv{"A": tokA, "A2": tokA},
			want: []diag{{Pos: "keys.hcl:8:12", Summary: "Token used twice",
				Detail: "The token of acme/b has the same value as the token of root/a. Every key needs its own token.", Address: "acme/b"}},
		},
		"for_each instances reading one variable": {
			secrets: true,
			spec:    "tenant_key \"b\" {\n  for_each = toset([\"acme\", \"globex\"])\n  tenant   = each.key\n  name     = \"b\"\n  token    = env(\"A\")\n}\n",
			want: []diag{{Pos: "keys.hcl:5:14", Summary: "Token used twice",
				Detail: "The token of globex/b has the same value as the token of acme/b.", Address: "globex/b"}},
		},
		"a duplicate key's tokens are not compared": {
			// The second acme/site is reported as a duplicate key, and its
			// token B is not taken: acme/other may use B. acme/third reuses
			// the first acme/site's token A. The diagnostics come in key order.
			secrets: true,
			spec: "tenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"1\"\n  token  = env(\"A\")\n}\n" +
				"tenant_key \"site\" {\n  tenant = \"acme\"\n  name   = \"2\"\n  token  = env(\"B\")\n}\n" +
				"tenant_key \"other\" {\n  tenant = \"acme\"\n  name   = \"3\"\n  token  = env(\"B\")\n}\n" +
				"tenant_key \"third\" {\n  tenant = \"acme\"\n  name   = \"4\"\n  token  = env(\"A\")\n}\n",
			env: fakeEnv{"A": tokA, "B": tokB},
			want: []diag{
				{Pos: "keys.hcl:6:1", Summary: "Duplicate key", Address: "acme/site",
					Detail: "The key acme/site is declared twice: by tenant_key.site here, and first at keys.hcl:1:1."},
				{Pos: "keys.hcl:19:12", Summary: "Token used twice", Address: "acme/third",
					Detail: "The token of acme/third has the same value as the token of acme/site."},
			},
		},
		"different tokens": {
			secrets: true,
			spec:    "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\ntenant_key \"b\" {\n  tenant = \"acme\"\n  name   = \"b\"\n  token  = env(\"B\")\n}\n",
			keys:    []string{"acme/b", "root/a"},
		},
		"same variable offline": {
			spec: "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\ntenant_key \"b\" {\n  tenant = \"acme\"\n  name   = \"b\"\n  token  = env(\"A\")\n}\n",
			keys: []string{"acme/b", "root/a"},
		},
	})
}

// Duplicate keys and tokens used twice are reported in the order of the
// keys, whichever of the two checks (which run side by side) found them.
func TestDuplicatesInKeyOrder(t *testing.T) {
	var spec strings.Builder
	for i, tok := range []string{"A", "B", "A", "C", "B"} {
		slug := fmt.Sprintf("k%d", i)
		if i == 3 {
			slug = "k0" // a duplicate key between two tokens used twice
		}
		fmt.Fprintf(&spec, "tenant_key %q {\n  tenant = \"acme\"\n  name   = \"n\"\n  token  = env(%q)\n}\n", slug, tok)
	}
	_, ds := loadFiles(t, map[string]string{"keys.hcl": spec.String()},
		Options{Paths: []string{"keys.hcl"}, Secrets: true, LookupEnv: fakeEnv{"A": tokA, "B": tokB, "C": tokC}.lookup})
	var got []string
	for _, d := range ds {
		got = append(got, d.Summary+" "+d.Subject.String())
	}
	assert.Equal(t, []string{
		"Token used twice keys.hcl:14,12-20",
		"Duplicate key keys.hcl:16,1-16",
		"Token used twice keys.hcl:24,12-20",
	}, got)
}

// HCL's own messages may quote the value they are about; a message about a
// value read by env() or file() is withheld instead.
func TestSecretsNeverInDiagnostics(t *testing.T) {
	exprs := []string{
		`{ for t in [env("A"), env("A")] : t => 1 }`,
		`[for t in [env("A")] : t if t]`,
		`env("A")[0]`,
		`[env("A")][1]`,
		`{ a = 1 }[env("A")]`,
		`[1][env("A")]`,
		`element([], env("A"))`,
		`[for x in env("A") : x]`,
		`!env("A")`,
		`-env("A")`,
		`env("A") * 2`,
		`tonumber(env("A"))`,
		`jsondecode(env("A"))`,
		`regex("(", env("A"))`,
		`format("%d", env("A"))`,
		`file(env("A"))`,
		`env(env("A"))`,
		`"%{ for x in env("A") }x%{ endfor }"`,
		`{ a = env("A") }.b`,
		`parseint(env("A"), 10)`,
	}
	var spec strings.Builder
	spec.WriteString("locals {\n")
	for i, x := range exprs {
		fmt.Fprintf(&spec, "  l%d = %s\n", i, x)
	}
	spec.WriteString("}\n")
	_, ds := load(t, spec.String(), Options{Secrets: true, LookupEnv: fakeEnv{"A": tokA}.lookup})
	require.Len(t, ds, len(exprs), dumpDiags(diagsOf(ds)))
	for _, d := range ds {
		assert.NotContains(t, d.Summary+" "+d.Detail, tokA[4:], "line %d", d.Subject.Start.Line)
	}
	assert.Equal(t, "Duplicate object key", ds[0].Summary)
	assert.Equal(t, withheldDetail, ds[0].Detail)

	// Errors of env() and file() themselves stay: they name the variable.
	_, ds = load(t, "locals {\n  a = env(\"UNSET\")\n}\n", Options{Secrets: true})
	requireDiags(t, ds, diag{Pos: "keys.hcl:2:7", Summary: "Error in function call", Detail: `Call to function "env" failed: environment variable UNSET is not set.`})
}

// A diagnostic about a token that could not be evaluated asks renderers to
// hide its source line, which may hold a token.
func TestTokenDiagnosticsHideSource(t *testing.T) {
	_, ds := load(t, "universal_key \"a\" {\n  name  = \"a\"\n  token = [\""+tokA+"\"]\n}\nuniversal_key \"b\" {\n  name = \"b\"\n  token = env(\"A\")\n}\n", Options{Secrets: true})
	require.Len(t, ds, 2, dumpDiags(diagsOf(ds)))
	assert.Equal(t, "Incorrect attribute value type", ds[0].Summary)
	assert.True(t, DiagnosticHidesSource(ds[0]))
	assert.Equal(t, "root/a", DiagnosticAddress(ds[0]))
	assert.Equal(t, "Error in function call", ds[1].Summary)
	assert.True(t, DiagnosticHidesSource(ds[1]))
	assert.Equal(t, "root/b", DiagnosticAddress(ds[1]))
}
