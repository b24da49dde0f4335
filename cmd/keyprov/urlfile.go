package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// maxDatabaseURLFile bounds KEYPROV_DATABASE_URL_FILE: a URL or a
// connection string is a few hundred bytes.
const maxDatabaseURLFile = 64 << 10

// readDatabaseURLFile reads the database URL from the file that
// KEYPROV_DATABASE_URL_FILE names: a regular file (a symbolic link to one
// is followed: Kubernetes mounts secrets through links) of at most
// maxDatabaseURLFile bytes. A FIFO, a device (/dev/zero) or a directory is
// refused at once. The file is opened without blocking (a plain open of a
// FIFO waits for a writer) and checked with fstat on the open descriptor,
// so nothing can be swapped in between the check and the read.
func readDatabaseURLFile(name string) (string, error) {
	f, err := os.OpenFile(name, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return "", fmt.Errorf("reading KEYPROV_DATABASE_URL_FILE: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("reading KEYPROV_DATABASE_URL_FILE: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("KEYPROV_DATABASE_URL_FILE %s is %s, not a regular file", name, fileKind(fi.Mode()))
	}
	tooLarge := fmt.Errorf("KEYPROV_DATABASE_URL_FILE %s holds more than the %d KiB a database URL may take", name, maxDatabaseURLFile>>10)
	if fi.Size() > maxDatabaseURLFile {
		return "", tooLarge
	}
	// The file may grow after fstat: read one byte more than the limit.
	b, err := io.ReadAll(io.LimitReader(f, maxDatabaseURLFile+1))
	if err != nil {
		return "", fmt.Errorf("reading KEYPROV_DATABASE_URL_FILE: %w", err)
	}
	if len(b) > maxDatabaseURLFile {
		return "", tooLarge
	}
	u := strings.TrimSpace(string(b))
	if u == "" {
		return "", fmt.Errorf("KEYPROV_DATABASE_URL_FILE %s is empty", name)
	}
	return u, nil
}

// fileKind names a file that is not regular.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "a special file"
}
