package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// ErrForeignObject: keyprov's schema, an object in it or something on its
// tables is not keyprov's (see ForeignObjectError), so keyprov neither
// reads nor writes it.
var ErrForeignObject = errors.New("store: keyprov's schema holds objects that are not keyprov's")

// ownTriggers are the triggers keyprov's migrations create, as table and
// trigger name (TestOwnTriggersMatchMigrations holds them to
// migrations/*.sql). Any other trigger on keyprov's tables is refused.
var ownTriggers = [][2]string{
	{"keys", "keys_content_changed"}, // 003_key_content_digest.sql
	// 004_change_counter.sql
	{"keys", "keys_inserted"}, {"keys", "keys_updated"}, {"keys", "keys_deleted"}, {"keys", "keys_truncated"},
	{"tokens", "tokens_inserted"}, {"tokens", "tokens_updated"}, {"tokens", "tokens_deleted"}, {"tokens", "tokens_truncated"},
	// NNN_verify_functions.sql
	{"owners", "owners_inserted"}, {"owners", "owners_updated"}, {"owners", "owners_deleted"}, {"owners", "owners_truncated"},
}

// ForeignObject is one thing the ownership check refuses.
type ForeignObject struct {
	// Kind is PostgreSQL's name for the kind of object ("schema",
	// "table", "function", "trigger", "rule", …), "row-level security" or
	// "TRIGGER privilege".
	Kind string
	// Name identifies it as PostgreSQL does ("keyprov.tokens",
	// "audit on keyprov.tokens", "keyprov.f(integer)"); for a TRIGGER
	// privilege or row-level security, the table. Unprintable characters
	// are escaped.
	Name string
	// Owner is the role that owns it; for a trigger, the owner of the
	// function it calls; for a rule or row-level security, the owner of
	// the table;
	// for a TRIGGER privilege, the role it is granted to ("PUBLIC" for
	// every role).
	Owner string
	// Function is the function a trigger calls ("public.f(integer)").
	Function string
	// Unexpected: a trigger, rule or row-level security that keyprov's
	// migrations do not create, refused whoever made it.
	Unexpected bool

	// trusted: Owner is trusted (an unexpected trigger may still call a
	// trusted function).
	trusted bool
}

func (o ForeignObject) String() string {
	switch {
	case o.Kind == "TRIGGER privilege":
		return fmt.Sprintf("role %q may create triggers on table %s (TRIGGER privilege)", o.Owner, o.Name)
	case o.Kind == "trigger" && o.Unexpected:
		return fmt.Sprintf("trigger %s was not created by keyprov (it calls function %s, owned by %q)", o.Name, o.Function, o.Owner)
	case o.Kind == "trigger":
		return fmt.Sprintf("trigger %s calls function %s, owned by %q", o.Name, o.Function, o.Owner)
	case o.Kind == "row-level security":
		return fmt.Sprintf("row-level security is enabled on %s, which keyprov does not do (the table is owned by %q)", o.Name, o.Owner)
	case o.Unexpected:
		return fmt.Sprintf("%s %s was not created by keyprov (its table is owned by %q)", o.Kind, o.Name, o.Owner)
	}
	return fmt.Sprintf("%s %s is owned by %q", o.Kind, o.Name, o.Owner)
}

// ForeignObjectError is the refusal of the ownership check: keyprov uses
// a schema only when it, everything in it and the functions its tables'
// triggers call are owned by keyprov's role, by a role that keyprov's role
// has been granted membership in, or by a superuser; when its tables
// carry no trigger but keyprov's own, no rule and no row-level security;
// and when no other role may create triggers on them. It wraps
// ErrForeignObject.
type ForeignObjectError struct {
	Schema string
	// Role is keyprov's role (current_user); Superuser says whether it is one.
	Role      string
	Superuser bool
	Objects   []ForeignObject
}

// maxListed bounds the objects an error message names.
const maxListed = 10

func (e *ForeignObjectError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "store: refusing to use schema %q, which is not keyprov's alone: ", e.Schema)
	for i, o := range e.Objects {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Objects)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(o.String())
	}
	fmt.Fprintf(&b, ". keyprov's role %q must own, or be a member of the role that owns, the schema and everything in it: "+
		"drop what keyprov did not create (or the schema, if keyprov never used it), or reassign it with ALTER … OWNER TO (see SECURITY.md)", e.Role)
	return b.String()
}

func (e *ForeignObjectError) Unwrap() error { return ErrForeignObject }

// Outsider reports whether keyprov's role is an outsider to the schema: it
// neither owns it nor is a member of its owner, and is no superuser. Such
// is the role of an application that only verifies keys (README: least
// privilege), as which `keyprov verify` may run; for it the check would
// refuse every schema, so verify reads as the verify package does,
// without it.
func (e *ForeignObjectError) Outsider() bool {
	if e.Superuser {
		return false
	}
	for _, o := range e.Objects {
		if o.Kind == "schema" {
			return true
		}
	}
	return false
}

// onlyUnknownTriggers reports whether every object refused is a trigger
// that this keyprov does not know of but that calls a trusted function:
// what a newer keyprov's migrations may leave, which ErrSchemaTooNew
// explains better.
func (e *ForeignObjectError) onlyUnknownTriggers() bool {
	for _, o := range e.Objects {
		if o.Kind != "trigger" || !o.Unexpected || !o.trusted {
			return false
		}
	}
	return true
}

// The ownership check: keyprov uses a schema only when the schema and
// everything in it are owned by trusted roles, when the triggers on its
// tables are keyprov's own and call functions owned by trusted roles,
// when its tables carry no rule and no row-level security, and when no
// role but trusted ones may create triggers on them (which they could do
// after the check).
//
// A role is trusted when it is keyprov's role (current_user), a role that
// keyprov's role has been granted membership in, directly or through
// other roles, or a superuser (who can act as any role anyway).
// Membership is read from pg_auth_members rather than asked of
// pg_has_role, which answers yes for every role when keyprov's role is a
// superuser; a superuser's own memberships are not followed.
//
// The objects in the schema are those that depend on it in pg_depend:
// indexes, row types, array types and identity sequences depend on their
// table or element type as well, or instead, and always have its owner.
// Internal triggers (those of foreign keys) are not triggers anyone wrote.
//
// The check runs on every boot, in a new session whose catalog caches are
// cold: each catalog a query names costs the server time to open even if
// the query reads nothing from it. So it is made in two steps. The first,
// inspectSQL, names only the catalogs that a keyprov schema needs
// (pg_class, pg_proc, pg_trigger, which loading keyprov's tables reads
// anyway, pg_depend and the roles') and says whether anything could be
// refused: an object of another kind than keyprov creates, a relation
// other than a table or sequence, a flag saying a table has rules or
// row-level security. Only then does describeSQL, which reads every
// catalog that can hold something in a schema, find what is refused and
// whose it is.

// inspectCTE names the trusted roles, the schema ($1), the objects in it
// and its relations.
const inspectCTE = `WITH RECURSIVE trusted(oid, follow) AS (
    SELECT oid, rolname = current_user FROM pg_catalog.pg_roles WHERE rolname = current_user OR rolsuper
  UNION
    SELECT m.roleid, true FROM pg_catalog.pg_auth_members m JOIN trusted t ON m.member = t.oid WHERE t.follow
), ns AS (
    SELECT oid, nspowner FROM pg_catalog.pg_namespace WHERE nspname = $1
), obj AS (
    SELECT d.classid, d.objid FROM pg_catalog.pg_depend d JOIN ns ON d.refobjid = ns.oid
    WHERE d.refclassid = 'pg_catalog.pg_namespace'::pg_catalog.regclass AND d.refobjsubid = 0
), rel AS (
    SELECT c.oid, c.relname, c.relkind, c.relowner, c.relacl, c.relhasrules, c.relrowsecurity
    FROM obj JOIN pg_catalog.pg_class c ON c.oid = obj.objid
    WHERE obj.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
), grants AS (
    SELECT rel.oid, a.grantee FROM rel CROSS JOIN LATERAL pg_catalog.aclexplode(rel.relacl) a
    WHERE a.privilege_type = 'TRIGGER' AND a.grantee <> rel.relowner AND a.grantee NOT IN (SELECT oid FROM trusted)
), triggers AS (
    SELECT g.oid, p.oid AS func, p.proowner,
        (rel.relname::text, g.tgname::text) NOT IN (SELECT * FROM unnest($2::text[], $3::text[])) AS unexpected
    FROM rel JOIN pg_catalog.pg_trigger g ON g.tgrelid = rel.oid JOIN pg_catalog.pg_proc p ON p.oid = g.tgfoid
    WHERE NOT g.tgisinternal
)
`

// inspectSQL says whether the schema named $1 exists, whether its version
// table does, keyprov's role, and whether anything in the schema could be
// refused ($2 and $3 are the tables and names of keyprov's own triggers).
const inspectSQL = inspectCTE + `SELECT EXISTS (SELECT 1 FROM ns), EXISTS (SELECT 1 FROM rel WHERE relname = 'schema_version'), current_user,
    EXISTS (SELECT 1 FROM ns WHERE nspowner NOT IN (SELECT oid FROM trusted))
    OR EXISTS (SELECT 1 FROM obj WHERE classid NOT IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass))
    OR EXISTS (SELECT 1 FROM rel WHERE relkind NOT IN ('r', 'S') OR relhasrules OR relrowsecurity OR relowner NOT IN (SELECT oid FROM trusted))
    OR EXISTS (SELECT 1 FROM obj JOIN pg_catalog.pg_proc p ON p.oid = obj.objid
        WHERE obj.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND p.proowner NOT IN (SELECT oid FROM trusted))
    OR EXISTS (SELECT 1 FROM grants)
    OR EXISTS (SELECT 1 FROM triggers WHERE unexpected OR proowner NOT IN (SELECT oid FROM trusted))`

// describeSQL lists what is refused in the schema named $1, as a JSON
// array ordered schema first, or NULL, and says whether keyprov's role is
// a superuser.
const describeSQL = inspectCTE + `, found(classid, objid, owner, unexpected, func, kind) AS (
    SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass::oid, ns.oid, ns.nspowner, false, 0::oid, NULL::text FROM ns
  UNION ALL
    SELECT obj.classid, obj.objid, CASE obj.classid
        WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN (SELECT relowner FROM pg_catalog.pg_class WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass THEN (SELECT proowner FROM pg_catalog.pg_proc WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_type'::pg_catalog.regclass THEN (SELECT typowner FROM pg_catalog.pg_type WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_operator'::pg_catalog.regclass THEN (SELECT oprowner FROM pg_catalog.pg_operator WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_opclass'::pg_catalog.regclass THEN (SELECT opcowner FROM pg_catalog.pg_opclass WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_opfamily'::pg_catalog.regclass THEN (SELECT opfowner FROM pg_catalog.pg_opfamily WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_collation'::pg_catalog.regclass THEN (SELECT collowner FROM pg_catalog.pg_collation WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_conversion'::pg_catalog.regclass THEN (SELECT conowner FROM pg_catalog.pg_conversion WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_ts_config'::pg_catalog.regclass THEN (SELECT cfgowner FROM pg_catalog.pg_ts_config WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_ts_dict'::pg_catalog.regclass THEN (SELECT dictowner FROM pg_catalog.pg_ts_dict WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass THEN (SELECT stxowner FROM pg_catalog.pg_statistic_ext WHERE oid = obj.objid)
        WHEN 'pg_catalog.pg_extension'::pg_catalog.regclass THEN (SELECT extowner FROM pg_catalog.pg_extension WHERE oid = obj.objid)
        END, false, 0, NULL FROM obj
  UNION ALL
    SELECT 'pg_catalog.pg_trigger'::pg_catalog.regclass, oid, proowner, unexpected, func, NULL FROM triggers
  UNION ALL
    SELECT 'pg_catalog.pg_rewrite'::pg_catalog.regclass, r.oid, rel.relowner, true, 0, NULL
    FROM rel JOIN pg_catalog.pg_rewrite r ON r.ev_class = rel.oid WHERE r.rulename <> '_RETURN'
  UNION ALL
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid, relowner, true, 0, 'row-level security' FROM rel WHERE relrowsecurity
  UNION ALL
    SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, oid, grantee, false, 0, 'TRIGGER privilege' FROM grants
), refused AS (
    SELECT coalesce(f.kind, o.type) AS kind, o.identity AS name,
        CASE f.owner WHEN 0 THEN 'PUBLIC' ELSE coalesce(pg_catalog.pg_get_userbyid(f.owner)::text, '(no owner)') END AS owner,
        CASE WHEN f.func <> 0 THEN (pg_catalog.pg_identify_object('pg_catalog.pg_proc'::pg_catalog.regclass, f.func, 0)).identity END AS function,
        f.unexpected, coalesce(f.owner IN (SELECT oid FROM trusted), false) AS trusted
    FROM found f CROSS JOIN LATERAL pg_catalog.pg_identify_object(f.classid, f.objid, 0) o
    WHERE f.unexpected OR f.owner IS NULL OR f.owner NOT IN (SELECT oid FROM trusted)
)
SELECT (SELECT json_agg(refused ORDER BY kind <> 'schema', kind, name) FROM refused),
    (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)`

// ownTriggerArgs are $2 and $3 of inspectSQL.
func ownTriggerArgs() (tables, triggers []string) {
	for _, t := range ownTriggers {
		tables, triggers = append(tables, t[0]), append(triggers, t[1])
	}
	return tables, triggers
}

// inspection is what inspectSQL finds.
type inspection struct {
	exists, versioned bool
	// foreign is nil when the schema is keyprov's to use.
	foreign *ForeignObjectError
}

// inspect runs inspectSQL on q (in a transaction, on its snapshot), and
// describeSQL when something could be refused. lead, when not empty, is
// one more expression evaluated in inspectSQL's statement, before its
// columns, with arguments from $4 on: the statement that sets up a
// transaction checks the schema too, in the same round trip.
func (db *DB) inspect(ctx context.Context, q querier, lead string, leadArgs ...any) (inspection, error) {
	tables, triggers := ownTriggerArgs()
	var (
		in         inspection
		role       string
		suspicious bool
	)
	sql, dest := inspectSQL, []any{&in.exists, &in.versioned, &role, &suspicious}
	if lead != "" {
		sql, dest = "SELECT "+lead+", i.* FROM ("+inspectSQL+") i", append([]any{nil}, dest...)
	}
	args := append([]any{db.schema, tables, triggers}, leadArgs...)
	if err := q.QueryRow(ctx, sql, args...).Scan(dest...); err != nil {
		return inspection{}, fmt.Errorf("checking who owns schema %q: %w", db.schema, err)
	}
	if suspicious {
		var (
			doc   []byte
			super bool
		)
		if err := q.QueryRow(ctx, describeSQL, db.schema, tables, triggers).Scan(&doc, &super); err != nil {
			return inspection{}, fmt.Errorf("checking who owns schema %q: %w", db.schema, err)
		}
		var err error
		if in.foreign, err = foreignObjects(db.schema, role, doc); err != nil {
			return inspection{}, err
		}
		if in.foreign != nil {
			in.foreign.Superuser = super
		}
	}
	if in.exists && in.foreign == nil {
		db.vetted = true
	}
	return in, nil
}

// foreignObjects decodes the refused objects of inspectSQL: nil when none.
func foreignObjects(schema, role string, doc []byte) (*ForeignObjectError, error) {
	if len(doc) == 0 {
		return nil, nil
	}
	var rows []struct {
		Kind, Name, Owner string
		Function          *string
		Unexpected        bool
		Trusted           bool
	}
	if err := json.Unmarshal(doc, &rows); err != nil {
		return nil, fmt.Errorf("checking who owns schema %q: %w", schema, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	e := &ForeignObjectError{Schema: schema, Role: printable(role)}
	for _, r := range rows {
		o := ForeignObject{Kind: r.Kind, Name: printable(r.Name), Owner: printable(r.Owner), Unexpected: r.Unexpected, trusted: r.Trusted}
		if r.Function != nil {
			o.Function = printable(*r.Function)
		}
		e.Objects = append(e.Objects, o)
	}
	return e, nil
}

// printable escapes what a terminal or a log line should not receive from
// a name another role chose: control characters, invisible formatting.
func printable(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if unicode.IsPrint(r) {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}
