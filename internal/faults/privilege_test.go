package faults

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/verify"
)

// execAll runs statements on u, failing the test on the first error.
func execAll(t *testing.T, u string, stmts ...string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	for _, s := range stmts {
		_, err := conn.Exec(ctx, s)
		require.NoError(t, err, s)
	}
}

// TestLeastPrivilege runs keyprov as a role that owns keyprov's schema and
// nothing else (no superuser, no CREATE on the database, not even TEMP),
// and verifies keys as a role for applications that may only execute
// keyprov's verification functions: the GRANTs the README shows.
func TestLeastPrivilege(t *testing.T) {
	t.Parallel()
	admin := pgtest.AdminURL(t)
	u := pgtest.NewDatabase(t)
	db := pgx.Identifier{dbName(t, u)}.Sanitize()
	// Roles belong to the server: give them names of their own.
	suffix := randomHex(4)
	app, reader := "keyprov_app_"+suffix, "keyprov_verify_"+suffix
	appPW, readerPW := "Ap"+randomHex(12), "Rd"+randomHex(12)
	appID, readerID := pgx.Identifier{app}.Sanitize(), pgx.Identifier{reader}.Sanitize()
	execAll(t, admin,
		"CREATE ROLE "+appID+" LOGIN PASSWORD '"+appPW+"'",
		"CREATE ROLE "+readerID+" LOGIN PASSWORD '"+readerPW+"'",
		// Nobody gets anything on the database by default, not even TEMP.
		"REVOKE ALL ON DATABASE "+db+" FROM PUBLIC",
		"GRANT CONNECT ON DATABASE "+db+" TO "+appID+", "+readerID,
	)
	t.Cleanup(func() {
		// The database goes first (NewDatabase's cleanup runs after this
		// one): drop what the roles own in it, then the roles.
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, u)
		if err == nil {
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+appID+", "+readerID+" CASCADE")
			conn.Close(ctx)
		}
		t.Cleanup(func() { execAll(t, admin, "DROP ROLE IF EXISTS "+appID, "DROP ROLE IF EXISTS "+readerID) })
	})
	execAll(t, u,
		"REVOKE CREATE ON SCHEMA public FROM PUBLIC", // PostgreSQL 15 does this already
		"CREATE SCHEMA keyprov AUTHORIZATION "+appID,
	)

	// Preconditions: the role can do nothing but own its schema.
	conn := connect(t, admin)
	ctx := context.Background()
	var super, createDB, createRole, dbCreate, dbTemp, publicCreate bool
	require.NoError(t, conn.QueryRow(ctx, "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = $1", app).Scan(&super, &createDB, &createRole))
	require.NoError(t, connect(t, u).QueryRow(ctx, `SELECT has_database_privilege($1, current_database(), 'CREATE'),
	has_database_privilege($1, current_database(), 'TEMP'), has_schema_privilege($1, 'public', 'CREATE')`, app).Scan(&dbCreate, &dbTemp, &publicCreate))
	require.False(t, super || createDB || createRole || dbCreate || dbTemp || publicCreate, "the role has a privilege it should not")

	g := writeSpec(t, specOpts{Keys: 50, Gen: "old"})
	changed := writeSpec(t, specOpts{Keys: 50, Gen: "new"})
	asApp := baseEnv(pgtest.WithUser(u, app, appPW))
	commands := 0
	run := func(want int, g *generatedSpec, env map[string]string, args ...string) result {
		t.Helper()
		commands++
		r := mustRun(t, want, g.dir, env, args...)
		for _, pw := range []string{appPW, readerPW} {
			assert.NotContains(t, r.stdout+r.stderr, pw, "a password in the output")
		}
		return r
	}

	// The app role migrates, applies, plans, revokes, and reads.
	first := run(0, g, asApp, "apply")
	assert.EqualValues(t, 3*50, first.rowsWritten())
	// An apply or a plan never reads the audit trail, which grows with
	// every change ever applied: the role plans, changes every key and
	// applies a no-op without SELECT on its own events table.
	appURL := pgtest.WithUser(u, app, appPW)
	execAll(t, appURL, "REVOKE SELECT ON keyprov.events FROM "+appID)
	_, err := readerConn(t, u, app, appPW).Exec(ctx, "SELECT count(*) FROM keyprov.events")
	require.ErrorContains(t, err, "permission denied", "the revocation holds")
	events := queryInt(t, connect(t, u), "SELECT count(*) FROM keyprov.events")
	run(0, g, asApp, "plan", "--detailed-exitcode")
	run(2, changed, asApp, "plan", "--detailed-exitcode")
	run(0, changed, asApp, "apply")
	assert.Greater(t, queryInt(t, connect(t, u), "SELECT count(*) FROM keyprov.events"), events, "the apply wrote events")
	assert.Zero(t, run(0, changed, asApp, "apply").rowsWritten())
	execAll(t, appURL, "GRANT SELECT ON keyprov.events TO "+appID)
	revoked := changed.address(7)
	run(0, changed, asApp, "revoke", revoked, "--reason", "least-privilege test")
	hist := run(0, changed, asApp, "history", "-o", "json")
	assert.Contains(t, hist.stdout, `"revoked"`)
	list := run(0, changed, asApp, "list", "--all")
	assert.Contains(t, list.stdout, revoked)
	own := runVerify(t, changed.dir, asApp, changed.token(2))
	commands++
	assert.Equal(t, 0, own.code, "stderr:\n%s", tail(own.stderr, 3000))
	assert.Contains(t, own.stdout, changed.address(2))

	// Tables belong to the app role; the schema holds nothing else.
	rows := mustQuery(t, connect(t, u), "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'keyprov'")
	owners, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	assert.Equal(t, []string{app}, owners)

	// The application role: it may call keyprov's verification functions,
	// and nothing else. They are nobody's to call until granted.
	_, err = readerConn(t, u, reader, readerPW).Exec(ctx, "SELECT keyprov.change_counter()")
	require.ErrorContains(t, err, "permission denied", "no grant, no call")
	execAll(t, appURL,
		"GRANT USAGE ON SCHEMA keyprov TO "+readerID,
		"GRANT EXECUTE ON FUNCTION keyprov.verify_token(bytea, text, timestamptz), keyprov.change_counter(),"+
			" keyprov.token_prefixes(), keyprov.record_use(bigint[], timestamptz[]) TO "+readerID,
	)
	asReader := baseEnv(pgtest.WithUser(u, reader, readerPW))
	ok := runVerify(t, changed.dir, asReader, changed.token(3))
	commands++
	assert.Equal(t, 0, ok.code, "stderr:\n%s", tail(ok.stderr, 3000))
	assert.Contains(t, ok.stdout, `"valid": true`)
	assert.Contains(t, ok.stdout, changed.address(3))
	bad := runVerify(t, changed.dir, asReader, changed.token(7))
	commands++
	assert.Equal(t, 1, bad.code, "a revoked key's token does not verify; stderr:\n%s", tail(bad.stderr, 3000))
	assert.Contains(t, bad.stdout, `"reason": "revoked"`)
	old := runVerify(t, changed.dir, asReader, g.token(3))
	commands++
	assert.Equal(t, 1, old.code, "a rotated token does not verify; stderr:\n%s", tail(old.stderr, 3000))
	// An application verifying as the reader, with a cache invalidated by
	// the change counter, records last_used_at.
	v, err := verify.New(readerConn(t, u, reader, readerPW), verify.WithLastUsed(time.Hour), verify.WithCache(time.Hour, 100))
	require.NoError(t, err)
	key, err := v.Verify(ctx, changed.token(4))
	require.NoError(t, err)
	assert.Equal(t, changed.address(4), key.Address)
	_, err = v.Verify(ctx, changed.token(7))
	assert.ErrorIs(t, err, verify.ErrRevoked)
	require.NoError(t, v.Close(ctx), "flushing last_used_at as the reader")
	assert.Equal(t, 1, queryInt(t, connect(t, u), "SELECT count(*) FROM keyprov.keys WHERE last_used_at IS NOT NULL"))
	// The reader reads and writes nothing but through the functions: not
	// the keys, not the tokens' digests, not the audit trail.
	rc := readerConn(t, u, reader, readerPW)
	for _, sql := range []string{
		"SELECT count(*) FROM keyprov.keys", "SELECT count(*) FROM keyprov.tokens", "SELECT count(*) FROM keyprov.events",
		"SELECT count(*) FROM keyprov.owners", "SELECT counter FROM keyprov.changes",
		"UPDATE keyprov.keys SET name = 'x'", "UPDATE keyprov.keys SET last_used_at = now()",
	} {
		_, err = rc.Exec(ctx, sql)
		assert.ErrorContains(t, err, "permission denied", sql)
	}
	// Without a schema of its own, the role cannot create one: a clear
	// error (exit 5: the server rejected keyprov), nothing else.
	noSchema := run(5, changed, with(asApp, "KEYPROV_SCHEMA", "keyprov_other"), "apply")
	assert.Contains(t, noSchema.stderr, `creating schema \"keyprov_other\"`)
	assert.Contains(t, noSchema.stderr, "permission denied for database")
	// And an apply as the reader is refused (exit 4): the schema is not
	// the reader's, which the ownership check says before the reader's
	// missing privileges would.
	denied := run(4, changed, asReader, "apply")
	assert.Contains(t, denied.stderr, `schema keyprov is owned by "`+app+`"`)

	figure("9 privilege", "least privilege: %d commands (apply, plan, revoke, history, list, verify as the schema's owner, apply and plan with no SELECT on the events; verify, a cached verifier and last_used_at as a role with USAGE on the schema and EXECUTE on keyprov's four verification functions), no other grant", commands)
}

// readerConn connects to u as user.
func readerConn(t *testing.T, u, user, password string) *pgx.Conn {
	t.Helper()
	return connect(t, pgtest.WithUser(u, user, password))
}

func mustQuery(t *testing.T, conn *pgx.Conn, sql string, args ...any) pgx.Rows {
	t.Helper()
	rows, err := conn.Query(context.Background(), sql, args...)
	require.NoError(t, err, sql)
	return rows
}

// runVerify runs `keyprov verify -o json` with tok on standard input.
func runVerify(t *testing.T, dir string, env map[string]string, tok string) result {
	t.Helper()
	p := startIn(t, dir, env, tok, "verify", "-o", "json")
	r := p.wait(t)
	assert.NotContains(t, r.stdout+r.stderr, tok, "verify printed the token")
	return r
}
