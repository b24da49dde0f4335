// Package faults holds keyprov's fault tests: they run the real keyprov
// binary against real PostgreSQL clusters and break things while it works.
//
//   - SIGKILL at random moments of a large apply, and the database backend
//     terminated mid-transaction: the store holds the old spec or the new
//     one, never a mix, and the next apply converges in one run.
//   - SIGTERM and SIGINT while waiting for the database, while evaluating
//     the spec, while waiting for the lock and while writing: a clear log
//     line, exit 3, nothing written, no lock left behind.
//   - The database down at start, and stopped (immediate and fast) in the
//     middle of an apply.
//   - Fleets of processes applying at once, directly and through PgBouncer
//     in transaction pooling mode; a stuck lock holder bounds their wait.
//   - Least privilege: a role that owns only keyprov's schema, and a
//     read-only role for applications that verify keys.
//
// The loops have short settings for `make test`; `make faults` runs them
// longer. Environment: KEYPROV_FAULT_KILLS (SIGKILLs, default 8),
// KEYPROV_FAULT_TERMINATIONS (backend terminations, default 4),
// KEYPROV_FAULT_KEYS (keys of the large spec, default 20000),
// KEYPROV_FAULT_FLEET (processes of a fleet, default 16) and
// KEYPROV_TEST_SUMMARY (a file that receives the figures of the run, printed by make test).
package faults
