package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const literalDetail = "The value of token is not read with env() or file(), so it is written in the spec or in a variable file. Never commit a token: read it with " + refShapes + ", and treat the committed value as leaked."

// literalDetailOf is literalDetail for the attribute name.
func literalDetailOf(name string) string {
	return strings.Replace(literalDetail, "token", name, 1)
}

// outsideDetail is the detail of "Secret read outside a token" for a call
// of fn (env or file).
func outsideDetail(fn string) string {
	return fn + "() may be called only as the whole value of a key's token or previous_token (" + refShapes + "). What it reads is secret, and everything else a spec says is printed in plans or decides what a review shows: read reviewable values such as tenants from a variable (-var-file) instead."
}

// inRefDetail is the detail of "Secret in a token reference" for a call of
// fn (env or file) in the name, path or key of a reference.
func inRefDetail(fn string) string {
	return "The name, path or key of a token reference is read with " + fn + "(). They must be written in the spec or come from variables, locals or each, so that a review shows where the token is read: a token is read whole with " + refShapes + "."
}

const refDetail = "token must read a token whole, with one of: " + refShapes + ". NAME, PATH and KEY may be literals, templates, variables, locals or each.key. Computing anything from a secret (format, substr, join, can, try, a conditional, a for expression, an operator) is refused: what a spec computes from a secret could be printed."

// A token written into the spec is refused however it reaches the token
// attribute, offline and with secrets: a token attribute that is not a
// reference to env() or file() is a literal, and one that computes with
// env() or file() is refused as such.
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
		// computed: the expression also reads env(), and is refused as a
		// computation rather than as a literal.
		computed bool
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
		"conditional with env() in the other branch": {spec: key(`true ? "` + tokA + `" : env("A")`), computed: true},
		"format around env()":                        {spec: key(`format("%s%s", env("A"), "` + tokA[20:] + `")`), computed: true},
		"lookup default":                             {spec: key(`lookup({}, "a", "` + tokA + `")`)},
		"jsondecode of a literal":                    {spec: key(`jsondecode("{\"a\": \"` + tokA + `\"}")["a"]`)},
		"env name from a template":                   {spec: key(`"${"wat_"}` + tokA[4:] + `"`)},
	}
	for name, tc := range tests {
		for _, secrets := range []bool{false, true} {
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
				if tc.computed {
					assert.Equal(t, "Invalid token reference", d.Summary)
					assert.Equal(t, refDetail, d.Detail)
				} else {
					assert.Equal(t, "Literal token", d.Summary)
					assert.Equal(t, literalDetail, d.Detail)
				}
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

// Tokens read through a reference (env(), file(), trimspace(file()), an
// entry of jsondecode(file())) are accepted offline and with secrets, and
// Token.Sources names where they come from.
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
		"trimspace of file": {
			spec:    `token = trimspace(file("token.txt"))`,
			sources: map[string][]string{"root/a": {`trimspace(file("token.txt"))`}},
		},
		"parentheses": {
			spec:    `token = (env("A"))`,
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"JSON entry as an attribute": {
			spec:    `token = jsondecode(file("secrets.json")).acme`,
			sources: map[string][]string{"root/a": {`jsondecode(file("secrets.json"))["acme"]`}},
		},
		"JSON entry by a literal index": {
			spec:    `token = jsondecode(file("secrets.json"))["globex"]`,
			sources: map[string][]string{"root/a": {`jsondecode(file("secrets.json"))["globex"]`}},
		},
		"path from a variable": {
			spec:    "token = file(var.p)\n}\nvariable \"p\" {\n  default = \"token.txt\"",
			sources: map[string][]string{"root/a": {`file("token.txt")`}},
		},
		"name from a local": {
			spec:    "token = env(local.n)\n}\nlocals {\n  n = lower(\"A\") == \"a\" ? \"A\" : \"B\"",
			sources: map[string][]string{"root/a": {`env("A")`}},
		},
		"jsondecode of file per for_each instance": {
			spec: "for_each = toset([\"acme\", \"globex\"])\n  token = jsondecode(file(\"secrets.json\"))[each.key]",
			sources: map[string][]string{
				"root/a-acme":   {`jsondecode(file("secrets.json"))["acme"]`},
				"root/a-globex": {`jsondecode(file("secrets.json"))["globex"]`},
			},
		},
		"lookup in a mounted JSON file": {
			spec: "for_each = toset([\"acme\", \"globex\"])\n  token = lookup(jsondecode(file(\"secrets.json\")), each.key)",
			sources: map[string][]string{
				"root/a-acme":   {`jsondecode(file("secrets.json"))["acme"]`},
				"root/a-globex": {`jsondecode(file("secrets.json"))["globex"]`},
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
					got[k.Address.String()] = k.Token.Sources()
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

// A token expression that computes with what env() or file() read is
// refused where it is written, offline and with secrets: nothing a spec
// computes from a secret can reach a name, a hint, an error or a row. The
// reproductions of the secret-containment issue are among the cases.
func TestTokenComputationRefused(t *testing.T) {
	type want struct{ pos, summary string }
	tests := map[string]struct {
		spec string
		want []want
	}{
		"functions of env": {
			spec: `token = trimspace(format("%s", lower(upper(env("A")))) == "" ? "" : env("A"))`,
			want: []want{{"keys.hcl:3:11", "Invalid token reference"}},
		},
		"try":                {spec: `token = try(env("UNSET"), env("A"))`, want: []want{{"keys.hcl:3:11", "Invalid token reference"}}},
		"coalesce":           {spec: `token = coalesce(env("A"), env("B"))`, want: []want{{"keys.hcl:3:11", "Invalid token reference"}}},
		"for expression":     {spec: `token = [for t in [env("A")] : t][0]`, want: []want{{"keys.hcl:3:11", "Invalid token reference"}}},
		"trimspace of env":   {spec: `token = trimspace(env("A"))`, want: []want{{"keys.hcl:3:11", "Invalid token reference"}}},
		"template with text": {spec: `token = "${env("A")}x"`, want: []want{{"keys.hcl:3:11", "Invalid token reference"}}},
		"lookup with a default": {
			spec: `token = lookup(jsondecode(file("s.json")), "a", env("A"))`,
			want: []want{{"keys.hcl:3:11", "Invalid token reference"}},
		},
		"a nested JSON entry": {
			spec: `token = jsondecode(file("s.json"))["a"]["b"]`,
			want: []want{{"keys.hcl:3:11", "Invalid token reference"}},
		},
		"the hint as a channel": {
			spec: `token = format("wat_%s%s", env("PAD"), substr(env("KEYPROV_DATABASE_URL"), 0, 4))`,
			want: []want{{"keys.hcl:3:11", "Invalid token reference"}},
		},
		"through a local": {
			spec: "token = local.t\n}\nlocals {\n  t = env(\"A\")",
			want: []want{{"keys.hcl:6:7", "Secret read outside a token"}, {"keys.hcl:3:11", "Literal token"}},
		},
		"file path read with env()": {
			spec: `token = file(env("KEY_FILE"))`,
			want: []want{{"keys.hcl:3:16", "Secret in a token reference"}},
		},
		"JSON key read with env()": {
			spec: `token = jsondecode(file("s.json"))[env("K")]`,
			want: []want{{"keys.hcl:3:38", "Secret in a token reference"}},
		},
		"can() rebuilding a token in a name": {
			spec: "token = env(\"A\")\n}\nlocals {\n  chars  = split(\"\", \"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_\")\n" +
				"  leaked = join(\"\", [for i in range(42) : join(\"\", [for c in local.chars : c if can(regex(\"^.{${i}}${c}\", env(\"A\")))])])",
			want: []want{{"keys.hcl:7:107", "Secret read outside a token"}},
		},
		"an object indexed with a secret": {
			spec: "token = env(\"A\")\n  description = {w = \"w\"}[substr(env(\"KEYPROV_DATABASE_URL\"), 0, 1)]",
			want: []want{{"keys.hcl:4:34", "Secret read outside a token"}},
		},
		"duplicate keys of a for over a secret": {
			spec: "token = env(\"A\")\n}\nlocals {\n  m = {for t in split(\",\", env(\"LIST\")) : t => t}",
			want: []want{{"keys.hcl:6:28", "Secret read outside a token"}},
		},
	}
	for name, tc := range tests {
		for _, secrets := range []bool{false, true} {
			t.Run(name+mode(secrets), func(t *testing.T) {
				spec := "universal_key \"a\" {\n  name = \"a\"\n  " + tc.spec + "\n}\n"
				files := map[string]string{"keys.hcl": spec, "s.json": `{"a": "` + tokC + `"}`}
				env := fakeEnv{"A": tokA, "B": tokB, "PAD": tokA[:30], "KEYPROV_DATABASE_URL": "postgres://u:hunter2secret@h/db", "LIST": tokA + "," + tokA, "KEY_FILE": "s.json", "K": "a"}
				s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: secrets, LookupEnv: env.lookup})
				assert.Nil(t, s)
				var got []want
				for _, d := range ds {
					got = append(got, want{Pos(*d.Subject), d.Summary})
					for _, v := range []string{tokA[4:], tokB[4:], tokC[4:], tokA[:30], "hunter2secret"} {
						assert.NotContains(t, d.Detail, v)
						assert.NotContains(t, d.Summary, v)
					}
				}
				assert.Equal(t, tc.want, got, dumpDiags(diagsOf(ds)))
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
// their values never appear. Errors are at the token attribute, and name the
// whole reference.
func TestReadingSecrets(t *testing.T) {
	key := func(expr string) string {
		return "tenant_key \"a\" {\n  tenant = \"acme\"\n  name   = \"a\"\n  token  = " + expr + "\n}\n"
	}
	perTenant := func(expr string) string {
		return "tenant_key \"a\" {\n  for_each = toset([\"acme\", \"initech\"])\n  tenant   = each.key\n  name     = \"a\"\n  token    = " + expr + "\n}\n"
	}
	cannot := func(pos, detail, addr string) []diag {
		return []diag{{Pos: pos, Summary: "Cannot read token", Detail: detail, Address: addr}}
	}
	runRuleCases(t, map[string]ruleCase{
		"unset environment variable": {
			spec: key(`env("WEBSITE_KEY")`), secrets: true,
			want: cannot("keys.hcl:4:12", `env("WEBSITE_KEY"): environment variable WEBSITE_KEY is not set.`, "acme/a"),
		},
		"empty environment variable": {
			spec: key(`env("WEBSITE_KEY")`), secrets: true, env: fakeEnv{"WEBSITE_KEY": ""},
			want: cannot("keys.hcl:4:12", `env("WEBSITE_KEY"): environment variable WEBSITE_KEY is empty.`, "acme/a"),
		},
		"environment variable that is not UTF-8": {
			spec: key(`env("WEBSITE_KEY")`), secrets: true, env: fakeEnv{"WEBSITE_KEY": "wat_\xff" + tokA[5:]},
			want: cannot("keys.hcl:4:12", `env("WEBSITE_KEY"): environment variable WEBSITE_KEY is not valid UTF-8.`, "acme/a"),
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
			want: cannot("keys.hcl:4:12", `env("A=B"): "A=B" is not a valid environment variable name.`, "acme/a"),
		},
		"empty environment variable name": {
			spec: key(`env("")`),
			want: cannot("keys.hcl:4:12", `env(""): "" is not a valid environment variable name.`, "acme/a"),
		},
		"keyprov's own setting": {
			spec: key(`env("KEYPROV_DATABASE_URL")`), secrets: true,
			env:  fakeEnv{"KEYPROV_DATABASE_URL": "postgres://keyprov:hunter2secret@db/keys"},
			want: cannot("keys.hcl:4:12", `env("KEYPROV_DATABASE_URL"): KEYPROV_DATABASE_URL is one of keyprov's own settings, never a token.`, "acme/a"),
		},
		"keyprov's own setting offline": {
			spec: key(`env("KEYPROV_DATABASE_URL")`),
			want: cannot("keys.hcl:4:12", `env("KEYPROV_DATABASE_URL"): KEYPROV_DATABASE_URL is one of keyprov's own settings, never a token.`, "acme/a"),
		},
		"missing file": {
			spec: key(`file("secrets/website.txt")`), secrets: true,
			want: cannot("keys.hcl:4:12", `file("secrets/website.txt"): secrets/website.txt does not exist.`, "acme/a"),
		},
		"file is a directory": {
			spec: key(`file("secrets")`), secrets: true, files: map[string]string{"secrets/x": ""},
			want: cannot("keys.hcl:4:12", `file("secrets"): secrets is a directory, not a file.`, "acme/a"),
		},
		"file is not UTF-8": {
			spec: key(`file("token.bin")`), secrets: true, files: map[string]string{"token.bin": "wat_\xff\xfe"},
			want: cannot("keys.hcl:4:12", `file("token.bin"): token.bin is not valid UTF-8 text.`, "acme/a"),
		},
		"missing file read with trimspace": {
			spec: key(`trimspace(file("token.txt"))`), secrets: true,
			want: cannot("keys.hcl:4:12", `trimspace(file("token.txt")): token.txt does not exist.`, "acme/a"),
		},
		"file path read from env()": {
			// Refused offline and with secrets: the path is not reviewable.
			spec: key(`file(env("KEY_FILE"))`), secrets: true, env: fakeEnv{"KEY_FILE": "token.txt"}, files: map[string]string{"token.txt": tokA},
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Secret in a token reference", Detail: inRefDetail("env"), Address: "tenant_key.a"}},
		},
		"missing file whose path is read from env()": {
			// The path (which holds a token here) is never read, so never quoted.
			spec: key(`file(env("KEY_FILE"))`), secrets: true, env: fakeEnv{"KEY_FILE": "/run/secrets/" + tokB[4:]},
			want: []diag{{Pos: "keys.hcl:4:17", Summary: "Secret in a token reference", Detail: inRefDetail("env"), Address: "tenant_key.a"}},
		},
		"unset variable whose name is read from a file": {
			spec: key(`env(file("name.txt"))`), secrets: true, files: map[string]string{"name.txt": tokB[4:]},
			want: []diag{{Pos: "keys.hcl:4:16", Summary: "Secret in a token reference", Detail: inRefDetail("file"), Address: "tenant_key.a"}},
		},
		"invalid variable name read from env()": {
			spec: key(`env(env("NAME"))`), secrets: true, env: fakeEnv{"NAME": tokB + "="},
			want: []diag{{Pos: "keys.hcl:4:16", Summary: "Secret in a token reference", Detail: inRefDetail("env"), Address: "tenant_key.a"}},
		},
		"JSON key read from env()": {
			spec: key(`lookup(jsondecode(file("secrets.json")), env("TENANT"))`), secrets: true, env: fakeEnv{"TENANT": "acme"},
			files: map[string]string{"secrets.json": `{"acme": "` + tokA + `"}`},
			want:  []diag{{Pos: "keys.hcl:4:53", Summary: "Secret in a token reference", Detail: inRefDetail("env"), Address: "tenant_key.a"}},
		},
		"missing file offline": {
			spec: key(`file("secrets/website.txt")`),
			keys: []string{"acme/a"},
		},
		"empty file path": {
			spec: key(`file("")`),
			want: cannot("keys.hcl:4:12", `file(""): "" is not a valid file path.`, "acme/a"),
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
			want: []diag{{Pos: "keys.hcl:4:12", Summary: "Invalid token", Detail: `The token read from file("token.txt") breaks a token rule: contains whitespace: tokens must not contain spaces, tabs or line breaks.`, Address: "acme/a"}},
		},
		"file with two trailing newlines through trimspace": {
			spec: key(`trimspace(file("token.txt"))`), secrets: true, files: map[string]string{"token.txt": "\n " + tokA + "\n\n"},
			keys: []string{"acme/a"},
		},
		"mounted JSON file without the tenant": {
			spec:    perTenant(`jsondecode(file("secrets.json"))[each.key]`),
			files:   map[string]string{"secrets.json": `{"acme": "` + tokA + `"}`},
			secrets: true,
			want:    cannot("keys.hcl:5:14", `jsondecode(file("secrets.json"))["initech"]: secrets.json has no entry "initech".`, "initech/a"),
		},
		"mounted JSON file without the tenant, through lookup": {
			spec:    perTenant(`lookup(jsondecode(file("secrets.json")), each.key)`),
			files:   map[string]string{"secrets.json": `{"acme": "` + tokA + `"}`},
			secrets: true,
			want:    cannot("keys.hcl:5:14", `jsondecode(file("secrets.json"))["initech"]: secrets.json has no entry "initech".`, "initech/a"),
		},
		"mounted JSON file that is not JSON": {
			spec:    key(`jsondecode(file("secrets.json"))["acme"]`),
			files:   map[string]string{"secrets.json": `{"acme": "` + tokA + `",}`},
			secrets: true,
			want:    cannot("keys.hcl:4:12", `jsondecode(file("secrets.json"))["acme"]: secrets.json is not valid JSON: error at line 1, column 49.`, "acme/a"),
		},
		"mounted JSON file that is not JSON, read by every tenant": {
			// A file's own error is reported once, not once per instance.
			spec:    perTenant(`jsondecode(file("secrets.json"))[each.key]`),
			files:   map[string]string{"secrets.json": `{"acme": "` + tokA + `",}`},
			secrets: true,
			want:    cannot("keys.hcl:5:14", `jsondecode(file("secrets.json"))["acme"]: secrets.json is not valid JSON: error at line 1, column 49.`, "acme/a"),
		},
		"missing JSON file, read by every tenant": {
			spec:    perTenant(`jsondecode(file("secrets.json")).acme`),
			secrets: true,
			want:    cannot("keys.hcl:5:14", `jsondecode(file("secrets.json"))["acme"]: secrets.json does not exist.`, "acme/a"),
		},
		"missing file, read by two keys": {
			spec:    key(`file("token.txt")`) + strings.Replace(key(`file("token.txt")`), `"a"`, `"b"`, 2),
			secrets: true,
			want:    cannot("keys.hcl:4:12", `file("token.txt"): token.txt does not exist.`, "acme/a"),
		},
		"JSON entry that is not a string": {
			spec:    perTenant(`jsondecode(file("secrets.json"))[each.key]`),
			files:   map[string]string{"secrets.json": `{"acme": 42, "initech": {"token": "` + tokA + `"}}`},
			secrets: true,
			want: []diag{
				{Pos: "keys.hcl:5:14", Summary: "Cannot read token", Detail: `jsondecode(file("secrets.json"))["acme"]: the entry "acme" of secrets.json is a number, not a string.`, Address: "acme/a"},
				{Pos: "keys.hcl:5:14", Summary: "Cannot read token", Detail: `jsondecode(file("secrets.json"))["initech"]: the entry "initech" of secrets.json is an object, not a string.`, Address: "initech/a"},
			},
		},
		"mounted JSON file offline": {
			spec: perTenant(`jsondecode(file("secrets.json"))[each.key]`),
			keys: []string{"acme/a", "initech/a"},
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
	requireDiags(t, ds, diag{Pos: "specs/keys.hcl:3:11", Summary: "Cannot read token",
		Detail: `file("secrets/a.txt"): specs/secrets/a.txt does not exist.`, Address: "root/a"})
}

// Token rules apply when secrets are read. Messages never quote the token.
func TestTokenRules(t *testing.T) {
	const body = "Q3xT9mLpV2rZ8kW4nB7yH1cJ5fD6gS0a"
	key := func(slug, env string) string {
		return "universal_key \"" + slug + "\" {\n  name  = \"" + slug + "\"\n  token = env(\"" + env + "\")\n}\n"
	}
	rule := func(detail string) []diag {
		return []diag{{Pos: "keys.hcl:3:11", Summary: "Invalid token", Detail: `The token read from env("T") breaks a token rule: ` + detail, Address: "root/a"}}
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
			want:  []diag{{Pos: "keys.hcl:6:11", Summary: "Invalid token", Detail: `The token read from env("T") breaks a token rule: missing prefix: tokens must start with "acme_".`, Address: "root/a"}},
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

// No diagnostic quotes a secret. Expressions that made HCL's own messages
// quote a value read by env() or file() (an error about a duplicate object
// key, an index, a conversion) are refused where env() or file() is
// written, before anything is read or evaluated; what reading a token can
// report (a missing entry, a file that is not JSON, a token rule) names
// the reference and positions, never the text read.
func TestSecretsNeverInDiagnostics(t *testing.T) {
	secrets := []string{tokA[4:], tokB[4:], tokC[4:], tokD[4:]}
	assertNoSecret := func(t *testing.T, ds hcl.Diagnostics) {
		t.Helper()
		for _, d := range ds {
			for _, v := range secrets {
				assert.NotContains(t, d.Summary+" "+d.Detail, v, "%s", d.Subject)
			}
		}
	}

	t.Run("computations are refused", func(t *testing.T) {
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
		var want []diag
		for i, x := range exprs {
			prefix := fmt.Sprintf("  l%d = ", i)
			spec.WriteString(prefix + x + "\n")
			// Every call is reported where it is written, once.
			for _, fn := range []string{"env", "file"} {
				for at, rest := 0, x; strings.Contains(rest, fn+"("); {
					j := strings.Index(rest, fn+"(")
					at += j
					want = append(want, diag{Pos: fmt.Sprintf("keys.hcl:%d:%d", i+2, len(prefix)+at+1), Summary: "Secret read outside a token", Detail: outsideDetail(fn)})
					at += len(fn)
					rest = rest[j+len(fn):]
				}
			}
		}
		spec.WriteString("}\n")
		// The errors of two expressions whatever env() would return.
		want = append(want,
			diag{Pos: "keys.hcl:5:18", Summary: "Invalid index", Detail: "The given key does not identify an element in this collection value: the given index is greater than or equal to the length of the collection."},
			diag{Pos: "keys.hcl:20:25", Summary: "Unsupported attribute", Detail: `This object does not have an attribute named "b".`},
		)
		for _, secrets := range []bool{false, true} {
			t.Run(mode(secrets), func(t *testing.T) {
				_, ds := load(t, spec.String(), Options{Secrets: secrets, LookupEnv: fakeEnv{"A": tokA}.lookup})
				requireDiags(t, ds, want...)
				assertNoSecret(t, ds)
			})
		}
	})

	t.Run("reading tokens", func(t *testing.T) {
		files := map[string]string{
			"comma.json":    `{"a": "` + tokA + `" "b": "` + tokB + `"}`,
			"dup.json":      `{"` + tokC + `":"x","` + tokC + `":"y"}`,
			"nested.json":   `{"a": {"token": "` + tokD + `"}}`,
			"array.json":    `["` + tokA + `"]`,
			"trailing.json": `{"a": "` + tokB + `"}x` + tokC,
			"early.json":    `{"a": "` + tokC,
			"line.json":     "{\"a\": \"" + tokD[:20] + "\n" + tokD[20:] + "\"}",
			"utf8.json":     `{"a": "` + tokA + "\xff" + `"}`,
			"good.json":     `{"a": "` + tokB + `"}`,
			"rule.txt":      tokC + "!",
		}
		var spec strings.Builder
		refs := []string{
			`jsondecode(file("comma.json"))["a"]`,
			`jsondecode(file("dup.json"))["a"]`,
			`jsondecode(file("nested.json"))["a"]`,
			`jsondecode(file("array.json"))["a"]`,
			`jsondecode(file("trailing.json"))["a"]`,
			`jsondecode(file("early.json"))["a"]`,
			`jsondecode(file("line.json"))["a"]`,
			`jsondecode(file("utf8.json"))["a"]`,
			`jsondecode(file("good.json"))["b"]`,
			`file("rule.txt")`,
			`env("SPACE")`,
			`env("PREFIX")`,
			`env("UNSET")`,
		}
		for i, r := range refs {
			fmt.Fprintf(&spec, "universal_key \"k%d\" {\n  name  = \"k\"\n  token = %s\n}\n", i, r)
		}
		files["keys.hcl"] = spec.String()
		at := func(i int) string { return fmt.Sprintf("keys.hcl:%d:11", 4*i+3) }
		cannot := func(i int, detail string) diag {
			return diag{Pos: at(i), Summary: "Cannot read token", Detail: refs[i] + ": " + detail, Address: fmt.Sprintf("root/k%d", i)}
		}
		rule := func(i int, detail string) diag {
			return diag{Pos: at(i), Summary: "Invalid token", Detail: "The token read from " + refs[i] + " breaks a token rule: " + detail, Address: fmt.Sprintf("root/k%d", i)}
		}
		env := fakeEnv{"SPACE": tokA[:20] + " " + tokA[20:], "PREFIX": "key_" + tokB[4:]}
		_, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: true, LookupEnv: env.lookup})
		requireDiags(t, ds,
			cannot(0, "comma.json is not valid JSON: error at line 1, column 46."),
			cannot(1, "dup.json has the same key twice, the second at line 1, column 45."),
			cannot(2, `the entry "a" of nested.json is an object, not a string.`),
			cannot(3, "array.json does not hold a JSON object: a token reference reads an entry of an object."),
			cannot(4, "trailing.json is not valid JSON: text follows the object, at line 1, column 46."),
			cannot(5, "early.json is not valid JSON: it ends early."),
			// A line break in a string: the detail is a prefix, the column
			// is not asserted (Go's decoder reports the byte before it).
			cannot(6, "line.json is not valid JSON: error at line 1, column "),
			cannot(7, "utf8.json is not valid UTF-8 text."),
			cannot(8, `good.json has no entry "b".`),
			rule(9, "invalid character: 1 character outside [A-Za-z0-9_-] after the prefix."),
			rule(10, "contains whitespace: tokens must not contain spaces, tabs or line breaks."),
			rule(11, `missing prefix: tokens must start with "wat_".`),
			// Errors reading a variable name it, not its value.
			cannot(12, "environment variable UNSET is not set."),
		)
		assertNoSecret(t, ds)
	})
}

// A diagnostic about a token attribute that may hold a token asks renderers
// to hide its source line: a literal, a computation, a reference whose
// name, path or key is itself read. A reference that cannot be read holds
// no token, only where it is read, and its line is shown.
func TestTokenDiagnosticsHideSource(t *testing.T) {
	spec := "universal_key \"a\" {\n  name  = \"a\"\n  token = [\"" + tokA + "\"]\n}\n" +
		"universal_key \"b\" {\n  name = \"b\"\n  token = env(\"A\")\n}\n" +
		"universal_key \"c\" {\n  name  = \"c\"\n  token = [env(\"C\")]\n}\n" +
		"universal_key \"d\" {\n  name  = \"d\"\n  token = file(env(\"D\"))\n}\n"
	_, ds := load(t, spec, Options{Secrets: true})
	requireDiags(t, ds,
		diag{Pos: "keys.hcl:3:11", Summary: "Literal token", Detail: literalDetail, Address: "root/a"},
		diag{Pos: "keys.hcl:7:11", Summary: "Cannot read token", Detail: `env("A"): environment variable A is not set.`, Address: "root/b"},
		diag{Pos: "keys.hcl:11:11", Summary: "Invalid token reference", Detail: refDetail, Address: "root/c"},
		diag{Pos: "keys.hcl:15:16", Summary: "Secret in a token reference", Detail: inRefDetail("env"), Address: "universal_key.d"},
	)
	hidden := map[string]bool{}
	for _, d := range ds {
		hidden[d.Summary] = DiagnosticHidesSource(d)
	}
	assert.Equal(t, map[string]bool{
		"Literal token":               true,
		"Cannot read token":           false,
		"Invalid token reference":     true,
		"Secret in a token reference": true,
	}, hidden)
}
