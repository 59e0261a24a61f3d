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

# Sets PG_DIR unless given. Call it once the server is installed, since whether the postgres user
# can reach the repository decides where the cluster lives.
choose_location() {
  if [ -z "${PG_DIR:-}" ]; then
    if reachable_by_server_user "$REPO"; then
      PG_DIR="$REPO/.postgres"
    else
      PG_DIR="/tmp/eventsourced-postgres-$(echo "$REPO" | cksum | cut -d' ' -f1)"
    fi
  fi
}

# True when no socket on this machine, listening or connected, uses the TCP port.
port_is_free() {
  [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}

# A free port below the kernel's ephemeral range, where outgoing connections (a load test's
# thousands of them) never take it. Starts at a place derived from the folder, so two clones on
# one machine look at different ports first, and walks on from there (past $1 more, on a retry).
free_port() {
  local low span start port i
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  span=$((low - 20000))
  start=$((20000 + ($(echo "$PG_DIR" | cksum | cut -d' ' -f1) + ${1:-0}) % span))
  for ((i = 0; i < span; i++)); do
    port=$((20000 + (start - 20000 + i) % span))
    if port_is_free "$port"; then echo "$port"; return 0; fi
  done
  return 1
}

# The port the cluster used last time, kept beside it, if it is still free.
kept_port() {
  local port
  port=$(cat "$PG_DIR/port" 2>/dev/null) || return 1
  [ -n "$port" ] && port_is_free "$port" && echo "$port"
}
