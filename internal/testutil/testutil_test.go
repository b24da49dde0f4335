package testutil_test

import (
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/keyprov/keyprov/internal/testutil"
)

func TestSyncBufferConcurrentWrites(t *testing.T) {
	var b testutil.SyncBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				fmt.Fprintf(&b, "%d", i)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	assert.Len(t, b.String(), 800)
}

func TestClosedPortRefusesConnections(t *testing.T) {
	port := testutil.ClosedPort(t)
	assert.Positive(t, port)
	c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
	if err == nil {
		c.Close()
	}
	assert.Error(t, err, "something listens on the closed port")
}
