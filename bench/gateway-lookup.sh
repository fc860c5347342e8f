#!/usr/bin/env bash
# Gateway lookups under load: wrk with 50 connections on loopback against GET /api/v1/images/lookup?name=REF of a
# published image, the gateway's state in SQLite, then in PostgreSQL (Debian's server, started here as postgres).
#   bench/gateway-lookup.sh            # 10 s per database after a 3 s warm-up
#   SECONDS_RUN=20 bench/gateway-lookup.sh
#   DBS=sqlite ROWS="2:50 1:10" PIN=1 GCLOG=1 bench/gateway-lookup.sh
# DBS: which states to measure; ROWS: wrk THREADS:CONNECTIONS, one row each (same server, same warm-up);
# PIN=1: the gateway on CPU 0 and wrk on CPU 1 (taskset), so the load generator does not take the server's core;
# BINS="new=bin/skiff old=/tmp/old/bin/skiff": several builds, measured one after the other against each database;
# GCLOG=1: prints the gateway's GC pauses during the runs (-Xlog:gc), to tell collector pauses from CPU waits.
# Needs root (PostgreSQL runs as the postgres user), docker-registry, umoci, skopeo, wrk, a built target/.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${SECONDS_RUN:-10}
DBS=${DBS:-sqlite postgresql}
ROWS=${ROWS:-2:50}
BINS=${BINS:-skiff=bin/skiff}
srv=(); cli=()
if [ "${PIN:-0}" = 1 ]; then srv=(taskset -c 0); cli=(taskset -c 1); fi
work=$(mktemp -d "${TMPDIR:-/tmp}/skiff-bench-gw.XXXXXX")
chmod 755 "$work"
pids=()
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -d "$work/pg/data" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

port=$(freeport)
mkdir -p "$work/data"
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s, secret: bench}\n' \
  "$work/data" "$port" > "$work/registry.yml"
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
umoci init --layout "$work/img" >/dev/null && umoci new --image "$work/img:1" >/dev/null
mkdir -p "$work/tree" && head -c 100000 /dev/urandom > "$work/tree/file" && tar -C "$work/tree" -cf "$work/layer.tar" .
umoci raw add-layer --image "$work/img:1" "$work/layer.tar" >/dev/null
ref=127.0.0.1:$port/bench/lookup:1
skopeo copy --quiet --dest-tls-verify=false "oci:$work/img:1" "docker://$ref"

run() { # $1 label, $2 config file, $3 bin/skiff to run
  local out="$work/gw-$1.out"
  local jopts=
  [ "${GCLOG:-0}" = 1 ] && jopts="-Xlog:gc:file=$work/gc-$1.log"
  HOME=$work/home XDG_CONFIG_HOME=$work/home/.config JAVA_TOOL_OPTIONS=$jopts "${srv[@]}" "$3" gateway serve --config "$2" >"$out" 2>&1 &
  pids+=($!)
  local url=
  for _ in $(seq 300); do url=$(sed -n 's|.*listening on \(http://[0-9.:]*\)/api/v1.*|\1|p' "$out"); [ -n "$url" ] && break; sleep 0.1; done
  [ -n "$url" ] || { cat "$out" >&2; exit 1; }
  id=$(curl -fs -XPOST "$url/api/v1/pulls" -d "{\"reference\":\"$ref\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  for _ in $(seq 300); do curl -fs "$url/api/v1/pulls/$id" | grep -q '"state":"READY"' && break; sleep 0.1; done
  local u="$url/api/v1/images/lookup?name=$ref"
  curl -fs "$u" >/dev/null
  "${cli[@]}" wrk -t2 -c50 -d3s "$u" >/dev/null
  for row in $ROWS; do
    local t=${row%%:*} c=${row##*:}
    [ -f "$work/gc-$1.log" ] && : > "$work/gc-$1.log"
    echo "== $1: wrk -t$t -c$c -d${RUN}s --latency GET /api/v1/images/lookup${PIN:+ (PIN=$PIN)}; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    "${cli[@]}" wrk -t"$t" -c"$c" -d"${RUN}s" --latency "$u" | grep -E "requests in|Requests/sec|Non-2xx|^ +(50|90|99)%|Latency "
    if [ -f "$work/gc-$1.log" ]; then
      # -Xlog:gc lines end in "... 12M->3M(64M) 1.234ms": count the pauses and sum them over the run
      awk '/Pause/ {n++; v=$NF; sub("ms","",v); v+=0; s+=v; if (v>m) m=v; for (i = 1; i <= NF; i++) if ($i ~ /M->/) {split($i, a, "->"); c+=a[1]-a[2]}}
        END {printf "   GC pauses: %d, total %.1f ms, longest %.1f ms; %d MB collected\n", n, s, m, c} /Pause/ && $NF+0 > 20 {print "   " $0}' "$work/gc-$1.log"
    fi
  done
  echo "   load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
for db in $DBS; do
  case $db in
    sqlite)
      printf 'listen = "127.0.0.1:0"\nshared = "%s"\n' "$work/shared-sqlite" > "$work/sqlite.toml"
      for b in $BINS; do rm -rf "$work/shared-sqlite"; run "sqlite-${b%%=*}" "$work/sqlite.toml" "${b#*=}"; done ;;
    postgresql)
      mkdir -p "$work/pg" && chown postgres: "$work/pg"
      pgport=$(freeport)
      runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -A trust -U skiff >/dev/null
      runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w -o "-p $pgport -k $work/pg -c listen_addresses=127.0.0.1" start >/dev/null
      runuser -u postgres -- "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U skiff skiff
      printf 'listen = "127.0.0.1:0"\nshared = "%s"\ndatabase = "jdbc:postgresql://127.0.0.1:%s/skiff"\ndatabase_user = "skiff"\n' \
        "$work/shared-pg" "$pgport" > "$work/pg.toml"
      for b in $BINS; do PGOPTIONS="-c client_min_messages=warning" runuser -u postgres -- "$pgbin/psql" -q -h 127.0.0.1 -p "$pgport" -U skiff -c "drop schema public cascade; create schema public" skiff; rm -rf "$work/shared-pg"; run "postgresql-${b%%=*}" "$work/pg.toml" "${b#*=}"; done ;;
  esac
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
