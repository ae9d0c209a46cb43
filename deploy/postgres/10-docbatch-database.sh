#!/usr/bin/env bash
# The docbatch store's own role and database, beside Temporal's (compose service
# `postgresql`). The official postgres image runs /docker-entrypoint-initdb.d/*.sh once,
# as the superuser, when it initialises an empty data volume; a volume that already holds
# a cluster skips it (see docs/deploy.md to change the password later).
#
# Written to work both executed and sourced by the entrypoint: no `exit`, no `set -u`.
set -e

if [ -z "${DOCBATCH_DB_PASSWORD:-}" ]; then
  echo "10-docbatch-database.sh: DOCBATCH_DB_PASSWORD is empty" >&2
  false
fi

# The password travels as a psql variable and is quoted by psql (:'...'), so any
# character is safe here; the compose file puts it in a URL, hence docs/deploy.md asks
# for URL-safe characters.
psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" \
  --dbname "${POSTGRES_DB:-$POSTGRES_USER}" \
  --set=docbatch_password="$DOCBATCH_DB_PASSWORD" <<'SQL'
CREATE ROLE docbatch LOGIN PASSWORD :'docbatch_password';
CREATE DATABASE docbatch OWNER docbatch;
-- Only its owner (and superusers) may connect: Temporal's role has no business here.
REVOKE ALL ON DATABASE docbatch FROM PUBLIC;
SQL
