#!/usr/bin/env node
// Check an API key against the keys keyprov provisioned, as any service may.
//
// Reads the token from standard input (one trailing line break is removed)
// and the database URL from DATABASE_URL, asks keyprov.verify_token, prints
// the status (and the key's address when the token is known) and exits 0
// when the token is valid, 1 otherwise.
//
//   printf '%s' "$TOKEN" | DATABASE_URL=postgres://app_verify@db/app node verify.mjs --tenant acme
//
// The token never reaches the database: only its SHA-256 digest is sent.
// The role needs EXECUTE on keyprov.verify_token and USAGE on the schema
// only (README: least privilege). Install the pg package with npm ci.
import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';

// The token rules a verifier checks before hashing (the prefix aside: see
// keyprov.token_prefixes()): at most 512 bytes of [A-Za-z0-9_-].
const WELL_FORMED = /^[A-Za-z0-9_-]{1,512}$/;

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function main() {
  const { values } = parseArgs({
    options: {
      tenant: { type: 'string' },
      schema: { type: 'string', default: process.env.KEYPROV_SCHEMA || 'keyprov' },
    },
  });
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('verify.mjs: set DATABASE_URL');
    return 1;
  }
  let token = await readStdin();
  if (token.endsWith('\n')) token = token.slice(0, -1);
  if (token.endsWith('\r')) token = token.slice(0, -1);
  if (!WELL_FORMED.test(token)) {
    console.log('malformed');
    return 1;
  }
  const digest = createHash('sha256').update(token, 'utf8').digest();

  const client = new pg.Client({ connectionString: url });
  let row;
  try {
    await client.connect();
    // An unnamed statement: nothing is prepared on the server, which
    // PgBouncer in transaction pooling mode would not keep.
    const schema = client.escapeIdentifier(values.schema);
    const res = await client.query(`SELECT status, tenant, slug FROM ${schema}.verify_token($1, $2)`, [digest, values.tenant ?? null]);
    row = res.rows[0];
  } catch (e) {
    // The store could not be asked: not an answer about the token.
    console.error(`verify.mjs: cannot check the token now: ${e.message}`);
    return 1;
  } finally {
    await client.end().catch(() => {});
  }
  console.log(row.slug === null ? row.status : `${row.status} ${row.tenant}/${row.slug}`);
  return row.status === 'valid' ? 0 : 1;
}

process.exitCode = await main();
