#!/bin/sh
# One-shot (compose service temporal-schema, image temporalio/admin-tools): create or upgrade
# the Temporal server's PostgreSQL schemas. Safe to run again: setup-schema only records version
# 0.0 on an empty database, update-schema applies only the versions not applied yet.
# Connection: SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD (temporal-sql-tool's own
# environment variables).
set -eu
schema=/etc/temporal/schema/postgresql/v12
for db in temporal temporal_visibility; do
    case "$db" in
        temporal) dir="$schema/temporal/versioned" ;;
        *) dir="$schema/visibility/versioned" ;;
    esac
    temporal-sql-tool --db "$db" setup-schema -v 0.0
    temporal-sql-tool --db "$db" update-schema -d "$dir"
done
echo "temporal schemas ready"
