# Shared by postgres/start and postgres/stop: where the cluster lives and who runs it.

POSTGRES_SCRIPTS=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$POSTGRES_SCRIPTS")

log() { echo "postgres: $*" >&2; }
die() { log "$*"; exit 1; }

server_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

# The server refuses to run as root, so as root it runs as the postgres OS user.
as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# The postgres user must be able to traverse every parent folder of the cluster.
reachable_by_server_user() {
  [ "$(id -u)" -ne 0 ] && return 0
  runuser -u postgres -- test -x "$1"
}

# A pid file whose process is not a postgres server (the pid was reused) is stale.
server_pid_is_postgres() {
  local pid
  pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null) || return 1
  [ -n "$pid" ] && grep -q postgres "/proc/$pid/comm" 2>/dev/null
}

# Sets PG_DIR and PG_PORT unless given. Call it once the server is installed, since whether the
# postgres user can reach the repository decides where the cluster lives.
choose_location() {
  if [ -z "${PG_DIR:-}" ]; then
    if reachable_by_server_user "$REPO"; then
      PG_DIR="$REPO/.postgres"
    else
      PG_DIR="/tmp/eventsourced-postgres-$(echo "$REPO" | cksum | cut -d' ' -f1)"
    fi
  fi
  # Derived from the folder, so two clones on one machine do not fight over a port.
  PG_PORT=${PG_PORT:-$((54320 + $(echo "$PG_DIR" | cksum | cut -d' ' -f1) % 1000))}
}
