#!/bin/sh
# One-shot (compose service `temporal-search-attributes`, temporalio/admin-tools image):
# waits until the Temporal frontend serves, creates the namespace if it is missing, then
# registers every search attribute given as a NAME=Type argument (the compose file lists
# docbatch.temporal.SEARCH_ATTRIBUTES; tests/test_compose.py keeps the two equal).
#
# Idempotent: an attribute already registered with the same type counts as done (the
# CLI's "already exists", a worker's ensure_search_attributes racing us, a second run);
# one registered with another type fails at once, naming it.
#
# Environment: TEMPORAL_ADDRESS, optional TEMPORAL_NAMESPACE (default),
# NAMESPACE_RETENTION (168h), SETUP_TIMEOUT_SECONDS (300), RETRY_SECONDS (2).
set -eu

: "${TEMPORAL_ADDRESS:?TEMPORAL_ADDRESS must name the Temporal frontend}"
namespace="${TEMPORAL_NAMESPACE:-default}"
retention="${NAMESPACE_RETENTION:-168h}"
timeout="${SETUP_TIMEOUT_SECONDS:-300}"
deadline=$(($(date +%s) + timeout))

# WHAT COMMAND...: run COMMAND until it succeeds or the deadline passes.
wait_for() {
  what="$1"
  shift
  until "$@"; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      echo "register-search-attributes: gave up after ${timeout}s waiting for $what" >&2
      exit 1
    fi
    echo "register-search-attributes: waiting for $what" >&2
    sleep "${RETRY_SECONDS:-2}"
  done
}

serving() {
  temporal operator cluster health --address "$TEMPORAL_ADDRESS" 2>/dev/null | grep -q SERVING
}

namespace_exists() {
  temporal operator namespace describe --namespace "$namespace" \
    --address "$TEMPORAL_ADDRESS" >/dev/null 2>&1
}

ensure_namespace() {
  namespace_exists && return 0
  temporal operator namespace create --namespace "$namespace" --retention "$retention" \
    --address "$TEMPORAL_ADDRESS" || true
  namespace_exists
}

attributes() {
  temporal operator search-attribute list --namespace "$namespace" \
    --address "$TEMPORAL_ADDRESS" 2>/dev/null
}

# NAME [TYPE]: the namespace lists NAME (with TYPE). The CLI prints a type as `Keyword`
# or `INDEXED_VALUE_TYPE_KEYWORD` depending on its version: match either.
listed() {
  if [ -n "${2:-}" ]; then
    attributes | grep -Eiq "(^|[^[:alnum:]_])$1[^[:alnum:]_](.*[^[:alnum:]])?$2([^[:alnum:]_]|\$)"
  else
    attributes | grep -Eiq "(^|[^[:alnum:]_])$1([^[:alnum:]_]|\$)"
  fi
}

register() {
  listed "$1" "$2" && return 0
  if listed "$1"; then
    echo "register-search-attributes: $1 exists with another type than $2:" >&2
    attributes | grep -i "$1" >&2 || true
    exit 1
  fi
  temporal operator search-attribute create --namespace "$namespace" \
    --name "$1" --type "$2" --address "$TEMPORAL_ADDRESS" || true
  listed "$1" "$2"
}

for pair in "$@"; do
  case "$pair" in
  ?*=?*) ;;
  *)
    echo "register-search-attributes: bad argument '$pair' (want NAME=Type)" >&2
    exit 2
    ;;
  esac
done

wait_for "the Temporal frontend at $TEMPORAL_ADDRESS" serving
wait_for "namespace $namespace" ensure_namespace
for pair in "$@"; do
  name="${pair%%=*}"
  type="${pair#*=}"
  wait_for "search attribute $name ($type)" register "$name" "$type"
  echo "register-search-attributes: $name ($type) registered in $namespace"
done
