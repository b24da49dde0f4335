// Package verify checks API-key tokens presented to an application against
// the keys keyprov provisioned in PostgreSQL.
//
// An application creates one Verifier at start-up and shares it between
// requests (it is safe for concurrent use):
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	v, err := verify.New(pool,
//		verify.WithCache(time.Hour, 10_000),   // optional
//		verify.WithLastUsed(time.Minute))      // optional
//	...
//	defer v.Close(context.Background())        // stops polling, flushes last_used_at
//
//	key, err := v.Verify(r.Context(), presented)
//	var verr *verify.Error
//	switch {
//	case errors.As(err, &verr):
//		// The token does not verify: 401, with verify.Code(err) as the reason.
//	case err != nil:
//		// The database could not be asked: 503, not 401.
//	}
//	if err := key.Allows(tenant); err != nil {
//		// A tenant key reaching outside its tenant: 403 SCOPE_DENIED.
//	}
//
// Pass Verify the token exactly as the client sent it, once the
// authentication scheme ("Bearer ") is removed: Verify neither trims nor
// changes it, and a token with surrounding spaces is malformed.
//
// # What verifies
//
// Verify asks keyprov.verify_token, the SQL function that keyprov's
// migrations create and that applications in every language call (see
// README.md, "Verifying keys"): Go decides exactly as SQL, Python or Node
// do. A token verifies when its SHA-256 digest is stored in keyprov's
// tokens table and
//   - its key is not revoked,
//   - its key is not disabled,
//   - its key has no expiry, or the expiry is later than now,
//   - the token is the key's active token, or its previous token (a rolling
//     rotation) whose cutoff (valid_until) is later than now.
//
// Every other token fails with an *Error that wraps exactly one of
// ErrMalformed, ErrUnknown, ErrRevoked, ErrDisabled, ErrExpired,
// ErrPreviousExpired or ErrRetired (checked with errors.Is). The checks run
// in that order of precedence: a revoked key reports ErrRevoked whatever
// its token's state. No error message ever contains the token. Times are
// the database's, unless WithClock gives the application's.
//
// Malformed tokens (a prefix that no spec uses, too short, spaces or
// characters outside [A-Za-z0-9_-]) are rejected without a database query.
// The prefixes are those that applies record in the store (each spec's
// settings.token_prefix), unless WithPrefix names one. A token whose
// prefixes are carried, by every live token of the store, with a keyprov
// checksum (keyprov token new; settings { token_checksum = true }) and
// that has none is rejected without a query too. Every other call makes at
// most one query: an index lookup of the digest joined to its key.
//
// Key.Allows checks the tenant a request acts in (a tenant name that the
// spec would refuse is refused), Key.Can a permission by name, with
// keyprov's one wildcard rule.
//
// # Cache and invalidation
//
// WithCache keeps answers in memory, keyed by digest, in a table bounded
// to a number of entries (least recently used entries are dropped first),
// for at most its TTL. It is invalidated by the store itself: a Verifier
// polls keyprov's change counter (keyprov.change_counter(), one cheap
// query a second, which works through PgBouncer in transaction pooling
// mode) and drops every entry when it moves, which any change to keys or
// tokens does (apply, revoke, disable, SQL by hand; not last_used_at). A
// revocation therefore reaches every Verifier within Staleness (one
// second) of its commit, whatever the TTL: an hour is a fine TTL. A cached
// answer is used only while the counter it belongs to was confirmed within
// Staleness; when the store cannot be asked for longer, the Verifier asks
// it for each token, as one without a cache does, and reports its error.
// Expiry and previous-token cutoffs are checked again on every call (with
// the application's clock), so the cache never extends them. Tokens the
// store does not know are cached too, for at most NegativeTTL, in a
// separate table a quarter of the size, so that neither a client repeating
// a wrong token reaches the database on every request, nor a stream of
// random tokens evicts the entries of real keys (rate limiting is still
// the application's job).
//
// # last_used_at
//
// WithLastUsed records when each key was last used in keys.last_used_at
// without a write per request: uses are gathered in memory and written in
// the background once per interval, in one statement (keyprov.record_use)
// that writes each key used during the interval once, with the time of its
// latest use. The cost is one statement per interval and one row version per
// key used in it; a process that verified nothing writes nothing. Rows that
// a running apply holds locked are skipped (never waited for) and written at
// the next flush. Flush writes at once; Close stops the background writer
// and flushes. Uses not yet flushed are lost if the process dies.
//
// # Privileges
//
// The database role of a Verifier needs USAGE on keyprov's schema and
// EXECUTE on keyprov.verify_token, keyprov.change_counter,
// keyprov.token_prefixes and, with WithLastUsed, keyprov.record_use:
// nothing else (README.md, "Least privilege"). The functions run as
// keyprov's role and answer about the tokens they are given only.
package verify
