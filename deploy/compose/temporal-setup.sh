#!/bin/sh
# One-shot (compose service temporal-setup, image temporalio/admin-tools): wait for the Temporal
# frontend, then create the namespace and tracepost's search attributes if they are missing.
# Environment: TEMPORAL_ADDRESS (the temporal CLI's own), NAMESPACE, NAMESPACE_RETENTION,
# SEARCH_ATTRIBUTES (space separated names, all Keyword: domain/search_attributes.py).
set -eu
: "${NAMESPACE:?}" "${SEARCH_ATTRIBUTES:?}"
retention="${NAMESPACE_RETENTION:-720h}"
tries=0
until temporal operator cluster health 2>/dev/null | grep -q SERVING; do
    tries=$((tries + 1))
    if [ "$tries" -ge 90 ]; then
        echo "Temporal at ${TEMPORAL_ADDRESS} did not become healthy" >&2
        exit 1
    fi
    sleep 2
done
if ! temporal operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
    temporal operator namespace create --namespace "$NAMESPACE" --retention "$retention"
fi
# a new namespace can take a few seconds to be usable on every frontend
tries=0
until temporal operator search-attribute list --namespace "$NAMESPACE" >/tmp/attributes 2>/dev/null; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || { echo "namespace $NAMESPACE is not usable" >&2; exit 1; }
    sleep 2
done
for name in $SEARCH_ATTRIBUTES; do
    if ! grep -qw "$name" /tmp/attributes; then
        temporal operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type Keyword
    fi
done
echo "namespace $NAMESPACE ready with search attributes: $SEARCH_ATTRIBUTES"
