#!/bin/sh
# SPT Portal restore: a backup made by backup.sh into a NEW database and an empty media
# folder; it never writes over a database or files that exist. See docs/operations.md,
# "Backups and restore".
#
#   restore.sh spt-db-STAMP.dump spt-media-STAMP.tar.gz
#
#   DATABASE_URL  the database to create, e.g. postgres://spt:password@host:5432/spt_restored
#                 (the user needs CREATEDB; the database must not exist yet)
#   MEDIA_ROOT    where to unpack the uploaded files (absent or empty)
#
# Then, with the portal's settings pointing at them: python manage.py migrate --noinput.
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 DATABASE_DUMP MEDIA_ARCHIVE" >&2
    exit 2
fi
dump=$1
archive=$2
: "${DATABASE_URL:?DATABASE_URL is not set}"
: "${MEDIA_ROOT:?MEDIA_ROOT is not set}"

# postgres://user:password@host:port/name?options -> name, and the server's "postgres"
# database to connect to while creating it.
name=${DATABASE_URL##*/}
name=${name%%\?*}
options=
case $DATABASE_URL in
*\?*) options="?${DATABASE_URL#*\?}" ;;
esac
server="${DATABASE_URL%/*}/postgres$options"

if [ -z "$name" ]; then
    echo "restore: DATABASE_URL names no database" >&2
    exit 2
fi
if [ -d "$MEDIA_ROOT" ] && [ -n "$(ls -A "$MEDIA_ROOT")" ]; then
    echo "restore: MEDIA_ROOT $MEDIA_ROOT is not empty" >&2
    exit 1
fi
pg_restore --list "$dump" >/dev/null
tar -tzf "$archive" >/dev/null

# createdb fails when the database exists: a restore never lands on a live database.
createdb --maintenance-db="$server" "$name"
pg_restore --no-owner --no-privileges --exit-on-error --dbname="$DATABASE_URL" "$dump"

mkdir -p "$MEDIA_ROOT"
tar -C "$MEDIA_ROOT" -xzf "$archive"

echo "restored database $name; uploaded files: $(find "$MEDIA_ROOT" -type f | wc -l | tr -d ' ')"
