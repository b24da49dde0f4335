-- Verification as a contract: applications in any language call
-- keyprov.verify_token(digest, tenant) instead of reading keyprov's tables,
-- and need no privilege but EXECUTE on keyprov's verification functions
-- (README: least privilege). Each function runs as its owner, keyprov's
-- role (SECURITY DEFINER), resolves nothing through search_path, and may be
-- executed only by the roles it is granted to (not PUBLIC).
--
-- Also recorded here: each owner's token settings, and whether each token
-- carries a keyprov checksum, so that a verifier knows, without being told,
-- which prefixes tokens have and which tokens it can reject without a
-- query (keyprov.token_prefixes).

-- The token settings of each spec owner, written by its applies.
CREATE TABLE {{.schema}}.owners (
    owner          text        PRIMARY KEY,
    token_prefix   text        NOT NULL,
    token_checksum boolean     NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Whether the token ends in a valid keyprov checksum (token new), as the
-- apply that stored it found; NULL when unknown (stored before this
-- column, or by another tool).
ALTER TABLE {{.schema}}.tokens ADD COLUMN checksum boolean;

-- A change of an owner's settings is a change verifiers must see.
CREATE TRIGGER owners_inserted AFTER INSERT ON {{.schema}}.owners
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_inserted();
CREATE TRIGGER owners_updated AFTER UPDATE ON {{.schema}}.owners
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_updated();
CREATE TRIGGER owners_deleted AFTER DELETE ON {{.schema}}.owners
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_deleted();
CREATE TRIGGER owners_truncated AFTER TRUNCATE ON {{.schema}}.owners
    FOR EACH STATEMENT EXECUTE FUNCTION {{.schema}}.count_truncated();

-- verify_token(digest, tenant [, at]) answers whether a token verifies,
-- as exactly one row.
--
--   digest  SHA-256 of the token's UTF-8 bytes (32 bytes); a malformed
--           token is the caller's to reject before hashing
--   tenant  the tenant the request acts in; NULL: no scope check
--   at      the time to decide at; NULL (the default): now()
--
-- status is decided in this order:
--   unknown           no stored token has this digest
--   revoked           the key is revoked, or the token was retired when its
--                     key was revoked
--   disabled          the key is disabled (its tokens are kept)
--   expired           the key's expires_at is at or before at
--   valid             the token is the key's active token, or its previous
--                     token before valid_until ...
--   previous_expired  ... or past it (retired by an apply at its cutoff
--                     or not)
--   retired           the token was rotated out or dropped
--   scope_denied      the token is valid but tenant is not a valid tenant
--                     name, or the key is a tenant key of another tenant
--                     (a universal key reaches every tenant)
-- The other columns describe the key and token found (NULL for unknown);
-- status_at and status_reason say when and why a token that does not
-- verify stopped (revocation, disable, expiry, cutoff, retirement).
--
-- The Go package (verify), keyprov verify and the example clients decide
-- by it (TestVerifyTokenDecidesForAll runs every case through them all).
--
-- It is written in PL/pgSQL, whose plan each session keeps: a SQL function
-- that cannot be inlined (SECURITY DEFINER, SET) is planned again at every
-- call, which cost more than the lookup itself. Its inputs have no names
-- (call it with positional arguments): PL/pgSQL cannot name an input
-- tenant, as an output column is named. The lookup is one query, an index
-- probe of the digest joined to the key by primary key; the decision is
-- made by the statements after it.
CREATE FUNCTION {{.schema}}.verify_token(bytea, text, timestamptz DEFAULT NULL)
RETURNS TABLE (
    status        text,
    tenant        text,
    slug          text,
    universal     boolean,
    permissions   jsonb,
    metadata      jsonb,
    expires_at    timestamptz,
    key_id        bigint,
    token_state   text,
    valid_until   timestamptz,
    name          text,
    token_hint    text,
    status_at     timestamptz,
    status_reason text
)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    r  record;
    moment timestamptz := coalesce($3, now());
BEGIN
    SELECT t.state AS t_state, t.valid_until AS t_valid_until, t.hint AS t_hint,
        t.retired_at AS t_retired_at, t.retired_reason AS t_retired_reason,
        k.id AS k_id, k.tenant AS k_tenant, k.slug AS k_slug, k.universal AS k_universal, k.name AS k_name,
        k.permissions AS k_permissions, k.metadata AS k_metadata, k.expires_at AS k_expires_at,
        k.revoked_at AS k_revoked_at, k.revoked_reason AS k_revoked_reason, k.disabled_at AS k_disabled_at,
        k.disabled_spec AS k_disabled_spec, k.disabled_prune AS k_disabled_prune,
        k.disabled_operator_at AS k_disabled_operator_at, k.disabled_operator_reason AS k_disabled_operator_reason
    INTO r
    FROM {{.schema}}.tokens t JOIN {{.schema}}.keys k ON k.id = t.key_id
    WHERE t.digest = $1 AND t.scheme = 'sha256';
    IF NOT FOUND THEN
        status := 'unknown';
        RETURN NEXT;
        RETURN;
    END IF;
    tenant := r.k_tenant; slug := r.k_slug; universal := r.k_universal; permissions := r.k_permissions;
    metadata := r.k_metadata; expires_at := r.k_expires_at; key_id := r.k_id; token_state := r.t_state;
    valid_until := r.t_valid_until; name := r.k_name; token_hint := r.t_hint;
    IF r.k_revoked_at IS NOT NULL THEN
        status := 'revoked';
        status_at := r.k_revoked_at;
        status_reason := r.k_revoked_reason;
    ELSIF r.k_disabled_at IS NOT NULL THEN
        status := 'disabled';
        status_at := r.k_disabled_at;
        status_reason := nullif(concat_ws('; ',
            CASE WHEN r.k_disabled_operator_at IS NOT NULL THEN 'by an operator: ' || r.k_disabled_operator_reason END,
            CASE WHEN r.k_disabled_spec THEN 'disabled = true in the spec' END,
            CASE WHEN r.k_disabled_prune THEN 'no longer in the spec (pruned)' END), '');
    ELSIF r.k_expires_at IS NOT NULL AND r.k_expires_at <= moment THEN
        status := 'expired';
        status_at := r.k_expires_at;
    ELSIF r.t_state = 'active' OR (r.t_state = 'previous' AND r.t_valid_until > moment) THEN
        IF $2 IS NULL OR ($2 ~ '^[a-z0-9][a-z0-9_-]{0,62}$' AND (r.k_universal OR r.k_tenant = $2)) THEN
            status := 'valid';
        ELSE
            status := 'scope_denied';
        END IF;
    ELSIF r.t_state = 'previous' THEN
        status := 'previous_expired';
        status_at := r.t_valid_until;
    ELSE
        status := CASE r.t_retired_reason
            WHEN 'previous_until passed' THEN 'previous_expired'
            WHEN 'key revoked' THEN 'revoked'
            ELSE 'retired'
        END;
        status_at := r.t_retired_at;
        status_reason := r.t_retired_reason;
    END IF;
    RETURN NEXT;
END
$$;

-- change_counter is the counter of migration 004: verifiers poll it (one
-- query a second) and drop their caches when it moves. (PL/pgSQL, like
-- verify_token, with which the Go package reads it.)
CREATE FUNCTION {{.schema}}.change_counter() RETURNS bigint
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT counter FROM {{.schema}}.changes);
END
$$;

-- token_prefixes lists the owners' token prefixes, each with whether every
-- live token (active or previous) that may have it carries a checksum:
-- then a token of that prefix with a bad checksum is no token of keyprov's,
-- and a verifier rejects it without a query. A live token whose checksum
-- is unknown, or whose hint shows no prefix, counts against its prefix, or
-- against every prefix.
CREATE FUNCTION {{.schema}}.token_prefixes() RETURNS TABLE (prefix text, checksums boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
SELECT o.prefix, NOT EXISTS (
    SELECT 1 FROM {{.schema}}.tokens t
    WHERE t.state <> 'retired' AND t.checksum IS NOT TRUE
      AND (CASE WHEN strpos(t.hint, '…') > 0 THEN split_part(t.hint, '…', 1) ELSE '' END) IN (o.prefix, ''))
FROM (SELECT DISTINCT token_prefix AS prefix FROM {{.schema}}.owners) o
ORDER BY o.prefix
$$;

-- record_use writes keys.last_used_at for a batch of keys (the verify
-- package's WithLastUsed): each key's latest use, never moved backwards.
-- Rows locked by a running apply are skipped, never waited for; the ids
-- written are returned, so that the caller retries the others. The
-- counter of migration 004 ignores last_used_at, so this never waits for
-- an apply's lock on it either.
CREATE FUNCTION {{.schema}}.record_use(ids bigint[], ats timestamptz[]) RETURNS bigint[]
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
WITH done AS (
    UPDATE {{.schema}}.keys AS k SET last_used_at = GREATEST(k.last_used_at, u.at)
    FROM unnest($1, $2) AS u(id, at)
    WHERE k.id = u.id
      AND k.id IN (SELECT id FROM {{.schema}}.keys WHERE id = ANY($1) ORDER BY id FOR UPDATE SKIP LOCKED)
    RETURNING k.id
)
SELECT coalesce(array_agg(id), '{}') FROM done
$$;

-- Only the roles granted EXECUTE may call them (functions are PUBLIC's to
-- execute by default): GRANT EXECUTE ON FUNCTION … TO app_verify.
REVOKE EXECUTE ON FUNCTION {{.schema}}.verify_token(bytea, text, timestamptz) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION {{.schema}}.change_counter() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION {{.schema}}.token_prefixes() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION {{.schema}}.record_use(bigint[], timestamptz[]) FROM PUBLIC;
