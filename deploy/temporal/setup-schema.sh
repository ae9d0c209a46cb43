#!/bin/sh
# One-shot (compose service `temporal-schema`, temporalio/admin-tools image): creates
# Temporal's two databases on the postgresql service and brings both schemas to the
# version this admin-tools image ships, which is the server image's of the same tag.
# Idempotent: an existing database is kept and applied schema versions are skipped, so
# it runs at every `docker compose up` and upgrades the schema after a version bump.
#
# Environment: SQL_HOST, SQL_USER, SQL_PASSWORD (read by temporal-sql-tool itself),
# optional SQL_PLUGIN (postgres12), SQL_PORT (5432), SETUP_TIMEOUT_SECONDS (120),
# RETRY_SECONDS (2), TEMPORAL_SCHEMA_DIR (the image's PostgreSQL v12 schema folder).
set -eu

: "${SQL_HOST:?SQL_HOST must name the PostgreSQL host}"
: "${SQL_USER:?SQL_USER must name the PostgreSQL role Temporal uses}"
: "${SQL_PASSWORD:?SQL_PASSWORD must be set}"
plugin="${SQL_PLUGIN:-postgres12}"
port="${SQL_PORT:-5432}"
schema_dir="${TEMPORAL_SCHEMA_DIR:-/etc/temporal/schema/postgresql/v12}"
timeout="${SETUP_TIMEOUT_SECONDS:-120}"
deadline=$(($(date +%s) + timeout))

sql_tool() {
  temporal-sql-tool --plugin "$plugin" --ep "$SQL_HOST" -p "$port" -u "$SQL_USER" "$@"
}

# DATABASE SCHEMA: create the database if missing, then apply every pending version.
setup() {
  sql_tool --db "$1" create &&
    sql_tool --db "$1" setup-schema -v 0.0 &&
    sql_tool --db "$1" update-schema -d "$schema_dir/$2/versioned"
}

# The database is healthy before this starts (depends_on), but a fresh cluster can
# still refuse connections for a moment: retry until the deadline.
retry() {
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "setup-schema: gave up after ${timeout}s: $*" >&2
      exit 1
    fi
    echo "setup-schema: retrying: $*" >&2
    sleep "${RETRY_SECONDS:-2}"
  done
}

retry setup temporal temporal
retry setup temporal_visibility visibility
echo "setup-schema: Temporal schemas are up to date"
