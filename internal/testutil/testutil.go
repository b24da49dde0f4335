// Package testutil holds the helpers that tests of several packages share.
// Only tests import it.
package testutil

import (
	"bytes"
	"flag"
	"net"
	"sync"
	"testing"
)

// update is the -update flag of every test binary that imports this
// package: go test ./view -run TestPlanGolden -update.
var update = flag.Bool("update", false, "rewrite the golden files and expected output in testdata")

// Update reports whether the test run was given -update: tests then
// rewrite their golden files instead of comparing with them.
func Update() bool { return *update }

// SyncBuffer is a bytes.Buffer that a process or a goroutine writes while
// the test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ClosedPort returns a local TCP port nothing listens on: it was free a
// moment ago, and the system hands out other ports first.
func ClosedPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatalf("closing a listener: %v", err)
	}
	return port
}
