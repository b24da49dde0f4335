package faults

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// private is a cluster of this package's own, for the tests that stop and
// restart the database: stopping the shared server would break every other
// test. One test at a time holds it. It is durable (fsync and synchronous
// commit on): an immediate shutdown is a crash, and a throwaway cluster's
// asynchronous commits would lose applies that keyprov saw committed.
var private struct {
	mu      sync.Mutex
	once    sync.Once
	cluster *pgtest.Cluster
	err     error
}

// durable is how the private cluster runs.
const durable = true

// privateCluster returns the package's own cluster, running, for the
// test's exclusive use until it ends; the test leaves it running or
// stopped, and the next user gets it running again.
func privateCluster(t *testing.T) *pgtest.Cluster {
	t.Helper()
	private.mu.Lock()
	t.Cleanup(private.mu.Unlock)
	private.once.Do(func() {
		private.cluster, private.err = pgtest.Start(pgtest.Options{Durable: durable})
	})
	require.NoError(t, private.err, "starting a PostgreSQL cluster for the restart tests")
	c := private.cluster
	if !isUp(c) {
		require.NoError(t, c.Restart(durable))
	}
	return c
}

// isUp reports whether the cluster's server accepts connections.
func isUp(c *pgtest.Cluster) bool {
	return c.Command(context.Background(), "pg_isready", "-q", "-h", "127.0.0.1", "-p", fmt.Sprint(c.Port)).Run() == nil
}

func stopPrivateCluster() {
	if private.cluster != nil {
		if err := private.cluster.Stop(true); err != nil {
			fmt.Fprintln(os.Stderr, "faults:", err)
		}
	}
}
