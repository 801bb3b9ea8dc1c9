#!/bin/sh
# Temporal's persistence schema in PostgreSQL (temporalio/admin-tools image). Idempotent: creating
# an existing database is tolerated, setup-schema -v 0.0 and update-schema only apply what is missing.
set -eu
: "${POSTGRES_HOST:=postgresql}" "${POSTGRES_PORT:=5432}" "${POSTGRES_USER:=lana}"
tool() { temporal-sql-tool --plugin postgres12 --ep "$POSTGRES_HOST" -p "$POSTGRES_PORT" -u "$POSTGRES_USER" "$@"; }
for db in temporal temporal_visibility; do
  tool --db "$db" create || echo "database $db exists"
done
tool --db temporal setup-schema -v 0.0
tool --db temporal update-schema -d /etc/temporal/schema/postgresql/v12/temporal/versioned
tool --db temporal_visibility setup-schema -v 0.0
tool --db temporal_visibility update-schema -d /etc/temporal/schema/postgresql/v12/visibility/versioned
echo "Temporal schema ready"
