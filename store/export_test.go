package store

import "context"

// MigrateTo migrates to an older version than SchemaVersion, to test the
// later migrations on a store that has data.
func (db *DB) MigrateTo(ctx context.Context, target int32) (int, error) {
	return db.migrateTo(ctx, target)
}

// OwnTriggers are the triggers the ownership check accepts.
var OwnTriggers = ownTriggers

// FillScanAbove is the number of keys above which LoadExpected reads the
// content of every key to find those it reads.
const FillScanAbove = fillScanAbove
