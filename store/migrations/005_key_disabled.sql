-- Disabled: a state between live and revoked. A disabled key keeps its
-- tokens (nothing is retired) but none of them verifies until the key is
-- enabled again, with the same tokens.
--
-- Three holders may keep a key disabled, each recorded on its own, since
-- each is lifted by its own hand:
--
--   disabled_spec      the spec says disabled = true; an apply sets and
--                      clears it as the spec says.
--   disabled_prune     an apply with --prune found the key no longer
--                      declared; an apply clears it when the key returns.
--   disabled_operator_ keyprov disable (who, when, why); only keyprov
--                      enable clears it, never an apply.
--
-- disabled_at is when the key was switched off, NULL while it is enabled:
-- a key is disabled exactly when disabled_at IS NOT NULL, which is what a
-- verifier asks. The CHECK keeps it equal to "some holder holds it".
--
-- The columns are not part of content_digest: an apply reads them for
-- every key (they are NULL or false for almost all), so an operator's
-- disable, or one written by SQL, is seen without reading the key's
-- content, and a key held disabled costs a no-op apply nothing.
--
-- New nullable columns and columns with a constant default are added
-- without rewriting the table; the CHECKs scan it once.
ALTER TABLE {{.schema}}.keys
    ADD COLUMN disabled_at              timestamptz,
    ADD COLUMN disabled_spec            boolean NOT NULL DEFAULT false,
    ADD COLUMN disabled_prune           boolean NOT NULL DEFAULT false,
    ADD COLUMN disabled_operator_at     timestamptz,
    ADD COLUMN disabled_operator_actor  text,
    ADD COLUMN disabled_operator_reason text,
    ADD CONSTRAINT keys_disabled
        CHECK ((disabled_at IS NOT NULL) = (disabled_spec OR disabled_prune OR disabled_operator_at IS NOT NULL)),
    ADD CONSTRAINT keys_disabled_operator
        CHECK ((disabled_operator_at IS NULL) = (disabled_operator_actor IS NULL)
           AND (disabled_operator_at IS NULL) = (disabled_operator_reason IS NULL));
