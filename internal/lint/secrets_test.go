package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"
)

// allowedReveals are the only functions outside package token that may
// call Secret.Reveal, each with what it does with the value. Tests are
// exempt: they reveal tokens to set up fixtures and to compare.
var allowedReveals = []Allowed{
	{
		Func: "github.com/keyprov/keyprov/cmd/keyprov.checksumStates",
		Why:  "computes each token's checksum state (a CRC over it); validate --secrets prints the state next to the hint",
	},
	{
		Func: "github.com/keyprov/keyprov/cmd/keyprov.runTokenNew",
		Why:  "token new prints the token it has just generated, once, on stdout: that is its purpose, and the token is new, not one of the spec's",
	},
	{
		Func: "github.com/keyprov/keyprov/internal/benchmark.generate",
		Why:  "generates the benchmark's throwaway tokens and writes them to the secrets file its spec reads, as a secret store would",
	},
}

// moduleRoot returns the directory of go.mod above the working directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, parent, dir, "no go.mod above the working directory")
		dir = parent
	}
}

func load(t *testing.T, dir string, patterns ...string) []*packages.Package {
	t.Helper()
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedSyntax | packages.NeedTypes |
			packages.NeedTypesInfo | packages.NeedImports,
		Dir: dir,
	}
	pkgs, err := packages.Load(cfg, patterns...)
	require.NoError(t, err)
	return pkgs
}

// TestSecretsNeverFormatted runs CheckSecrets over every package of the
// module (but git-ignored scratch directories): no token.Secret reaches
// fmt, log, errors or zerolog, and Reveal is called only where
// allowedReveals says.
func TestSecretsNeverFormatted(t *testing.T) {
	root := moduleRoot(t)
	var pkgs []*packages.Package
	for _, p := range load(t, root, "./...") {
		if len(p.GoFiles) > 0 && gitIgnored(root, filepath.Dir(p.GoFiles[0])) {
			continue
		}
		for _, e := range p.Errors {
			t.Errorf("%s: %v", p.PkgPath, e)
		}
		pkgs = append(pkgs, p)
	}
	require.NotEmpty(t, pkgs)
	findings := CheckSecrets(pkgs, allowedReveals)
	for _, f := range findings {
		t.Error(f)
	}
	t.Logf("lint: %d packages checked for secrets in formatting and logging calls; %d Reveal call sites allowed; %d findings",
		len(pkgs), len(allowedReveals), len(findings))
}

// gitIgnored reports whether git ignores dir (a scratch directory). Without
// git, nothing is ignored.
func gitIgnored(root, dir string) bool {
	cmd := exec.Command("git", "check-ignore", "-q", dir)
	cmd.Dir = root
	return cmd.Run() == nil
}

// TestCheckSecretsFindsLeaks checks the checker on a package that breaks
// every rule once.
func TestCheckSecretsFindsLeaks(t *testing.T) {
	pkgs := load(t, ".", "./testdata/leaky")
	require.Len(t, pkgs, 1)
	require.Empty(t, pkgs[0].Errors)
	const leaky = "github.com/keyprov/keyprov/internal/lint/testdata/leaky"
	findings := CheckSecrets(pkgs, []Allowed{
		{Func: leaky + ".Hashes", Why: "hashes it"},
		{Func: leaky + ".Gone", Why: "no longer exists"},
	})
	var got []string
	for _, f := range findings {
		line := ""
		if f.Pos.IsValid() {
			line = filepath.Base(f.Pos.Filename) + ":" + strconv.Itoa(f.Pos.Line) + ": "
		}
		got = append(got, line+f.Message)
	}
	want := []string{
		"the allow-list names " + leaky + ".Gone, which no longer calls Secret.Reveal: remove it",
		"leaky.go:25: s is a token.Secret and is passed to fmt.Println",
		"leaky.go:26: k holds a token.Secret in Token.Secret and is passed to fmt.Printf",
		"leaky.go:27: keys holds a token.Secret in Token.Secret and is passed to log.Printf",
		"leaky.go:28: &k holds a token.Secret in Token.Secret and is passed to (*github.com/rs/zerolog.Event).Interface",
		"leaky.go:29: s is a token.Secret and is passed to (*github.com/rs/zerolog.Event).Object",
		"leaky.go:30: map[string]Key{…} holds a token.Secret in Token.Secret and is passed to fmt.Errorf",
		"leaky.go:35: Secret.Reveal in " + leaky + ".Reveals, which is not in the allow-list",
	}
	require.Len(t, got, len(want), strings.Join(got, "\n"))
	for i := range want {
		assert.True(t, strings.HasPrefix(got[i], want[i]), "finding %d:\n got  %s\n want %s", i, got[i], want[i])
	}
}
