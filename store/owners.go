package store

import (
	"context"
	"fmt"
)

// Owner is the token settings of a spec's owner, which the store records
// for verifiers (keyprov.token_prefixes): the prefix its tokens carry, and
// whether its settings require a checksum on every key's token.
type Owner struct {
	Name          string
	TokenPrefix   string
	TokenChecksum bool
}

// RecordOwner records o's settings when they differ from the recorded
// ones, and reports whether it wrote. An owner whose settings are recorded
// already costs one statement that writes nothing: a no-op apply writes no
// row.
func (t *Tx) RecordOwner(ctx context.Context, o Owner) (bool, error) {
	tag, err := t.tx.Exec(ctx, `INSERT INTO `+t.db.table("owners")+` AS o (owner, token_prefix, token_checksum)
SELECT $1, $2, $3
WHERE NOT EXISTS (SELECT 1 FROM `+t.db.table("owners")+` WHERE owner = $1 AND token_prefix = $2 AND token_checksum = $3)
ON CONFLICT (owner) DO UPDATE SET token_prefix = excluded.token_prefix, token_checksum = excluded.token_checksum, updated_at = now()`,
		o.Name, o.TokenPrefix, o.TokenChecksum)
	if err != nil {
		return false, fmt.Errorf("recording the token settings of owner %q: %w", o.Name, err)
	}
	return tag.RowsAffected() > 0, nil
}

// Owners returns the recorded owners' settings, by name.
func (t *Tx) Owners(ctx context.Context) (map[string]Owner, error) {
	rows, err := t.tx.Query(ctx, "SELECT owner, token_prefix, token_checksum FROM "+t.db.table("owners"))
	if err != nil {
		return nil, fmt.Errorf("reading the owners' token settings: %w", err)
	}
	defer rows.Close()
	out := map[string]Owner{}
	for rows.Next() {
		var o Owner
		if err := rows.Scan(&o.Name, &o.TokenPrefix, &o.TokenChecksum); err != nil {
			return nil, fmt.Errorf("reading the owners' token settings: %w", err)
		}
		out[o.Name] = o
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the owners' token settings: %w", err)
	}
	return out, nil
}
