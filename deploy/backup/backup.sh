#!/bin/sh
# SPT Portal daily backup: the PostgreSQL database (pg_dump custom format) and the uploaded
# files (MEDIA_ROOT), each under a date-stamped name, kept BACKUP_KEEP_DAYS days.
# See docs/operations.md, "Backups and restore".
#
#   DATABASE_URL      postgres://user:password@host:5432/spt (the portal's own setting)
#   MEDIA_ROOT        the portal's uploaded files
#   BACKUP_DIR        where the backups are written (default /var/backups/spt-portal)
#   BACKUP_KEEP_DAYS  older backups are deleted (default 30)
#
# Prints the two files written. Exits non-zero (and leaves no partial file) on any error.
set -eu

: "${DATABASE_URL:?DATABASE_URL is not set}"
: "${MEDIA_ROOT:?MEDIA_ROOT is not set}"
BACKUP_DIR=${BACKUP_DIR:-/var/backups/spt-portal}
BACKUP_KEEP_DAYS=${BACKUP_KEEP_DAYS:-30}

if [ ! -d "$MEDIA_ROOT" ]; then
    echo "backup: MEDIA_ROOT $MEDIA_ROOT is not a directory" >&2
    exit 1
fi

stamp=$(date -u +%Y-%m-%dT%H%M%SZ)
database="$BACKUP_DIR/spt-db-$stamp.dump"
media="$BACKUP_DIR/spt-media-$stamp.tar.gz"

umask 077 # the dump holds every ticket and password hash: readable by its owner only
mkdir -p "$BACKUP_DIR"
trap 'rm -f "$database.part" "$media.part"' EXIT

# Written under a temporary name and renamed when complete: a file with the final name is
# always a whole backup.
pg_dump --format=custom --dbname="$DATABASE_URL" --file="$database.part"
pg_restore --list "$database.part" >/dev/null # the archive is readable
mv "$database.part" "$database"

tar -C "$MEDIA_ROOT" -czf "$media.part" .
tar -tzf "$media.part" >/dev/null
mv "$media.part" "$media"

find "$BACKUP_DIR" -maxdepth 1 -type f \
    \( -name 'spt-db-*.dump' -o -name 'spt-media-*.tar.gz' \) \
    -mtime +"$BACKUP_KEEP_DAYS" -delete

echo "$database"
echo "$media"
