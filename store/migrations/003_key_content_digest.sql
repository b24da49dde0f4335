-- A digest of each key's content, so that an apply can tell that a key is
-- as the spec wants it without reading its content: rendering 100,000
-- permissions and metadata documents as text was most of what a no-op
-- apply asked of the database.
--
-- keyprov writes content_digest with the content it writes: the
-- store.ContentDigest of the row, a SHA-256 of its universal, name,
-- description, permissions, metadata, expires_at, owner, revoked_at and
-- revoked_reason. NULL means unknown: rows inserted by another tool, and
-- rows whose content a statement changes without setting the digest,
-- which the trigger below sees to. A key whose digest is NULL or differs
-- from the digest of the row the spec asks for is read in full: a wrong
-- digest can cost time, never a change.
ALTER TABLE {{.schema}}.keys ADD COLUMN content_digest bytea;

-- The digests of the keys already stored, computed as store.ContentDigest
-- computes them (TestContentDigestMatchesSQL holds the two together). This
-- rewrites the keys table once, under the lock of the apply that migrates.
UPDATE {{.schema}}.keys SET content_digest = sha256(
    '\x01'::bytea
    || boolsend(universal)
    || int4send(octet_length(convert_to(name, 'UTF8'))) || convert_to(name, 'UTF8')
    || int4send(octet_length(convert_to(description, 'UTF8'))) || convert_to(description, 'UTF8')
    || int4send(octet_length(convert_to(permissions::text, 'UTF8'))) || convert_to(permissions::text, 'UTF8')
    || int4send(octet_length(convert_to(metadata::text, 'UTF8'))) || convert_to(metadata::text, 'UTF8')
    || CASE WHEN expires_at IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || timestamptz_send(expires_at) END
    || int4send(octet_length(convert_to(owner, 'UTF8'))) || convert_to(owner, 'UTF8')
    || CASE WHEN revoked_at IS NULL THEN '\x00'::bytea ELSE '\x01'::bytea || timestamptz_send(revoked_at) END
    || int4send(octet_length(convert_to(coalesce(revoked_reason, ''), 'UTF8'))) || convert_to(coalesce(revoked_reason, ''), 'UTF8'));

CREATE FUNCTION {{.schema}}.forget_content_digest() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF (NEW.universal, NEW.name, NEW.description, NEW.permissions, NEW.metadata, NEW.expires_at,
        NEW.owner, NEW.revoked_at, coalesce(NEW.revoked_reason, ''))
        IS DISTINCT FROM
       (OLD.universal, OLD.name, OLD.description, OLD.permissions, OLD.metadata, OLD.expires_at,
        OLD.owner, OLD.revoked_at, coalesce(OLD.revoked_reason, '')) THEN
        NEW.content_digest := NULL;
    END IF;
    RETURN NEW;
END
$$;

-- Fires only for updates that name a content column and leave the digest
-- as it was (keyprov's own updates set it; verify's last_used_at updates
-- name no content column).
CREATE TRIGGER keys_content_changed
    BEFORE UPDATE OF universal, name, description, permissions, metadata, expires_at, owner, revoked_at, revoked_reason
    ON {{.schema}}.keys
    FOR EACH ROW
    WHEN (NEW.content_digest IS NOT DISTINCT FROM OLD.content_digest)
    EXECUTE FUNCTION {{.schema}}.forget_content_digest();
