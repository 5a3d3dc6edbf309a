#!/bin/sh
# As the official redis image: protected mode off (the compose network is the
# boundary), so other containers may connect without a password.
set -eu
if [ "${1:-}" = redis-server ]; then
  shift
  exec redis-server "$@" --protected-mode no
fi
exec "$@"
