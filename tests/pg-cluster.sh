#!/bin/sh
# tests/pg-cluster.sh — a throwaway PostgreSQL cluster for the tests:
#   tests/pg-cluster.sh start DIR   initdb + pg_ctl start in DIR (made by the
#                                   caller with mktemp -d, not inside another
#                                   private directory), listening only on
#                                   a Unix socket in DIR; prints DIR
#   tests/pg-cluster.sh stop DIR    stops it (the caller removes DIR)
#   tests/pg-cluster.sh restart DIR stops and starts it again (same data)
#   tests/pg-cluster.sh resume DIR  starts a stopped cluster again
# The server runs as the invoking user, or as "nobody" when that is root
# (PostgreSQL refuses to run as root); the database superuser is "dt4ecg",
# trust authentication on the socket only.  Exit 77 when PostgreSQL's server
# programs are not installed (Debian: postgresql).
set -u

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|restart DIR" >&2; exit 2; }

bin=${DT4ECG_PG_BIN:-}
if [ -z "$bin" ]; then
	if command -v pg_config >/dev/null 2>&1 && [ -x "$(pg_config --bindir)/initdb" ]; then
		bin=$(pg_config --bindir)
	else
		bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
	fi
fi
[ -n "$bin" ] && [ -x "$bin/initdb" ] || { echo "pg-cluster: no initdb (install postgresql)" >&2; exit 77; }

as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u nobody -- "$@"
	else
		"$@"
	fi
}

# $DT4ECG_PG_OPTS: more server options (say -c shared_preload_libraries=...)
OPTS="-k $dir -c listen_addresses='' -c fsync=off -c max_connections=200 ${DT4ECG_PG_OPTS:-}"

pgctl() {
	as_user "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w "$@"
}

case $cmd in
start)
	if [ "$(id -u)" -eq 0 ]; then
		chown nobody "$dir" || exit 99
	fi
	chmod 0700 "$dir"
	as_user "$bin/initdb" -D "$dir/data" -U dt4ecg --auth=trust -E UTF8 \
	    --no-sync >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 99; }
	pgctl -o "$OPTS" start >/dev/null || { cat "$dir/log" >&2; exit 99; }
	# the socket directory must be reachable by the tests' user
	chmod 0755 "$dir"
	echo "$dir"
	;;
stop)
	pgctl -m fast stop >/dev/null 2>&1
	;;
restart|resume)
	[ "$cmd" = restart ] && pgctl -m fast stop >/dev/null 2>&1
	pgctl -o "$OPTS" start >/dev/null || { cat "$dir/log" >&2; exit 99; }
	;;
*)
	echo "usage: $0 start|stop|restart|resume DIR" >&2
	exit 2
	;;
esac
