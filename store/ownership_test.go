package store_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyprov/keyprov/internal/pgtest"
	"github.com/keyprov/keyprov/store"
)

// testRole creates a role with a name of its own (roles belong to the
// server), LOGIN with a random password, dropped when the test ends with
// what it owns in the database at u. It returns the quoted name, and u as
// that role.
func testRole(t *testing.T, u, label string) (ident, roleURL string) {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "keyprov_" + label + "_" + hex.EncodeToString(b)
	password := "Pw" + hex.EncodeToString(b) + "x"
	ident = pgx.Identifier{name}.Sanitize()
	admin := pgtest.AdminURL(t)
	execAll(t, pgtest.Connect(t, admin), "CREATE ROLE "+ident+" LOGIN PASSWORD '"+password+"'")
	t.Cleanup(func() {
		// The database goes after this (NewDatabase's cleanup was
		// registered first): drop what the role owns in it, then the role.
		ctx := context.Background()
		if conn, err := pgx.Connect(ctx, u); err == nil {
			_, _ = conn.Exec(ctx, "DROP OWNED BY "+ident+" CASCADE")
			conn.Close(ctx)
		}
		t.Cleanup(func() {
			if conn, err := pgx.Connect(ctx, admin); err == nil {
				_, _ = conn.Exec(ctx, "DROP ROLE IF EXISTS "+ident)
				conn.Close(ctx)
			}
		})
	})
	return ident, pgtest.WithUser(u, name, password)
}

// foreign returns the refusal in err, failing the test when there is none.
func foreign(t *testing.T, err error) *store.ForeignObjectError {
	t.Helper()
	require.ErrorIs(t, err, store.ErrForeignObject)
	var fe *store.ForeignObjectError
	require.True(t, errors.As(err, &fe), "%v", err)
	return fe
}

// refused lists the refused objects as "kind name owner".
func refused(fe *store.ForeignObjectError) []string {
	var out []string
	for _, o := range fe.Objects {
		out = append(out, o.Kind+" "+o.Name+" "+o.Owner)
	}
	return out
}

// assertUsable checks that db may read and write its schema.
func assertUsable(t *testing.T, db *store.DB) {
	t.Helper()
	ctx := context.Background()
	_, err := db.Migrate(ctx)
	require.NoError(t, err)
	require.NoError(t, db.CheckVersion(ctx))
	_, err = write(t, db, createBatch(3, 0))
	require.NoError(t, err)
}

// A schema that another role created first, with a trigger on
// keyprov.tokens, is refused before anything is migrated, read or written,
// even when keyprov runs as a superuser (for whom pg_has_role says yes to
// every role).
func TestOwnershipSchemaCreatedByAnotherRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	mallory, malloryURL := testRole(t, u, "mallory")
	admin := pgtest.Connect(t, u)
	execAll(t, admin, "GRANT CREATE ON DATABASE "+pgx.Identifier{admin.Config().Database}.Sanitize()+" TO "+mallory)
	execAll(t, pgtest.Connect(t, malloryURL),
		"CREATE SCHEMA keyprov",
		"CREATE TABLE keyprov.tokens (digest bytea)",
		"CREATE TABLE keyprov.fired (at timestamptz)",
		"GRANT INSERT ON keyprov.fired TO PUBLIC",
		`CREATE FUNCTION keyprov.audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO keyprov.fired VALUES (now()); RETURN NEW; END $$`,
		"CREATE TRIGGER audit BEFORE INSERT OR UPDATE ON keyprov.tokens FOR EACH ROW EXECUTE FUNCTION keyprov.audit()",
	)

	db := open(t, store.Config{URL: u})
	_, err := db.Migrate(ctx)
	fe := foreign(t, err)
	assert.Equal(t, "keyprov", fe.Schema)
	assert.Equal(t, "postgres", fe.Role)
	assert.False(t, fe.Outsider(), "a superuser is no outsider")
	name := strings.Trim(mallory, `"`)
	assert.Equal(t, []string{
		"schema keyprov " + name,
		"function keyprov.audit() " + name,
		"table keyprov.fired " + name,
		"table keyprov.tokens " + name,
		"trigger audit on keyprov.tokens " + name,
	}, refused(fe))
	assert.Contains(t, err.Error(), `schema keyprov is owned by "`+name+`"`)
	assert.Contains(t, err.Error(), `trigger audit on keyprov.tokens was not created by keyprov (it calls function keyprov.audit(), owned by "`+name+`")`)
	assert.Contains(t, err.Error(), "ALTER … OWNER TO")

	var versioned bool
	require.NoError(t, admin.QueryRow(ctx, "SELECT to_regclass('keyprov.schema_version') IS NOT NULL").Scan(&versioned))
	assert.False(t, versioned, "nothing was migrated")
	assert.ErrorIs(t, db.CheckVersion(ctx), store.ErrForeignObject, "reading is refused too")
	_, err = write(t, open(t, store.Config{URL: u}), createBatch(1, 0))
	assert.ErrorIs(t, err, store.ErrForeignObject, "a write without a migration first is refused")
	var fired int
	require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM keyprov.fired").Scan(&fired))
	assert.Zero(t, fired, "the trigger never ran")

	// Dropping the schema, as SECURITY.md says, lets keyprov start afresh.
	execAll(t, admin, "DROP SCHEMA keyprov CASCADE")
	assertUsable(t, open(t, store.Config{URL: u}))
}

// An empty schema made by another role, waiting for keyprov to migrate
// into it (its owner could then drop and replace keyprov's tables).
func TestOwnershipEmptySchemaCreatedByAnotherRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	mallory, _ := testRole(t, u, "mallory")
	admin := pgtest.Connect(t, u)
	execAll(t, admin, "CREATE SCHEMA keyprov AUTHORIZATION "+mallory)
	_, err := open(t, store.Config{URL: u}).Migrate(ctx)
	fe := foreign(t, err)
	assert.Equal(t, []string{"schema keyprov " + strings.Trim(mallory, `"`)}, refused(fe))
	var tables int
	require.NoError(t, admin.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE schemaname = 'keyprov'").Scan(&tables))
	assert.Zero(t, tables, "nothing was migrated")
}

// Objects made in or on keyprov's schema after it was migrated.
func TestOwnershipForeignObjects(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		// setup runs as the superuser; MALLORY is replaced by the other role.
		setup []string
		want  []string // kind and name of the objects refused, with MALLORY as owner
	}{
		"the schema owned by another role": {
			setup: []string{"ALTER SCHEMA keyprov OWNER TO MALLORY"},
			want:  []string{"schema keyprov MALLORY"},
		},
		"a table owned by another role": {
			// Its identity sequence follows it.
			setup: []string{"ALTER TABLE keyprov.events OWNER TO MALLORY"},
			want:  []string{"sequence keyprov.events_id_seq MALLORY", "table keyprov.events MALLORY"},
		},
		"a sequence owned by another role": {
			setup: []string{"CREATE SEQUENCE keyprov.extra", "ALTER SEQUENCE keyprov.extra OWNER TO MALLORY"},
			want:  []string{"sequence keyprov.extra MALLORY"},
		},
		"a trigger on keyprov.tokens calling another role's function": {
			setup: []string{
				"CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
				"ALTER FUNCTION public.spy() OWNER TO MALLORY",
				"CREATE TRIGGER spy AFTER INSERT ON keyprov.tokens FOR EACH ROW EXECUTE FUNCTION public.spy()",
			},
			want: []string{"trigger spy on keyprov.tokens MALLORY"},
		},
		"keyprov's trigger made to call another role's function": {
			setup: []string{
				"CREATE FUNCTION public.spy() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
				"ALTER FUNCTION public.spy() OWNER TO MALLORY",
				"DROP TRIGGER keys_content_changed ON keyprov.keys",
				"CREATE TRIGGER keys_content_changed BEFORE UPDATE ON keyprov.keys FOR EACH ROW EXECUTE FUNCTION public.spy()",
			},
			want: []string{"trigger keys_content_changed on keyprov.keys MALLORY"},
		},
		"a function in the schema owned by another role": {
			setup: []string{
				"GRANT USAGE, CREATE ON SCHEMA keyprov TO MALLORY",
				"SET ROLE MALLORY",
				"CREATE FUNCTION keyprov.now() RETURNS timestamptz LANGUAGE sql AS 'SELECT now()'",
				"RESET ROLE",
			},
			want: []string{"function keyprov.now() MALLORY"},
		},
		"a type in the schema owned by another role": {
			setup: []string{"CREATE TYPE keyprov.state AS ENUM ('active')", "ALTER TYPE keyprov.state OWNER TO MALLORY"},
			want:  []string{"type keyprov.state MALLORY"},
		},
		"another role may create triggers": {
			setup: []string{"GRANT TRIGGER ON keyprov.tokens TO MALLORY"},
			want:  []string{"TRIGGER privilege keyprov.tokens MALLORY"},
		},
		"every role may create triggers": {
			setup: []string{"GRANT TRIGGER ON keyprov.keys TO PUBLIC"},
			want:  []string{"TRIGGER privilege keyprov.keys PUBLIC"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			u := pgtest.NewDatabase(t)
			mallory, _ := testRole(t, u, "mallory")
			assertUsable(t, openMigrated(t, u))

			admin := pgtest.Connect(t, u)
			for _, q := range tc.setup {
				execAll(t, admin, strings.ReplaceAll(q, "MALLORY", mallory))
			}
			// Each entry point refuses, on a connection of its own.
			_, err := open(t, store.Config{URL: u}).Migrate(ctx)
			fe := foreign(t, err)
			owner := strings.Trim(mallory, `"`)
			var want []string
			for _, w := range tc.want {
				want = append(want, strings.ReplaceAll(w, "MALLORY", owner))
			}
			assert.Equal(t, want, refused(fe))
			for _, o := range fe.Objects {
				assert.Contains(t, err.Error(), " "+o.Name+" ", "the message names the object")
				assert.Contains(t, err.Error(), `"`+o.Owner+`"`, "the message names its owner")
			}
			assert.ErrorIs(t, open(t, store.Config{URL: u}).CheckVersion(ctx), store.ErrForeignObject)
			_, err = write(t, open(t, store.Config{URL: u}), createBatch(1, 5))
			assert.ErrorIs(t, err, store.ErrForeignObject)
		})
	}
}

// Triggers, rules and row-level security that keyprov's migrations do not
// create are refused whoever made them.
func TestOwnershipUnexpectedOnTables(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		setup []string
		want  string
	}{
		"trigger": {
			setup: []string{
				"CREATE FUNCTION keyprov.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
				"CREATE TRIGGER stamp BEFORE INSERT ON keyprov.events FOR EACH ROW EXECUTE FUNCTION keyprov.stamp()",
			},
			want: "trigger stamp on keyprov.events was not created by keyprov (it calls function keyprov.stamp(), owned by",
		},
		"rule": {
			setup: []string{"CREATE RULE keep AS ON DELETE TO keyprov.tokens DO INSTEAD NOTHING"},
			want:  "rule keep on keyprov.tokens was not created by keyprov (its table is owned by",
		},
		"row-level security": {
			setup: []string{"CREATE POLICY mine ON keyprov.keys USING (true)", "ALTER TABLE keyprov.keys ENABLE ROW LEVEL SECURITY"},
			want:  "row-level security is enabled on keyprov.keys, which keyprov does not do (the table is owned by",
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := pgtest.NewDatabase(t)
			assertUsable(t, openMigrated(t, u))
			execAll(t, pgtest.Connect(t, u), tc.setup...)
			_, err := write(t, open(t, store.Config{URL: u}), createBatch(1, 5))
			fe := foreign(t, err)
			require.Len(t, fe.Objects, 1)
			assert.True(t, fe.Objects[0].Unexpected)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// The least-privilege set-up of the README passes: a role that owns its
// schema and nothing else, or a login role granted the role that owns it
// (directly or through another role).
func TestOwnershipLeastPrivilege(t *testing.T) {
	t.Parallel()
	// The owner's own objects are the app's too.
	helper := func(owner string) []string {
		return []string{"CREATE FUNCTION keyprov.helper() RETURNS int LANGUAGE sql AS 'SELECT 1'",
			"ALTER FUNCTION keyprov.helper() OWNER TO " + owner}
	}
	for name, grant := range map[string]func(db, app, owner, middle string) []string{
		"the schema owned by keyprov's role": func(_, app, _, _ string) []string {
			return []string{"CREATE SCHEMA keyprov AUTHORIZATION " + app}
		},
		"the schema created by keyprov's role": func(db, app, _, _ string) []string {
			return []string{"GRANT CREATE ON DATABASE " + pgx.Identifier{db}.Sanitize() + " TO " + app}
		},
		"the schema owned by a role granted to keyprov's role": func(_, app, owner, _ string) []string {
			return append([]string{"CREATE SCHEMA keyprov AUTHORIZATION " + owner, "GRANT " + owner + " TO " + app}, helper(owner)...)
		},
		"the schema owned by a role granted through another": func(_, app, owner, middle string) []string {
			return append([]string{"CREATE SCHEMA keyprov AUTHORIZATION " + owner, "GRANT " + owner + " TO " + middle, "GRANT " + middle + " TO " + app}, helper(owner)...)
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			u := pgtest.NewDatabase(t)
			app, appURL := testRole(t, u, "app")
			owner, _ := testRole(t, u, "owner")
			middle, _ := testRole(t, u, "middle")
			admin := pgtest.Connect(t, u)
			execAll(t, admin, "REVOKE CREATE ON SCHEMA public FROM PUBLIC")
			execAll(t, admin, grant(admin.Config().Database, app, owner, middle)...)

			db := open(t, store.Config{URL: appURL})
			assertUsable(t, db)
			_, err := write(t, open(t, store.Config{URL: appURL}), createBatch(2, 10))
			require.NoError(t, err, "a write as the first statement passes the check too")
		})
	}
}

// A superuser can act as any role: what one owns is trusted. Another
// role's membership in keyprov's role is not.
func TestOwnershipSuperuserAndMembers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	app, appURL := testRole(t, u, "app")
	member, _ := testRole(t, u, "member")
	admin := pgtest.Connect(t, u)
	// A schema made by the superuser, where keyprov's role may create.
	execAll(t, admin, "CREATE SCHEMA keyprov", "GRANT USAGE, CREATE ON SCHEMA keyprov TO "+app)
	assertUsable(t, open(t, store.Config{URL: appURL}))

	// A role that is a member of keyprov's role is not trusted by it.
	execAll(t, admin, "GRANT "+app+" TO "+member, "CREATE FUNCTION keyprov.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
		"ALTER FUNCTION keyprov.f() OWNER TO "+member)
	fe := foreign(t, open(t, store.Config{URL: appURL}).CheckVersion(ctx))
	assert.Equal(t, []string{"function keyprov.f() " + strings.Trim(member, `"`)}, refused(fe))
	assert.Equal(t, strings.Trim(app, `"`), fe.Role)
	assert.False(t, fe.Outsider(), "the schema is the role's to use")
}

// A role that only reads keys, as applications verify them (README: least
// privilege), is an outsider to keyprov's schema: refused, and told so.
func TestOwnershipOutsider(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	app, appURL := testRole(t, u, "app")
	reader, readerURL := testRole(t, u, "reader")
	execAll(t, pgtest.Connect(t, u), "CREATE SCHEMA keyprov AUTHORIZATION "+app)
	assertUsable(t, open(t, store.Config{URL: appURL}))
	execAll(t, pgtest.Connect(t, appURL), "GRANT USAGE ON SCHEMA keyprov TO "+reader, "GRANT SELECT ON keyprov.keys, keyprov.tokens TO "+reader)
	fe := foreign(t, open(t, store.Config{URL: readerURL}).CheckVersion(ctx))
	assert.True(t, fe.Outsider())
	assert.Contains(t, refused(fe), "schema keyprov "+strings.Trim(app, `"`))
}

// A trigger this keyprov does not know of, made by keyprov's own role, on
// a schema migrated by a newer keyprov: the schema is too new, which says
// more.
func TestOwnershipNewerSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	db := openMigrated(t, u)
	execAll(t, pgtest.Connect(t, u),
		"CREATE FUNCTION keyprov.newer() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
		"CREATE TRIGGER newer BEFORE INSERT ON keyprov.tokens FOR EACH ROW EXECUTE FUNCTION keyprov.newer()")
	assert.ErrorIs(t, open(t, store.Config{URL: u}).CheckVersion(ctx), store.ErrForeignObject, "at this keyprov's version")
	execAll(t, db.Conn(), "UPDATE keyprov.schema_version SET version = version + 1")
	err := open(t, store.Config{URL: u}).CheckVersion(ctx)
	assert.ErrorIs(t, err, store.ErrSchemaTooNew)
	assert.NotErrorIs(t, err, store.ErrForeignObject)
	_, err = open(t, store.Config{URL: u}).Migrate(ctx)
	assert.ErrorIs(t, err, store.ErrSchemaTooNew)
}

// Names chosen by another role reach messages and logs escaped.
func TestOwnershipEscapesNames(t *testing.T) {
	t.Parallel()
	u := pgtest.NewDatabase(t)
	assertUsable(t, openMigrated(t, u))
	execAll(t, pgtest.Connect(t, u), "CREATE TABLE keyprov.\"x\nERROR\x1b[2J\" ()", "ALTER TABLE keyprov.\"x\nERROR\x1b[2J\" OWNER TO pg_monitor")
	fe := foreign(t, open(t, store.Config{URL: u}).CheckVersion(context.Background()))
	require.Len(t, fe.Objects, 1)
	assert.Equal(t, `keyprov."x\u000aERROR\u001b[2J"`, fe.Objects[0].Name)
	assert.NotContains(t, fe.Error(), "\n")
	assert.NotContains(t, fe.Error(), "\x1b")
}

// The check costs no round trip of its own, and runs once per connection:
// an up-to-date schema is checked and its version read in two statements,
// as before the check; a transaction checks in its first statement, which
// it sends anyway, unless the connection checked already.
func TestOwnershipCheckedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	u := pgtest.NewDatabase(t)
	openMigrated(t, u)
	log, proxied := pgtest.NewStatementLog(t, u)
	checks := func(stmts []string) int {
		n := 0
		for _, s := range stmts {
			if strings.Contains(s, "pg_auth_members") {
				n++
			}
		}
		return n
	}
	noop := func(*store.Tx) error { return nil }

	// An apply: a migration with nothing to do, then a transaction.
	db := open(t, store.Config{URL: proxied})
	log.Take() // connecting
	_, err := db.Migrate(ctx)
	require.NoError(t, err)
	migrate := log.Take()
	assert.Len(t, migrate, 2, "one statement to check and find the version table, one to read the version: %q", migrate)
	assert.Equal(t, 1, checks(migrate))
	require.NoError(t, db.Update(ctx, noop))
	vetted := log.Take()
	assert.Zero(t, checks(vetted), "checked already: %q", vetted)

	// A transaction as a connection's first use checks in its first
	// statement: no more statements than one that does not check.
	first := open(t, store.Config{URL: proxied})
	log.Take()
	require.NoError(t, first.Update(ctx, noop))
	unvetted := log.Take()
	assert.Equal(t, 1, checks(unvetted), "%q", unvetted)
	assert.Len(t, unvetted, len(vetted), "%q", unvetted)
	require.NoError(t, first.Update(ctx, noop))
	assert.Zero(t, checks(log.Take()), "checked once")
}

// TestOwnTriggersMatchMigrations holds the triggers the check accepts to
// those the migrations create.
func TestOwnTriggersMatchMigrations(t *testing.T) {
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	re := regexp.MustCompile(`(?is)CREATE\s+(?:OR\s+REPLACE\s+)?(?:CONSTRAINT\s+)?TRIGGER\s+(\w+).*?\sON\s+\{\{\.schema\}\}\.(\w+)`)
	var created [][2]string
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			created = append(created, [2]string{m[2], m[1]})
		}
	}
	require.NotEmpty(t, created)
	own := slices.Clone(store.OwnTriggers)
	slices.SortFunc(own, func(a, b [2]string) int { return strings.Compare(a[0]+"."+a[1], b[0]+"."+b[1]) })
	slices.SortFunc(created, func(a, b [2]string) int { return strings.Compare(a[0]+"."+a[1], b[0]+"."+b[1]) })
	assert.Equal(t, created, own)
}
