#!/usr/bin/env bash
# Finds a PostgreSQL for crowdledger and prints a connection URL for DATABASE
# (creating that database if it is missing):
#   1. $DATABASE_URL, if set (used as is);
#   2. else a server on 127.0.0.1:5432 (user postgres, trust auth);
#   3. else a private server this script starts from the installed PostgreSQL
#      binaries, with its data in .pgdata/ (git-ignored) on port 54329,
#      installing Debian's postgresql package first if no binaries are found.
# Messages go to stderr; only the URL goes to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-crowdledger}"
say() { echo "db.sh: $*" >&2; }

if [[ -n "${DATABASE_URL:-}" ]]; then
  say "using DATABASE_URL"
  echo "$DATABASE_URL"
  exit 0
fi

pgbin() {
  local d
  for d in "$(dirname "$(command -v pg_ctl 2>/dev/null || echo /nonexistent/x)")" $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/pg_ctl" && -x "$d/initdb" ]] && { echo "$d"; return 0; }
  done
  return 1
}

psql_q() { # port, database, sql
  if command -v psql >/dev/null; then
    psql -X -q -h 127.0.0.1 -p "$1" -U postgres -d "$2" -Atc "$3"
  else
    "$(pgbin)/psql" -X -q -h 127.0.0.1 -p "$1" -U postgres -d "$2" -Atc "$3"
  fi
}

ready() { # port
  local isready
  isready="$(command -v pg_isready || true)"
  [[ -z "$isready" ]] && isready="$(pgbin 2>/dev/null)/pg_isready"
  [[ -x "$isready" ]] || return 1
  "$isready" -q -h 127.0.0.1 -p "$1" -U postgres -t 2 >/dev/null 2>&1
}

ensure_db() { # port
  if [[ "$db" != postgres ]] && [[ "$(psql_q "$1" postgres "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
    psql_q "$1" postgres "CREATE DATABASE \"$db\"" >/dev/null
    say "created database $db"
  fi
  echo "postgres://postgres@127.0.0.1:$1/$db?sslmode=disable"
}

if ready 5432; then
  say "using the PostgreSQL on 127.0.0.1:5432"
  ensure_db 5432
  exit 0
fi

port=54329
if ready "$port"; then
  say "using the private PostgreSQL in .pgdata (port $port)"
  ensure_db "$port"
  exit 0
fi

if ! bin="$(pgbin)"; then
  say "no PostgreSQL binaries found: installing Debian's postgresql package"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >&2
  bin="$(pgbin)"
fi

data="$PWD/.pgdata"
as=()
if [[ $(id -u) -eq 0 ]]; then # initdb refuses to run as root
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
  mkdir -p "$data" && chown postgres "$data"
  as=(runuser -u postgres --)
fi
if [[ ! -f "$data/PG_VERSION" ]]; then
  say "initialising a private PostgreSQL in .pgdata"
  "${as[@]}" "$bin/initdb" -D "$data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >&2
fi
say "starting the private PostgreSQL on 127.0.0.1:$port"
"${as[@]}" "$bin/pg_ctl" -D "$data" -l "$data/server.log" -w -o "-p $port -k $data -c listen_addresses=127.0.0.1" start >&2
ensure_db "$port"
