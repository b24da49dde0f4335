package scan

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	oidA = "78981922613b2afb6025042ff6bd878ac1994e85"
	oidB = "587be6b4c3f93f93c489c0111bba5596147a26cb"
	zero = "0000000000000000000000000000000000000000"
)

// logSample is what git log -z --format="commit %H" --raw --no-renames
// prints: a root commit adding a file with a newline in its name and a
// symbolic link, then a commit changing the file and deleting the link.
var logSample = "commit c5e2845c5b6922" + "4e220fa1b7238271e56461c2e0\x00" +
	"\n:000000 100644 " + zero + " " + oidA + " A\x00a b\nc.txt\x00" +
	":000000 120000 " + zero + " " + oidB + " A\x00link\x00" +
	"commit bced9ede2e7a6934de08761fa8790d6c6866a1c2\x00" +
	"\n:100644 100755 " + oidA + " " + oidB + " M\x00a b\nc.txt\x00" +
	":120000 000000 " + oidB + " " + zero + " D\x00link\x00" +
	"commit 64f6a41648eff4b9a113537aa7bfcb277f355f2a\x00"

func parse(t testing.TB, log string) ([]change, string, int, error) {
	var asked bytes.Buffer
	w := bufio.NewWriter(&asked)
	changes := make(chan change, 1<<16)
	n, err := parseLog(context.Background(), strings.NewReader(log), w, changes, func(p string) bool { return p == "skipped" })
	close(changes)
	require.NoError(t, w.Flush())
	var out []change
	for c := range changes {
		out = append(out, c)
	}
	return out, asked.String(), n, err
}

func TestParseLog(t *testing.T) {
	got, asked, n, err := parse(t, logSample)
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	assert.Equal(t, []change{
		{commit: "c5e2845c5b69224e220fa1b7238271e56461c2e0", path: "a b\nc.txt", new: oidA, fetch: []string{oidA}},
		// The link's blob was never asked for as a file: it is now.
		{commit: "bced9ede2e7a6934de08761fa8790d6c6866a1c2", path: "a b\nc.txt", old: oidA, new: oidB, fetch: []string{oidB}},
	}, got)
	assert.Equal(t, oidA+"\n"+oidB+"\n", asked)

	for name, log := range map[string]string{
		"no commit first": ":000000 100644 " + zero + " " + oidA + " A\x00x\x00",
		"bad header":      "commit " + oidA + "\x00\n:000000 100644 A\x00x\x00",
		"no path":         "commit " + oidA + "\x00\n:000000 100644 " + zero + " " + oidA + " A\x00",
		"stray field":     "commit " + oidA + "\x00garbage\x00",
		"cut short":       "commit " + oidA + "\x00\n:000000 100644 " + zero + " " + oidA + " A\x00x",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, _, err := parse(t, log)
			assert.Error(t, err)
		})
	}
}

// FuzzParseLog checks that any output of git log is either parsed into
// changes of regular files, each blob asked for once, or refused.
func FuzzParseLog(f *testing.F) {
	f.Add(logSample)
	f.Add("commit x\x00\n:100644 100644 " + oidA + " " + oidA + " M\x00skipped\x00")
	f.Fuzz(func(t *testing.T, log string) {
		got, asked, _, err := parse(t, log)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSuffix(asked, "\n"), "\n") {
			if line == "" {
				continue
			}
			require.False(t, seen[line], "blob %q asked for twice", line)
			seen[line] = true
		}
		for _, c := range got {
			require.NotEmpty(t, c.commit)
			require.NotEqual(t, "skipped", c.path)
			require.True(t, seen[c.new], "blob of %q never asked for", c.path)
			if c.old != "" {
				require.True(t, seen[c.old])
			}
		}
	})
}
