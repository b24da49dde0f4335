package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadDatabaseURLFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	url := write("url", "  postgres://app:pw@db/app\n")
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(url, link))
	fifo := filepath.Join(dir, "fifo")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))

	for name, p := range map[string]string{"regular file": url, "symbolic link": link} {
		got, err := readDatabaseURLFile(p)
		require.NoError(t, err, name)
		assert.Equal(t, "postgres://app:pw@db/app", got, name)
	}
	tests := map[string]struct{ path, want string }{
		"device":    {"/dev/zero", "is a character device, not a regular file"},
		"fifo":      {fifo, "is a FIFO (named pipe), not a regular file"},
		"directory": {dir, "is a directory, not a regular file"},
		"too large": {write("big", strings.Repeat("x", maxDatabaseURLFile+1)), "holds more than the 64 KiB"},
		"empty":     {write("empty", " \n"), "is empty"},
		"missing":   {filepath.Join(dir, "missing"), "no such file or directory"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			_, err := readDatabaseURLFile(tt.path)
			assert.ErrorContains(t, err, tt.want)
			assert.Less(t, time.Since(start), 2*time.Second, "refused at once, never blocked")
		})
	}
	// At the limit is fine.
	_, err := readDatabaseURLFile(write("limit", "postgres://db/"+strings.Repeat("x", maxDatabaseURLFile-14)))
	assert.NoError(t, err)
}
