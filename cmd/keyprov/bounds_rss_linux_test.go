package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/txtar"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// maxEvalRSS is the peak resident memory that evaluating a hostile spec may
// reach.
const maxEvalRSS = 512 << 20

// TestEvaluationMemory runs the keyprov binary on the specs of the hostile
// corpus whose evaluation would run out of memory if it were not bounded
// (each refused at first with "fatal error: out of memory"), and on specs
// that reach the limits without passing them, and reads each process's
// peak resident memory: it must stay under 512 MB, and the process must
// end in seconds with the expected exit status and, for a refusal, a
// diagnostic with its position.
func TestEvaluationMemory(t *testing.T) {
	doubling := func(n int) string {
		var b strings.Builder
		b.WriteString("locals {\n  a0 = \"x\"\n")
		for i := 1; i <= n; i++ {
			b.WriteString("  a" + strconv.Itoa(i) + " = \"${local.a" + strconv.Itoa(i-1) + "}${local.a" + strconv.Itoa(i-1) + "}\"\n")
		}
		b.WriteString("}\n\nuniversal_key \"frontend\" {\n  name  = substr(local.a" + strconv.Itoa(n) + ", 0, 10)\n  token = env(\"TOKEN_A\")\n}\n")
		return b.String()
	}
	key := func(name string) string {
		return "universal_key \"frontend\" {\n  name  = " + name + "\n  token = env(\"TOKEN_A\")\n}\n"
	}
	cases := map[string]struct {
		hostile string // a case of testdata/hostile, or:
		spec    string
		want    int    // exit status
		stderr  string // a part of the diagnostic
	}{
		"doubling locals":         {hostile: "eval_doubling_locals", want: 1, stderr: "keys.hcl:28:9: error: Value too large"},
		"setproduct":              {hostile: "eval_setproduct", want: 1, stderr: "keys.hcl:2:22: error: Error in function call"},
		"log(0, 0)":               {hostile: "eval_function_panic", want: 1, stderr: "keys.hcl:2:15: error: Error in function call"},
		"huge range":              {hostile: "eval_huge_range", want: 1, stderr: "keys.hcl:2:13: error: Error in function call"},
		"format width":            {hostile: "eval_format_width", want: 1, stderr: "keys.hcl:2:17: error: Error in function call"},
		"template references":     {hostile: "eval_template_references", want: 1, stderr: "keys.hcl:4:11: error: Value too large"},
		"nested for":              {hostile: "eval_nested_for", want: 1, stderr: "keys.hcl:3:30: error: Value too large"},
		"doubling to the limit":   {spec: doubling(25), want: 0},
		"one past the limit":      {spec: doubling(26), want: 1, stderr: "keys.hcl:28:9: error: Value too large"},
		"setproduct at the limit": {spec: key(`"n${length(setproduct(range(500), range(500)))}"`), want: 0},
		"format at the limit":     {spec: key(`substr(format("%33554432s", "x"), 0, 10)`), want: 0},
		"jsonencode past the limit": {
			spec:   "locals {\n  mib = \"%{ for i in range(1024) }${local.kib}%{ endfor }\"\n  kib = \"%{ for i in range(1024) }x%{ endfor }\"\n}\n" + key(`"n${strlen(jsonencode([for i in range(40) : local.mib if i >= 0]))}"`),
			want:   1,
			stderr: `Call to function "jsonencode" failed: the result would take up to`,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if c.hostile != "" {
				a, err := txtar.ParseFile(filepath.Join(hostileDir, c.hostile+".txtar"))
				require.NoError(t, err)
				for _, f := range a.Files {
					require.NoError(t, os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o600))
				}
			} else {
				require.NoError(t, os.WriteFile(filepath.Join(dir, "keys.hcl"), []byte(c.spec), 0o600))
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			cmd, _, stderr := keyprovCmd(ctx, t, dir, map[string]string{"KEYPROV_LOG_LEVEL": "disabled"}, "validate", "-f", "keys.hcl")
			start := time.Now()
			err := cmd.Run()
			took := time.Since(start)
			require.NoError(t, ctx.Err(), "keyprov ran for a minute")
			assert.Equal(t, c.want, exitCode(t, err), stderr.String())
			if c.stderr != "" {
				assert.Contains(t, stderr.String(), c.stderr)
			}
			assert.NotContains(t, stderr.String(), "goroutine")
			ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
			require.True(t, ok, "no rusage")
			rss := ru.Maxrss << 10 // kilobytes on Linux
			t.Logf("peak RSS %d MB in %s", rss>>20, took.Round(time.Millisecond))
			assert.Less(t, rss, int64(maxEvalRSS), "peak RSS")
		})
	}
}
