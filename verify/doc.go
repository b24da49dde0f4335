// Package verify checks API-key tokens presented to an application against
// the keys keyprov provisioned in PostgreSQL.
//
// An application creates one Verifier at start-up and shares it between
// requests (it is safe for concurrent use):
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	v, err := verify.New(pool,
//		verify.WithCache(5*time.Second, 10_000),   // optional
//		verify.WithLastUsed(time.Minute))          // optional
//	...
//	defer v.Close(context.Background())            // flushes last_used_at
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
// A token verifies when its SHA-256 digest is stored in keyprov's tokens
// table and
//   - its key is not revoked,
//   - its key has no expiry, or the expiry is later than now,
//   - the token is the key's active token, or its previous token (a rolling
//     rotation) whose cutoff (valid_until) is later than now.
//
// Every other token fails with an *Error that wraps exactly one of
// ErrMalformed, ErrUnknown, ErrRevoked, ErrExpired, ErrPreviousExpired or
// ErrRetired (checked with errors.Is). The checks run in that order of
// precedence: a revoked key reports ErrRevoked whatever its token's state.
// No error message ever contains the token.
//
// Malformed tokens (wrong prefix, too short, spaces or characters outside
// [A-Za-z0-9_-]) are rejected without a database query. Every other call
// makes at most one query: an index lookup of the digest joined to its key.
// Times (expiry, cutoff) are compared with the application's clock.
//
// # Cache
//
// WithCache keeps looked-up rows in memory, keyed by digest, for a short
// TTL in a table bounded to a number of entries (least recently used
// entries are dropped first). A key revoked, or a token rotated out, in the
// store keeps verifying in a process that cached it for up to the TTL:
// choose the TTL as the longest delay you accept between a revocation and
// its effect. Expiry and previous-token cutoffs are checked again on every
// call, so the cache never extends them. Tokens the store does not know are
// cached too, for at most NegativeTTL, in a separate table a quarter of the
// size, so that neither a client repeating a wrong token reaches the
// database on every request, nor a stream of random tokens evicts the
// entries of real keys (rate limiting is still the application's job).
//
// # last_used_at
//
// WithLastUsed records when each key was last used in keys.last_used_at
// without a write per request: uses are gathered in memory and written in
// the background once per interval, in one statement (UPDATE … FROM unnest)
// that writes each key used during the interval once, with the time of its
// latest use. The cost is one statement per interval and one row version per
// key used in it; a process that verified nothing writes nothing. Rows that
// a running apply holds locked are skipped (never waited for) and written at
// the next flush. Flush writes at once; Close stops the background writer
// and flushes. Uses not yet flushed are lost if the process dies.
package verify
