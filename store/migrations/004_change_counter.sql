-- A counter of changes to what decides an outcome: keys and tokens. Any
-- write by anyone (keyprov, another tool, SQL by hand) that changes a row
-- of either table moves it, in the writer's transaction: a reader that sees
-- the new counter also sees the change. Verifiers poll it to drop their
-- caches within a second of a revoke; a boot with nothing to do compares it
-- with the counter its last apply recorded.
--
-- last_used_at is left out: verifiers write it all the time, it changes no
-- outcome, and a verifier's flush must never wait for the row lock an
-- apply holds on the counter until it commits. A statement that changes
-- nothing (no row, or only last_used_at) does not touch the counter either,
-- so a no-op apply writes no row.
CREATE TABLE {{.schema}}.changes (
    id      boolean PRIMARY KEY DEFAULT true CONSTRAINT changes_one_row CHECK (id),
    counter bigint  NOT NULL
);

INSERT INTO {{.schema}}.changes (id, counter) VALUES (true, 1);

-- The counter's own row is written only here. The functions run as their
-- owner, keyprov's role (a role that may write keys need not write the
-- counter), and resolve nothing through search_path.
CREATE FUNCTION {{.schema}}.count_inserted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows) THEN
        UPDATE {{.schema}}.changes SET counter = counter + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION {{.schema}}.count_deleted() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM old_rows) THEN
        UPDATE {{.schema}}.changes SET counter = counter + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION {{.schema}}.count_truncated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE {{.schema}}.changes SET counter = counter + 1;
    RETURN NULL;
END
$$;

-- An update counts when a row differs in anything but last_used_at: the
-- rows after the statement that are not among the rows before it.
CREATE FUNCTION {{.schema}}.count_updated() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT to_jsonb(n) - 'last_used_at' FROM new_rows n
               EXCEPT ALL
               SELECT to_jsonb(o) - 'last_used_at' FROM old_rows o) THEN
        UPDATE {{.schema}}.changes SET counter = counter + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER keys_inserted AFTER INSERT ON {{.schema}}.keys
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_inserted();
CREATE TRIGGER keys_updated AFTER UPDATE ON {{.schema}}.keys
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_updated();
CREATE TRIGGER keys_deleted AFTER DELETE ON {{.schema}}.keys
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_deleted();
CREATE TRIGGER keys_truncated AFTER TRUNCATE ON {{.schema}}.keys
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_truncated();

CREATE TRIGGER tokens_inserted AFTER INSERT ON {{.schema}}.tokens
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_inserted();
CREATE TRIGGER tokens_updated AFTER UPDATE ON {{.schema}}.tokens
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_updated();
CREATE TRIGGER tokens_deleted AFTER DELETE ON {{.schema}}.tokens
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_deleted();
CREATE TRIGGER tokens_truncated AFTER TRUNCATE ON {{.schema}}.tokens
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_truncated();
