#!/usr/bin/env bash
# A PostgreSQL server for the tests (Debian, as root): installs Debian's `postgresql` if
# missing, starts a cluster on 127.0.0.1, creates a role and a database for the tests,
# and prints the URL to put in DOCBATCH_TEST_DATABASE_URL. Idempotent: a cluster that
# already runs is reused, an existing role gets its password and rights re-applied.
#
# The role may create databases: the tests make a fresh database per stack and drop it
# afterwards. Override with PG_USER, PG_PASSWORD, PG_DATABASE, and PG_PORT for a cluster
# this script creates (an existing cluster keeps its port).
set -euo pipefail

port="${PG_PORT:-5432}"
user="${PG_USER:-docbatch}"
password="${PG_PASSWORD:-docbatch}"
database="${PG_DATABASE:-docbatch_test}"
# Enough for a test stack's pools plus two worker processes (each up to 30 connections).
max_connections=300

# Callers capture stdout as the URL, so everything before it goes to stderr
# (pg_ctlcluster, for one, prints "Removed stale pid file." after an unclean stop).
{
if ! command -v pg_ctlcluster >/dev/null || ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi

version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
cluster="main"
if ! pg_lsclusters --no-header | awk '{print $1 "/" $2}' | grep -qx "$version/$cluster"; then
  # Debian's package creates one unless told not to; make sure there is one.
  pg_createcluster --port "$port" "$version" "$cluster" >/dev/null
fi

# The cluster's own port (PG_PORT only chooses it for a cluster created here).
port="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $3}')"

# Loopback only, with room for the tests' connection pools: a drop-in file of our own
# (Debian's postgresql.conf includes conf.d/ last), so the main file stays untouched.
conf_dir="/etc/postgresql/$version/$cluster/conf.d"
mkdir -p "$conf_dir"
printf "listen_addresses = '127.0.0.1'\nmax_connections = %s\n" "$max_connections" \
  >"$conf_dir/docbatch-tests.conf"

status="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1 == v && $2 == c {print $4}')"
if [ "$status" = "online" ]; then
  # Both settings take effect only after a restart.
  running="$(su postgres -c "psql -p $port -Atc 'SHOW max_connections' -c 'SHOW listen_addresses'")"
  if [ "$running" != "$max_connections"$'\n'"127.0.0.1" ]; then
    pg_ctlcluster "$version" "$cluster" restart
  fi
else
  pg_ctlcluster "$version" "$cluster" start
fi

for _ in $(seq 1 60); do
  pg_isready -q -h 127.0.0.1 -p "$port" && break
  sleep 0.5
done
pg_isready -h 127.0.0.1 -p "$port" >/dev/null

psql_admin() {
  su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -Atq" <<<"$1"
}

psql_admin "DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$user') THEN
    CREATE ROLE \"$user\" LOGIN;
  END IF;
END
\$\$;
ALTER ROLE \"$user\" WITH LOGIN CREATEDB PASSWORD '$password';
-- DROP DATABASE … WITH (FORCE) of a test database may have to stop an autovacuum worker.
GRANT pg_signal_backend TO \"$user\";
-- Test databases only: a commit need not wait for the disk (a crash may lose the last
-- commits, never consistency). Scoped to this role, so other users keep durability.
ALTER ROLE \"$user\" SET synchronous_commit = off;"

if [ -z "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = '$database'")" ]; then
  su postgres -c "createdb -p $port -O '$user' '$database'"
fi

} >&2

echo "postgresql+asyncpg://$user:$password@127.0.0.1:$port/$database"
