#!/bin/sh
# Starts one Redis process of the `ha` profile: `start.sh primary|replica|sentinel`.
# The configuration is copied to the data volume on first start only: afterwards Sentinel's
# rewrites of it (who is primary now) are what the process starts with.
set -eu
role=$1
data=${REDIS_DATA_DIR:-/data}
conf_dir=${REDIS_CONF_DIR:-/etc/triagebot-redis}
conf=$data/$role.conf
password=${TRIAGE_REDIS_PASSWORD:?set TRIAGE_REDIS_PASSWORD}
if [ ! -f "$conf" ]; then
  umask 077  # the file holds the password
  if [ "$role" = sentinel ]; then
    cp "$conf_dir/sentinel.conf" "$conf"
    printf 'sentinel auth-pass mymaster "%s"\n' "$password" >>"$conf"
  else
    cp "$conf_dir/redis.conf" "$conf"
    # masterauth: a demoted primary authenticates to the new one.
    printf 'requirepass "%s"\nmasterauth "%s"\nreplica-announce-ip %s\n' \
      "$password" "$password" "${REDIS_ANNOUNCE:?set REDIS_ANNOUNCE}" >>"$conf"
    if [ "$role" = replica ]; then
      printf 'replicaof %s\n' "${REDIS_PRIMARY:-redis-primary 6379}" >>"$conf"
    fi
  fi
fi
if [ "$role" = sentinel ]; then
  exec redis-server "$conf" --sentinel
fi
exec redis-server "$conf"
