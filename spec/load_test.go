package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A directory contributes its *.hcl and *.hcl.json files, read together:
// settings, variables and locals of one file are used by keys of another.
func TestDirectoryOfSpecFiles(t *testing.T) {
	files := map[string]string{
		"keys/00-settings.hcl": "settings {\n  owner = \"platform\"\n}\nvariable \"tenants\" {\n  default = [\"acme\", \"globex\"]\n}\n",
		"keys/locals.hcl":      "locals {\n  perms = [\"cms.read\"]\n}\n",
		"keys/universal.hcl":   "universal_key \"frontend\" {\n  name        = \"Front end\"\n  token       = env(\"A\")\n  permissions = local.perms\n}\n",
		"keys/tenants.hcl.json": `{
  "tenant_key": {
    "website": {
      "for_each": "${toset(var.tenants)}",
      "tenant": "${each.key}",
      "name": "Website (${each.key})",
      "token": "${env(\"WEBSITE_KEY_${upper(each.key)}\")}",
      "permissions": "${local.perms}"
    }
  }
}`,
		"keys/README.md":        "not a spec",
		"keys/vars.json":        `{"not": "a spec"}`,
		"keys/sub/ignored.hcl":  "this is not even HCL {",
		"keys/.hidden.hcl.swp":  "x",
		"keys/backup.hcl~":      "x",
		"keys/secrets/acme.txt": tokB,
	}
	env := fakeEnv{"A": tokA, "WEBSITE_KEY_ACME": tokB, "WEBSITE_KEY_GLOBEX": tokC}
	for _, secrets := range []bool{false, true} {
		t.Run(mode(secrets), func(t *testing.T) {
			s, ds := loadFiles(t, files, Options{Paths: []string{"keys"}, Secrets: secrets, LookupEnv: env.lookup})
			requireDiags(t, ds)
			require.NotNil(t, s)
			assert.Equal(t, []string{"keys/00-settings.hcl", "keys/locals.hcl", "keys/tenants.hcl.json", "keys/universal.hcl"}, s.Files)
			assert.Equal(t, "platform", s.Settings.Owner)
			var got []string
			for _, k := range s.Keys {
				got = append(got, k.Address.String()+" "+k.Name+" "+string(k.PermissionsJSON))
			}
			assert.Equal(t, []string{
				`acme/website Website (acme) [{"name": "cms.read"}]`,
				`globex/website Website (globex) [{"name": "cms.read"}]`,
				`root/frontend Front end [{"name": "cms.read"}]`,
			}, got)
			assert.Equal(t, []string{`env("WEBSITE_KEY_ACME")`}, s.Keys[0].Token.Sources())
		})
	}
}

func TestPaths(t *testing.T) {
	key := "universal_key \"a\" {\n  name  = \"a\"\n  token = env(\"A\")\n}\n"
	t.Run("a file named twice is read once", func(t *testing.T) {
		s, ds := loadFiles(t, map[string]string{"keys.hcl": key}, Options{Paths: []string{"keys.hcl", "./keys.hcl", "."}})
		requireDiags(t, ds)
		assert.Equal(t, []string{"keys.hcl"}, s.Files)
	})
	t.Run("a file with another extension is read when named", func(t *testing.T) {
		s, ds := loadFiles(t, map[string]string{"keys.conf": key}, Options{Paths: []string{"keys.conf"}})
		requireDiags(t, ds)
		assert.Len(t, s.Keys, 1)
	})
	t.Run("missing file", func(t *testing.T) {
		_, ds := loadFiles(t, map[string]string{"keys.hcl": key}, Options{Paths: []string{"nope.hcl"}})
		requireDiags(t, ds, diag{Summary: "Cannot read spec", Detail: "nope.hcl does not exist."})
	})
	t.Run("empty directory", func(t *testing.T) {
		_, ds := loadFiles(t, map[string]string{"keys/README.md": "x"}, Options{Paths: []string{"keys"}})
		requireDiags(t, ds, diag{Summary: "No spec files", Detail: "The directory keys holds no *.hcl or *.hcl.json files."})
	})
	t.Run("no paths", func(t *testing.T) {
		_, ds := Evaluate(nil, Options{})
		requireDiags(t, ds, diag{Summary: "No spec files", Detail: "No spec file was given."})
	})
	t.Run("file over the size limit", func(t *testing.T) {
		_, ds := loadFiles(t, map[string]string{"keys.hcl": key}, Options{Paths: []string{"keys.hcl"}, Limits: Limits{MaxSpecBytes: 10}})
		requireDiags(t, ds, diag{Summary: "Cannot read spec", Detail: "keys.hcl cannot be read: file is larger than the limit: 55 bytes, the limit is 10 (KEYPROV_MAX_SPEC_BYTES)."})
		// The spec limit is the spec files' own: other files have theirs.
		_, ds = loadFiles(t, map[string]string{"keys.hcl": key}, Options{Paths: []string{"keys.hcl"}, Limits: Limits{MaxFileBytes: 10}})
		requireDiags(t, ds)
	})
	t.Run("file() over the size limit", func(t *testing.T) {
		files := map[string]string{"keys.hcl": "universal_key \"a\" {\n  name  = \"a\"\n  token = file(\"big.txt\")\n}\n", "big.txt": tokA + tokB}
		_, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl"}, Secrets: true, Limits: Limits{MaxFileBytes: 64}})
		requireDiags(t, ds, diag{Pos: "keys.hcl:3:11", Summary: "Cannot read token", Address: "root/a",
			Detail: `file("big.txt"): big.txt cannot be read: file is larger than the limit: 72 bytes, the limit is 64 (KEYPROV_MAX_FILE_BYTES).`})
	})
	t.Run("unreadable spec file", func(t *testing.T) {
		if os.Geteuid() == 0 {
			// root reads any file; a directory named like a spec file is
			// the unreadable case that also holds for root.
			_, ds := loadFiles(t, map[string]string{"keys.hcl/x": ""}, Options{Paths: []string{"keys.hcl"}})
			requireDiags(t, ds, diag{Summary: "No spec files", Detail: "The directory keys.hcl holds no *.hcl or *.hcl.json files."})
			return
		}
		dir := writeFiles(t, map[string]string{"keys.hcl": key})
		require.NoError(t, os.Chmod(filepath.Join(dir, "keys.hcl"), 0))
		t.Chdir(dir)
		_, ds := Load(Options{Paths: []string{"keys.hcl"}})
		requireDiags(t, ds, diag{Summary: "Cannot read spec", Detail: "keys.hcl cannot be read: permission denied."})
	})
}

// A whole spec in HCL's JSON syntax: expressions are templates in strings.
func TestJSONSyntax(t *testing.T) {
	spec := `{
  "settings": {"owner": "platform", "allowed_permissions": ["cms.*", "wb.*"]},
  "variable": {"tenants": {"type": "list(string)", "default": ["acme"]}},
  "locals": {"perms": [{"name": "wb.page", "rwd": "r"}, "cms.read"]},
  "universal_key": {
    "frontend": {
      "name": "Front end",
      "description": "Every tenant",
      "token": "${env(\"A\")}",
      "permissions": [{"name": "cms.read", "own": false}],
      "metadata": {"team": "web"},
      "expires": "2027-06-30T00:00:00Z"
    }
  },
  "tenant_key": {
    "website": {
      "for_each": "${toset(var.tenants)}",
      "tenant": "${each.key}",
      "name": "Website ${each.key}",
      "token": "${jsondecode(file(\"secrets.json\"))[each.key]}",
      "permissions": "${local.perms}"
    }
  }
}`
	files := map[string]string{"keys.hcl.json": spec, "secrets.json": `{"acme": "` + tokB + `"}`}
	env := fakeEnv{"A": tokA}
	for _, secrets := range []bool{false, true} {
		t.Run(mode(secrets), func(t *testing.T) {
			s, ds := loadFiles(t, files, Options{Paths: []string{"keys.hcl.json"}, Secrets: secrets, LookupEnv: env.lookup})
			requireDiags(t, ds)
			require.Len(t, s.Keys, 2)
			assert.Equal(t, "acme/website", s.Keys[0].Address.String())
			assert.Equal(t, `[{"name": "cms.read"}, {"rwd": "r", "name": "wb.page"}]`, string(s.Keys[0].PermissionsJSON))
			assert.Equal(t, []string{`jsondecode(file("secrets.json"))["acme"]`}, s.Keys[0].Token.Sources())
			assert.Equal(t, "root/frontend", s.Keys[1].Address.String())
			assert.Equal(t, []string{`env("A")`}, s.Keys[1].Token.Sources())
			assert.Equal(t, secrets, s.Keys[1].Token.Known)
			assert.Equal(t, "keys.hcl.json:16:16", Pos(s.Keys[0].Block.DefRange()))
		})
	}

	t.Run("errors", func(t *testing.T) {
		_, ds := loadFiles(t, map[string]string{"keys.hcl.json": `{
  "universal_key": {
    "a": {"name": "a", "token": "` + tokA + `", "tenant": "acme"}
  }
}`}, Options{Paths: []string{"keys.hcl.json"}})
		requireDiags(t, ds,
			diag{Pos: "keys.hcl.json:3:73", Summary: "Unexpected tenant", Detail: "A universal key lives in the root tenant", Address: "universal_key.a"},
			diag{Pos: "keys.hcl.json:3:33", Summary: "Literal token", Detail: "Never commit a token", Address: "universal_key.a"},
		)
	})
	t.Run("env() and file() outside a token", func(t *testing.T) {
		// The templates of JSON strings are checked like native syntax,
		// at their positions in the file.
		_, ds := loadFiles(t, map[string]string{"keys.hcl.json": `{
  "locals": {"team": "${file(\"team.txt\")}"},
  "universal_key": {
    "a": {"name": "a-${env(\"A\")}", "token": "${env(\"A\")}"},
    "b": {"name": "b", "token": "${file(env(\"B_FILE\"))}"},
    "c": {"name": "c", "token": "${upper(env(\"C\"))}"}
  }
}`}, Options{Paths: []string{"keys.hcl.json"}, Secrets: true, LookupEnv: fakeEnv{"A": tokA, "B_FILE": "b.txt", "C": tokC}.lookup})
		requireDiags(t, ds,
			diag{Pos: "keys.hcl.json:2:25", Summary: "Secret read outside a token", Detail: outsideDetail("file")},
			diag{Pos: "keys.hcl.json:4:24", Summary: "Secret read outside a token", Detail: outsideDetail("env"), Address: "universal_key.a"},
			diag{Pos: "keys.hcl.json:5:41", Summary: "Secret in a token reference", Detail: inRefDetail("env"), Address: "universal_key.b"},
			diag{Pos: "keys.hcl.json:6:33", Summary: "Invalid token reference", Detail: refDetail, Address: "root/c"},
		)
	})
	t.Run("syntax error", func(t *testing.T) {
		_, ds := loadFiles(t, map[string]string{"keys.hcl.json": "{\n  \"universal_key\": {,}\n}"}, Options{Paths: []string{"keys.hcl.json"}})
		requireDiags(t, ds,
			diag{Pos: "keys.hcl.json:1:1", Summary: "Root value must be object", Detail: "The root value in a JSON-based configuration must be either a JSON object or a JSON array of objects."},
			diag{Pos: "keys.hcl.json:2:21", Summary: "Invalid object property name", Detail: "A JSON object property name must be a string"},
			diag{Pos: "keys.hcl.json:2:21", Summary: "Invalid start of value", Detail: "A JSON value must start with a brace, a bracket, a number, a string, or a keyword."},
			diag{Pos: "keys.hcl.json:2:21", Summary: "Trailing comma in object", Detail: "JSON does not permit a trailing comma after the final property in an object."},
		)
	})
}

// TestReadFileLimited reads regular files of sizes around its buffer's
// edges, and refuses anything else at once: a named pipe without a writer
// (which would block a plain open), a device, a symlink to either.
func TestReadFileLimited(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 511, 512, 513, 4096, 100_000} {
		want := make([]byte, n)
		for i := range want {
			want[i] = byte('a' + i%26)
		}
		p := filepath.Join(dir, fmt.Sprint(n))
		require.NoError(t, os.WriteFile(p, want, 0o600))
		got, err := readFileLimited(p, 100_000, "LIMIT")
		require.NoError(t, err, n)
		assert.Equal(t, want, got, n)
		if n > 0 {
			_, err = readFileLimited(p, int64(n-1), "LIMIT")
			assert.ErrorIs(t, err, ErrTooLarge, n)
		}
	}

	// read runs readFileLimited and fails the test if it blocks.
	read := func(t *testing.T, p string) ([]byte, error) {
		t.Helper()
		type result struct {
			b   []byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			b, err := readFileLimited(p, 100_000, "LIMIT")
			done <- result{b, err}
		}()
		select {
		case r := <-done:
			return r.b, r.err
		case <-time.After(10 * time.Second):
			t.Fatalf("readFileLimited(%s) blocked", p)
			return nil, nil
		}
	}
	fifo := filepath.Join(dir, "pipe")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	t.Run("named pipe", func(t *testing.T) {
		_, err := read(t, fifo)
		require.ErrorIs(t, err, ErrNotRegular)
		assert.Equal(t, "pipe cannot be read: not a regular file: it is a named pipe", describeFSError("pipe", err))
	})
	t.Run("named pipe with a writer", func(t *testing.T) {
		// A writer opens the pipe without blocking once it has a reader;
		// readFileLimited must not be that reader for long.
		w := make(chan struct{})
		go func() {
			defer close(w)
			f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
			if err == nil {
				_, _ = f.Write([]byte("wat_token"))
				_ = f.Close()
			}
		}()
		_, err := read(t, fifo)
		require.ErrorIs(t, err, ErrNotRegular)
		// Release the writer, if it is still waiting for a reader.
		if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil {
			<-w
			_ = r.Close()
		}
	})
	t.Run("device", func(t *testing.T) {
		_, err := read(t, "/dev/null")
		require.ErrorIs(t, err, ErrNotRegular)
		assert.Contains(t, err.Error(), "character device")
		_, err = read(t, "/dev/zero")
		require.ErrorIs(t, err, ErrNotRegular)
	})
	t.Run("symlinks", func(t *testing.T) {
		require.NoError(t, os.Symlink("100000", filepath.Join(dir, "to-file")))
		got, err := read(t, filepath.Join(dir, "to-file"))
		require.NoError(t, err)
		assert.Len(t, got, 100_000)
		require.NoError(t, os.Symlink("pipe", filepath.Join(dir, "to-pipe")))
		_, err = read(t, filepath.Join(dir, "to-pipe"))
		require.ErrorIs(t, err, ErrNotRegular)
	})
	t.Run("directory", func(t *testing.T) {
		_, err := read(t, dir)
		require.ErrorIs(t, err, errIsDir)
	})
}
