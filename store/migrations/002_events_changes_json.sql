-- An event's changes are stored as keyprov wrote them: json, not jsonb.
-- keyprov writes each document once and reads it back only for `keyprov
-- history` (which renders it through jsonb, as before). Parsing every
-- document into jsonb cost the server more than anything else in writing
-- an event: 0.15 s of the 1.2 s an initial apply of 100,000 keys spends
-- writing. The text is still checked to be JSON. To query the trail with
-- jsonb operators or index it, cast: changes::jsonb.
--
-- On a store that already has events this rewrites the events table once,
-- under the lock of the apply that migrates.
ALTER TABLE {{.schema}}.events
    ALTER COLUMN changes DROP DEFAULT,
    ALTER COLUMN changes TYPE json USING changes::json,
    ALTER COLUMN changes SET DEFAULT '{}';
