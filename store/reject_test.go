package store_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/internal/testutil"
	"github.com/keyprov/keyprov/store"
)

// withoutSSLMode drops sslmode from u: pgx then uses sslmode=prefer, and
// tries TLS first, which the test server does not offer.
func withoutSSLMode(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	q := p.Query()
	q.Del("sslmode")
	p.RawQuery = q.Encode()
	return p.String()
}

func withQuery(t *testing.T, u, key, value string) string {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	q := p.Query()
	q.Set(key, value)
	p.RawQuery = q.Encode()
	return p.String()
}

// A server that rejects keyprov is not retried: one attempt, however long
// the wait, and an error that names the cause on its first line, not the
// TLS attempt that pgx makes first with the default sslmode.
func TestOpenRejected(t *testing.T) {
	t.Parallel()
	u := pgtest.NewDatabase(t)
	p, err := url.Parse(u)
	require.NoError(t, err)
	user := p.User.Username()
	_, noConnect := testRole(t, u, "noconnect")
	execAll(t, pgtest.Connect(t, u), "REVOKE CONNECT ON DATABASE "+strings.TrimPrefix(p.Path, "/")+" FROM PUBLIC")

	tests := map[string]struct {
		url    string
		code   string // SQLSTATE, "" for none
		reason string
	}{
		"wrong password":   {url: pgtest.WithUser(u, user, "Wr0ngPassw0rdX"), code: "28P01", reason: "password authentication failed"},
		"missing database": {url: pgtest.WithDatabase(u, "keyprov_no_such_db"), code: "3D000", reason: `database "keyprov_no_such_db" does not exist`},
		// With password authentication the server does not say that the
		// role is missing (28000 role does not exist): the password fails.
		"missing role": {url: pgtest.WithUser(u, "keyprov_no_such_role", "Pw1"), code: "28P01", reason: `password authentication failed for user "keyprov_no_such_role"`},
		"no CONNECT":   {url: noConnect, code: "42501", reason: "permission denied for database"},
		"TLS required": {url: withQuery(t, u, "sslmode", "require"), reason: "requires TLS"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			for _, target := range []string{tc.url, withoutSSLMode(t, tc.url)} {
				if strings.Contains(tc.url, "sslmode=require") && !strings.Contains(target, "sslmode") {
					continue
				}
				attempts := 0
				_, err := store.Open(context.Background(), store.Config{URL: target, Wait: time.Hour,
					OnAttempt: func(int, time.Duration) { attempts++ }})
				require.ErrorIs(t, err, store.ErrRejected, target)
				assert.NotErrorIs(t, err, store.ErrUnavailable, "a rejection is not an unavailable store")
				assert.Equal(t, 1, attempts, "a rejection is not retried")
				var re *store.RejectedError
				require.True(t, errors.As(err, &re))
				msg := err.Error()
				assert.NotContains(t, msg, "\n", "one line")
				assert.Contains(t, msg, tc.reason)
				assert.NotContains(t, msg, "Wr0ngPassw0rdX")
				if tc.code != "" {
					var pe *pgconn.PgError
					require.True(t, errors.As(err, &pe), "the server's error is in the chain")
					assert.Equal(t, tc.code, pe.Code)
					assert.NotContains(t, msg, "refused TLS", "the TLS fallback is not the cause")
				}
				assert.Contains(t, msg, "@"+p.Host+"/", "names the target")
			}
		})
	}
}

// A database nothing listens on is retried until the wait ends, with the
// cause on one line.
func TestOpenUnreachableCause(t *testing.T) {
	t.Parallel()
	port := testutil.ClosedPort(t)
	attempts := 0
	_, err := store.Open(context.Background(), store.Config{
		URL:  fmt.Sprintf("postgres://keyprov:Sup3rSecretPw@127.0.0.1:%d/keys", port), // sslmode=prefer: TLS, then plain text
		Wait: 700 * time.Millisecond, ConnectTimeout: time.Second,
		OnAttempt: func(int, time.Duration) { attempts++ },
	})
	require.ErrorIs(t, err, store.ErrUnavailable)
	assert.NotErrorIs(t, err, store.ErrRejected)
	assert.Greater(t, attempts, 1, "retried during the wait")
	assert.NotContains(t, err.Error(), "\n")
	assert.Contains(t, err.Error(), "connection refused")
}

// A role that may connect but not create keyprov's schema is rejected
// when apply migrates, naming what it was doing.
func TestMigrateRejectedWithoutCreate(t *testing.T) {
	t.Parallel()
	u := pgtest.NewDatabase(t)
	_, roleURL := testRole(t, u, "nocreate")
	db := open(t, store.Config{URL: roleURL})
	_, err := db.Migrate(context.Background())
	require.ErrorIs(t, err, store.ErrRejected)
	assert.NotErrorIs(t, err, store.ErrForeignObject)
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe))
	assert.Equal(t, "42501", pe.Code)
	assert.Contains(t, err.Error(), `creating schema "keyprov"`)
	assert.Contains(t, err.Error(), "permission denied for database")
}
