package spec

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const inputsSpec = `
variable "tenants" {
  type = list(string)
}
variable "unused" {
  default = "x"
}
universal_key "frontend" {
  name  = "Front end"
  token = env("FRONTEND_KEY")
}
tenant_key "website" {
  for_each = toset(var.tenants)
  tenant   = each.key
  name     = "Website ${each.key}"
  token    = jsondecode(file("secrets.json"))[each.key]
}
tenant_key "blog" {
  tenant = "acme"
  name   = "Blog"
  token  = trimspace(file("blog.token"))
}
`

// Evaluation records every file and environment variable it reads, by name
// (never by value), and reading them again gives the same digest until one
// of them changes: its value, its presence, or the files of a spec directory.
func TestInputs(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"spec/keys.hcl":     inputsSpec,
		"tenants.json":      `{"tenants": ["acme", "globex"]}`,
		"spec/secrets.json": `{"acme": "` + tokB + `", "globex": "` + tokC + `"}`,
		"spec/blog.token":   tokD + "\n",
	})
	t.Chdir(dir)
	env := fakeEnv{"FRONTEND_KEY": tokA, "UNRELATED": "1"}
	opts := Options{Paths: []string{"spec"}, VarFiles: []string{"tenants.json"}, Secrets: true, LookupEnv: env.lookup}
	s, diags := Load(opts)
	require.False(t, diags.HasErrors(), diags.Error())

	want := []Input{
		{InputSpec, filepath.Join("spec", "keys.hcl")},
		{InputEnv, "FRONTEND_KEY"},
		{InputEnv, "KEYPROV_VAR_tenants"},
		{InputEnv, "KEYPROV_VAR_unused"},
		{InputFile, filepath.Join("spec", "blog.token")},
		{InputFile, filepath.Join("spec", "secrets.json")},
		{InputVarFile, "tenants.json"},
	}
	assert.Equal(t, want, s.Inputs.List, "every input by name, spec files first, the rest sorted")
	for _, in := range s.Inputs.List {
		for _, tok := range []string{tokA, tokB, tokC, tokD} {
			assert.NotContains(t, in.Name, tok)
		}
	}
	again := func() ([32]byte, error) { return ReadInputs(s.Inputs.List, opts) }
	d, err := again()
	require.NoError(t, err)
	assert.Equal(t, s.Inputs.Digest, d, "nothing changed")

	s2, diags := Load(opts)
	require.False(t, diags.HasErrors())
	assert.Equal(t, s.Inputs, s2.Inputs, "the same inputs give the same record")

	changes := map[string]step{
		"an environment variable changed":      {func() { env["FRONTEND_KEY"] = tokC }, func() { env["FRONTEND_KEY"] = tokA }},
		"KEYPROV_VAR_ set":                     {func() { env["KEYPROV_VAR_unused"] = "y" }, func() { delete(env, "KEYPROV_VAR_unused") }},
		"KEYPROV_VAR_ set to the empty string": {func() { env["KEYPROV_VAR_unused"] = "" }, func() { delete(env, "KEYPROV_VAR_unused") }},
		"a token in the secrets file":          rewrite(t, "spec/secrets.json", `{"acme": "`+tokB+`", "globex": "`+tokA+`"}`),
		"a token file's trailing space":        rewrite(t, "spec/blog.token", tokD+"\n\n"),
		"the var-file":                         rewrite(t, "tenants.json", `{"tenants": ["acme"]}`),
		"the spec":                             rewrite(t, "spec/keys.hcl", inputsSpec+"\n"),
		"a token file removed":                 remove(t, "spec/blog.token"),
	}
	for name, c := range changes {
		c.change()
		d, err := again()
		c.undo()
		if err == nil {
			assert.NotEqual(t, s.Inputs.Digest, d, name)
		}
		d, err = again()
		require.NoError(t, err, name)
		assert.Equal(t, s.Inputs.Digest, d, "%s: undone", name)
	}

	env["UNRELATED"] = "2"
	d, err = again()
	require.NoError(t, err)
	assert.Equal(t, s.Inputs.Digest, d, "a variable that evaluation did not read does not count")

	require.NoError(t, os.WriteFile(filepath.Join("spec", "more.hcl"), []byte("# nothing\n"), 0o644))
	_, err = again()
	assert.ErrorIs(t, err, ErrInputsChanged, "a spec file added to the spec directory")
}

// step is a change and its undoing.
type step struct{ change, undo func() }

// rewrite replaces a file's content, and puts it back.
func rewrite(t *testing.T, name, content string) step {
	var old []byte
	return step{func() {
		var err error
		old, err = os.ReadFile(name)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(name, []byte(content), 0o644))
	}, func() {
		require.NoError(t, os.WriteFile(name, old, 0o644))
	}}
}

// remove removes a file, and puts it back.
func remove(t *testing.T, name string) step {
	var old []byte
	return step{func() {
		var err error
		old, err = os.ReadFile(name)
		require.NoError(t, err)
		require.NoError(t, os.Remove(name))
	}, func() {
		require.NoError(t, os.WriteFile(name, old, 0o644))
	}}
}

// A list that names an input that cannot be read again never matches.
func TestReadInputsRefusesVarSources(t *testing.T) {
	dir := writeFiles(t, map[string]string{"keys.hcl": "variable \"v\" {}\n"})
	t.Chdir(dir)
	opts := Options{Paths: []string{"keys.hcl"}, LookupEnv: fakeEnv{}.lookup, VarSources: []Source{{Name: "git:HEAD:vars.hcl", Bytes: []byte(`v = "x"`)}}}
	s, diags := Load(opts)
	require.False(t, diags.HasErrors(), diags.Error())
	assert.Contains(t, s.Inputs.List, Input{InputVarSource, "git:HEAD:vars.hcl"})
	_, err := ReadInputs(s.Inputs.List, opts)
	require.ErrorIs(t, err, ErrInputsChanged)
	assert.Contains(t, err.Error(), "cannot be read again")
}

// TestHashFileLimitedAsRead: the fast path's re-read hashes a file through
// a small buffer; it must give what evaluation recorded from the whole
// file, and count as absent exactly the files evaluation could not read.
func TestHashFileLimitedAsRead(t *testing.T) {
	dir := t.TempDir()
	big := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB, past the copy buffer
	for name, text := range map[string]string{"empty": "", "small": "{\"a\": \"b\"}\n", "big": big} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "dir"), 0o700))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	require.NoError(t, os.Symlink("big", filepath.Join(dir, "link")))
	for _, name := range []string{"empty", "small", "big", "dir", "fifo", "link", "missing"} {
		for _, max := range []int64{0, 10, 11, int64(len(big)) - 1, int64(len(big)), 1 << 30} {
			p := filepath.Join(dir, name)
			b, err := readFileLimited(p, max, "KEYPROV_MAX_FILE_BYTES")
			assert.Equal(t, valueOf(b, err == nil), hashFileLimited(p, max, "KEYPROV_MAX_FILE_BYTES"), "%s, at most %d bytes", name, max)
		}
	}
}
