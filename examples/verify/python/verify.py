#!/usr/bin/env python3
"""Check an API key against the keys keyprov provisioned, as any service may.

Reads the token from standard input (one trailing line break is removed)
and the database URL from DATABASE_URL, asks keyprov.verify_token, prints
the status (and the key's address when the token is known) and exits 0 when
the token is valid, 1 otherwise.

    printf '%s' "$TOKEN" | DATABASE_URL=postgres://app_verify@db/app python3 verify.py --tenant acme

The token never reaches the database: only its SHA-256 digest is sent. The
role needs EXECUTE on keyprov.verify_token and USAGE on the schema only
(README: least privilege). Needs psycopg 3 (Debian: apt-get install
python3-psycopg).
"""

import argparse
import hashlib
import os
import re
import sys

import psycopg
from psycopg import sql

# The token rules a verifier checks before hashing (the prefix aside: see
# keyprov.token_prefixes()): at most 512 bytes of [A-Za-z0-9_-].
WELL_FORMED = re.compile(r"[A-Za-z0-9_-]{1,512}")


def main() -> int:
    parser = argparse.ArgumentParser(description="Check an API key read from standard input.")
    parser.add_argument("--tenant", help="the tenant the request acts in (default: no scope check)")
    parser.add_argument("--schema", default=os.environ.get("KEYPROV_SCHEMA", "keyprov"), help="keyprov's schema")
    args = parser.parse_args()

    url = os.environ.get("DATABASE_URL")
    if not url:
        print("verify.py: set DATABASE_URL", file=sys.stderr)
        return 1
    token = sys.stdin.read()
    if token.endswith("\n"):
        token = token[:-1]
    if token.endswith("\r"):
        token = token[:-1]
    if not WELL_FORMED.fullmatch(token):
        print("malformed")
        return 1
    digest = hashlib.sha256(token.encode("utf-8")).digest()

    query = sql.SQL("SELECT status, tenant, slug FROM {}.verify_token(%s, %s)").format(sql.Identifier(args.schema))
    try:
        # prepare_threshold=None: no server-side prepared statements, which
        # PgBouncer in transaction pooling mode does not keep.
        with psycopg.connect(url, prepare_threshold=None, autocommit=True) as conn:
            status, tenant, slug = conn.execute(query, (digest, args.tenant)).fetchone()
    except psycopg.Error as e:
        # The store could not be asked: not an answer about the token.
        print(f"verify.py: cannot check the token now: {e.__class__.__name__}: {e.diag.message_primary or e}", file=sys.stderr)
        return 1
    print(status if slug is None else f"{status} {tenant}/{slug}")
    return 0 if status == "valid" else 1


if __name__ == "__main__":
    sys.exit(main())
