package spec

import (
	"testing"

	"github.com/keyprov/keyprov/internal/pgtest"
)

// TestMain stops the PostgreSQL cluster that the canonical JSON test
// starts (unless KEYPROV_TEST_DATABASE_URL points at a server).
func TestMain(m *testing.M) { pgtest.Main(m) }
