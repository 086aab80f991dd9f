#!/bin/sh
# One-shot migration of the shop's data directory: brings it to
# SCHEMA_VERSION, gives it to the app's user, and exits.  Safe to run again.
set -eu

data=${SHOP_DATA_DIR:-/var/lib/shop}
target=${SCHEMA_VERSION:?SCHEMA_VERSION is not set}
owner=${SHOP_OWNER:-1000:1000}

current=0
if [ -f "$data/schema_version" ]; then
    current=$(cat "$data/schema_version")
fi
echo "migrate: $data is at schema $current, target $target"

while [ "$current" -lt "$target" ]; do
    next=$((current + 1))
    case "$next" in
        1) [ -f "$data/visits" ] || echo 0 > "$data/visits" ;;
        2) mkdir -p "$data/orders" ;;
        3) [ -f "$data/orders/next_id" ] || echo 1000 > "$data/orders/next_id" ;;
        *) echo "migrate: no step to schema $next" >&2; exit 1 ;;
    esac
    echo "$next" > "$data/schema_version.new"
    mv "$data/schema_version.new" "$data/schema_version"
    current=$next
    echo "migrate: now at schema $current"
done

chown -R "$owner" "$data"
echo "migrate: done"
