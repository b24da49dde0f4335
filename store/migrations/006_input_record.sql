-- What a boot with nothing to do reads, in one query and without a lock
-- (the fast path of plan and apply; README, "A boot with nothing to do").
--
-- inputs holds, per owner, the record of the last apply that left the
-- store as its spec wants it with nothing to warn about: a digest of
-- everything that outcome depended on (keyprov's build, the settings that
-- change a plan, the bytes of the spec and variable files, the values of
-- the environment variables and files evaluation read), the list of those
-- variables and files by name (never their values: they are only inside
-- the digest), the store's change counter when the apply read the store,
-- and the first moment at which time alone changes the outcome (a key's
-- expires entering the warning window, a previous_until passing; NULL:
-- never), and what a plan from those inputs says (owner, prune, the
-- number of keys, no change). A run whose inputs, counter and clock match
-- answers "no changes" from the record without evaluating its spec.
CREATE TABLE {{.schema}}.inputs (
    owner       text        PRIMARY KEY,
    digest      bytea       NOT NULL,
    counter     bigint      NOT NULL,
    valid_until timestamptz,
    names       jsonb       NOT NULL,
    plan        jsonb       NOT NULL,
    keyprov     text        NOT NULL,
    run_id      uuid        NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);

-- Which store the change counter counts: a saved plan (plan -out) is
-- applied only to the store it was made against, as that store was.
ALTER TABLE {{.schema}}.changes ADD COLUMN store_id uuid NOT NULL DEFAULT gen_random_uuid();
