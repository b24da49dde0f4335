package view

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/stretchr/testify/assert"
)

const (
	redactTok  = "wat_Hq7Zp2Lx9Vb4Nc8Tm1Rw5Ks3Df6Gy0Ja"
	redactTok2 = "acme_Ub3Yk8Pe1Wz6Qr9Ln4Xs7Hc2Mf5Tv0Gd"
)

func TestRedactSource(t *testing.T) {
	tests := map[string]struct {
		in       string
		prefixes []string
		want     string
	}{
		"plain text":       {in: `name = "Front end"`, want: `name = "Front end"`},
		"token":            {in: `token = "` + redactTok + `"`, want: `token = "wat_…y0Ja"`},
		"token at start":   {in: redactTok + "\n", want: "wat_…y0Ja\n"},
		"secrets JSON":     {in: `{"a": "` + redactTok + `", "b": "` + redactTok2 + `"}`, prefixes: []string{"acme_"}, want: `{"a": "wat_…y0Ja", "b": "acme_…v0Gd"}`},
		"unknown prefix":   {in: redactTok2, want: redactTok2},
		"placeholder":      {in: "wat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", want: "wat_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"},
		"hint stays":       {in: "token wat_…y0Ja", want: "token wat_…y0Ja"},
		"url":              {in: "postgres://app:S3cret@db:5432/app?sslmode=require", want: "postgres://app:****@db:5432/app?sslmode=require"},
		"url no password":  {in: "postgres://app@db/app", want: "postgres://app@db/app"},
		"url empty user":   {in: `url = "postgresql://:pw@db/x"`, want: `url = "postgresql://:****@db/x"`},
		"url at in pass":   {in: "postgres://u:p@ss/w@db/x", want: "postgres://u:****@db/x"},
		"url token pass":   {in: "postgres://u:" + redactTok + "@db/x", want: "postgres://u:****@db/x"},
		"url query":        {in: "postgres://db/x?user=u&password=S3cret&sslmode=off", want: "postgres://db/x?user=u&password=****&sslmode=off"},
		"conninfo":         {in: "host=db user=app password=S3cret dbname=app", want: "host=db user=app password=**** dbname=app"},
		"conninfo quoted":  {in: `host=db password = 'S3 cr\'et' dbname=app`, want: `host=db password = '****' dbname=app`},
		"conninfo upper":   {in: "PGPASSWORD=S3cret", want: "PGPASSWORD=****"},
		"json password":    {in: `{"password": "S3 cret"}`, want: `{"password": "****"}`},
		"hcl password":     {in: `  db_password = "S3cret"`, want: `  db_password = "****"`},
		"unterminated":     {in: `password = "S3cret`, want: `password = "****`},
		"empty password":   {in: `password = ""`, want: `password = ""`},
		"two on a line":    {in: "postgres://a:x@h postgres://b:y@h", want: "postgres://a:****@h postgres://b:****@h"},
		"password setting": {in: "password_file = \"/run/secrets/db\"", want: "password_file = \"/run/secrets/db\""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			assert.Equal(t, tt.want, RedactSource(tt.in, tt.prefixes...))
		})
	}
}

func TestSourcePrefixes(t *testing.T) {
	got := SourcePrefixes(map[string][]byte{
		"a.hcl":      []byte("settings {\n  token_prefix = \"acme_\"\n}\n"),
		"b.hcl.json": []byte(`{"settings": {"token_prefix": "zz-"}}`),
		"c.hcl":      []byte(`token_prefix = var.p`),
	})
	assert.Equal(t, []string{"acme_", "zz-"}, got)
}

func TestRedactedLineUnderline(t *testing.T) {
	line := `{"a": "` + redactTok + `", "bad": 1}`
	start := strings.Index(line, `"bad"`)
	shown, under := redactedLine(line, start, start+5, nil)
	assert.Equal(t, `{"a": "wat_…y0Ja", "bad": 1}`, shown)
	assert.Equal(t, strings.Repeat(" ", utf8.RuneCountInString(shown[:strings.Index(shown, `"bad"`)]))+"^^^^^", under,
		"the underline follows the redacted line, in runes")
	shown, under = redactedLine(line, 7, 8, nil)
	assert.Equal(t, `{"a": "wat_…y0Ja", "bad": 1}`, shown)
	assert.Equal(t, "       ^^^^^^^^^", under, "a range inside a token underlines its hint")
}

func TestWriteDiagnosticsRedacts(t *testing.T) {
	src := []byte("settings { token_prefix = \"acme_\" }\n{\"" + redactTok + "\": \"" + redactTok2 + "\"}\npostgres://app:S3cret@db/app\n")
	rng := func(line, c0, c1 int) *hcl.Range {
		return &hcl.Range{Filename: "z.hcl", Start: hcl.Pos{Line: line, Column: c0}, End: hcl.Pos{Line: line, Column: c1}}
	}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagError, Summary: "Extraneous JSON object property", Detail: `No argument or block type is named "` + redactTok + `".`, Subject: rng(2, 2, 40)},
		{Severity: hcl.DiagError, Summary: "Argument or block definition required", Subject: rng(3, 1, 9)},
	}
	var text, js, gh bytes.Buffer
	WriteDiagnosticsText(&text, diags, map[string][]byte{"z.hcl": src}, false)
	assert.NoError(t, WriteDiagnosticsJSON(&js, diags))
	WriteDiagnosticsGitHub(&gh, diags)
	for name, out := range map[string]string{"text": text.String(), "json": js.String(), "github": gh.String()} {
		for _, secret := range []string{redactTok, redactTok[4:], "S3cret"} {
			assert.NotContains(t, out, secret, name)
		}
		assert.Contains(t, out, "wat_…y0Ja", name)
	}
	assert.Contains(t, text.String(), `     2 | {"wat_…y0Ja": "acme_…v0Gd"}`)
	assert.NotContains(t, text.String(), redactTok2[5:], "the spec's token_prefix is redacted too")
	assert.Contains(t, text.String(), "     3 | postgres://app:****@db/app\n")
}
