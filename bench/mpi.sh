#!/usr/bin/env bash
# Figures for MPI under Slurm (RESULTS.md, section "MPI under Slurm"). Run as root from the repository root after
# `mvn -B -q -DskipTests package`; every measurement runs as the unprivileged user skiffuser on ci/slurm.sh's
# one-node cluster, with the OpenMPI image of ci/mpi-images.sh and the very same binaries built for the host.
#   bench/mpi.sh [RUNS]      RUNS: interleaved rounds per comparison (default 5)
# 1. ping-pong between two ranks (srun --mpi=pmix -n 2): latency at 8 B and bandwidth at 16 MiB, host vs skiff
# 2. srun --mpi=pmix -n 8 of the hello, end to end: host binary, skiff (one container per node and step), skiff
#    --no-join (a container per rank), ch-run --join on the SquashFS file skiff runs from
# 3. where a skiff rank's start goes (SKIFF_TRACE=1 points and the hello's own clock)
# 4. memory on the node while 8 ranks sleep: payload and everything else of the step, host vs skiff
set -euo pipefail
runs=${1:-5}
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
skiff=$here/bin/skiff
user=skiffuser
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -n "${SKIP_AOT:-}" ] || bash ci/aot.sh >/dev/null
bash ci/slurm.sh up
. "${SKIFF_SLURM_DIR:-/var/lib/skiff-slurm}/env"
images=/var/tmp/skiff-bench-mpi-images
bash ci/mpi-images.sh "$images"
work=$(mktemp -d /tmp/skiff-bench-mpi.XXXXXX)
chmod 755 "$work"
trap 'sleep 2; rm -rf "$work" 2>/dev/null || true' EXIT
store=$work/storage xdg=$work/xdg out=$work/out
mkdir -p "$xdg" "$out"
umoci init --layout "$store/oci" >/dev/null
skopeo copy --quiet "oci:$images/layout:openmpi" "oci:$store/oci:docker.io/library/openmpi:latest"
chown -R $user: "$store" "$xdg" "$out"
chmod 700 "$xdg"
as_user() {
  runuser -u $user -- env HOME=/home/$user USER=$user SLURM_CONF="$SLURM_CONF" SKIFF_STORAGE="$store" \
    XDG_RUNTIME_DIR="$xdg" "$@"
}
as_user "$skiff" run openmpi true # converts to SquashFS once
hex=$(python3 -c "import json; i=json.load(open('$store/oci/index.json')); print(i['manifests'][0]['digest'].split(':')[1])")
sqfs=$store/sqfs/$hex.sqfs
[ -f "$sqfs" ] || { echo "bench/mpi.sh: no SquashFS at $sqfs" >&2; exit 1; }
hb=$images/host/openmpi
ms() { echo $(($(date +%s%N) / 1000000)); }
med() { python3 -c 'import statistics,sys; v=[float(x) for x in sys.stdin.read().split()]; print("%.*f" % (int(sys.argv[1]), statistics.median(v)) if v else "n/a")' "${1:-0}"; }

echo "## MPI under Slurm: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OpenMPI $(dpkg-query -W -f='${Version}' libopenmpi3), Slurm $(dpkg-query -W -f='${Version}' slurmd), $runs rounds, interleaved"

# 1. ping-pong
for i in $(seq "$runs"); do
  as_user srun --mpi=pmix -n 2 "$hb/mpi_pingpong" >"$out/pp.host.$i" 2>/dev/null
  as_user srun --mpi=pmix -n 2 "$skiff" run openmpi mpi_pingpong >"$out/pp.skiff.$i" 2>/dev/null
done
echo "### ping-pong, 2 ranks on one node (median of $runs runs, each itself a median)"
echo "| | latency 8 B (us) | bandwidth 16 MiB (MB/s) | bandwidth 1 MiB (MB/s) |"
echo "|---|---:|---:|---:|"
for m in host skiff; do
  lat=$(cat "$out"/pp.$m.* | awk '/^latency bytes=8 /{sub("usec=","",$3); print $3}' | med 3)
  bw=$(cat "$out"/pp.$m.* | awk '/^bandwidth bytes=16777216 /{sub("mbps=","",$3); print $3}' | med 0)
  bw1=$(cat "$out"/pp.$m.* | awk '/^bandwidth bytes=1048576 /{sub("mbps=","",$3); print $3}' | med 0)
  echo "| $m | $lat | $bw | $bw1 |"
done

# 2. srun -n 8 end to end
n=8
: >"$out/e2e"
for i in $(seq "$runs"); do
  for m in host skiff nojoin chrun; do
    case $m in
      host) cmd=("$hb/mpi_hello") ;;
      skiff) cmd=("$skiff" run openmpi mpi_hello) ;;
      nojoin) cmd=(env OMPI_MCA_btl_vader_single_copy_mechanism=none "$skiff" run --no-join openmpi mpi_hello) ;;
      chrun) cmd=(ch-run --join "$sqfs" -- /usr/local/bin/mpi_hello) ;;
    esac
    t0=$(ms)
    if as_user srun --mpi=pmix -n $n "${cmd[@]}" >"$out/e2e.$m.$i" 2>"$out/e2e.$m.$i.err" \
        && grep -q "hello ok size=$n" "$out/e2e.$m.$i"; then
      echo "$m $(($(ms) - t0))" >>"$out/e2e"
    else
      echo "bench/mpi.sh: $m failed:" >&2; tail -5 "$out/e2e.$m.$i.err" >&2
    fi
  done
done
echo "### srun --mpi=pmix -n $n of the MPI hello, end to end (wall ms, median of $runs)"
echo "| | median | min |"
echo "|---|---:|---:|"
for m in host skiff nojoin chrun; do
  echo "| $m | $(awk -v m=$m '$1 == m {print $2}' "$out/e2e" | med 0) | $(awk -v m=$m '$1 == m {print $2}' "$out/e2e" | sort -n | head -1) |"
done

# 3. where a rank's start goes: srun start -> JVM start -> registered -> container ready -> exec -> main -> MPI_Init done
: >"$out/trace"
for i in $(seq "$runs"); do
  t0=$(ms)
  as_user env SKIFF_TRACE=1 srun --mpi=pmix -n $n "$skiff" run openmpi mpi_hello >"$out/tr.$i" 2>"$out/tr.$i.err"
  t1=$(ms)
  python3 - "$t0" "$t1" "$out/tr.$i" "$out/tr.$i.err" >>"$out/trace" <<'EOF'
import re, sys
t0, t1 = int(sys.argv[1]), int(sys.argv[2])
ranks = {}
for line in open(sys.argv[4]):
    m = re.match(r"skiff-trace: pid (\d+) at (\d+) ms (.*)", line)
    if not m:
        continue
    r = ranks.setdefault(m.group(1), {})
    what = m.group(3)
    if what.startswith("join: registered"):
        r["reg"] = int(m.group(2))
        r["jvm"] = int(re.search(r"JVM started at (\d+)", what).group(1))
    elif what.startswith("join: group complete"):
        r["ready"] = int(m.group(2))
    elif what.startswith("join: exec"):
        r["exec"] = int(m.group(2))
for line in open(sys.argv[3]):
    m = re.match(r"hello rank=\d+ .*pid=(\d+) main_us=(\d+) init_ms=([\d.]+)", line)
    if m and m.group(1) in ranks:
        ranks[m.group(1)]["main"] = int(m.group(2)) / 1000
        ranks[m.group(1)]["init"] = float(m.group(3))
for r in ranks.values():
    if len(r) == 7:
        print(r["jvm"] - t0, r["reg"] - r["jvm"], r["ready"] - r["reg"], r["exec"] - r["ready"],
              round(r["main"] - r["exec"]), round(r["init"]), t1 - t0)
EOF
done
echo "### where a skiff rank's time goes (ms, median over $runs runs x $n ranks; SKIFF_TRACE=1 and the hello's clock)"
echo "| srun start to JVM start | JVM start to registered | join wait (container ready) | ready to exec | exec to main (nsenter, ld.so) | MPI_Init | srun total |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
row="|"
for c in 1 2 3 4 5 6 7; do row="$row $(awk -v c=$c '{print $c}' "$out/trace" | med 0) |"; done
echo "$row"

# 4. memory while 8 ranks run: every process of the step (found by SLURM_JOB_ID in its environment), by command
mem() { # label, command...
  local label=$1; shift
  local name=skiff-bench-mem-$label-$$
  as_user srun -J "$name" -n $n "$@" sh -c 'echo up; exec sleep 8' >"$out/mem.$label" 2>&1 &
  local pid=$! id=
  for _ in $(seq 600); do [ "$(grep -c '^up' "$out/mem.$label" 2>/dev/null)" -ge $n ] && break; sleep 0.1; done
  sleep 1
  id=$(squeue -h -n "$name" -o %i)
  python3 - "$id" "$label" "$store" <<'EOF'
import os, sys
job, label, store = sys.argv[1], sys.argv[2], sys.argv[3]
by = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        env = open(f"/proc/{p}/environ", "rb").read().split(b"\0")
        comm = open(f"/proc/{p}/comm").read().strip()
        # The image's FUSE mount is shared by every run of the user on the node: counted whichever job started it.
        shared = comm.startswith("squashfuse") and store.encode() in open(f"/proc/{p}/cmdline", "rb").read()
        if f"SLURM_JOB_ID={job}".encode() not in env and not shared:
            continue
        roll = dict(l.split(":", 1) for l in open(f"/proc/{p}/smaps_rollup").read().splitlines()[1:])
        rss, pss = int(roll["Rss"].split()[0]), int(roll["Pss"].split()[0])
    except (OSError, KeyError, ValueError):
        continue
    c = by.setdefault(comm, [0, 0, 0])
    c[0] += 1; c[1] += rss; c[2] += pss
for comm, (k, rss, pss) in sorted(by.items()):
    print(f"| {label} | {comm} | {k} | {rss} | {pss} |")
EOF
  wait "$pid" || true
}
echo "### memory while $n ranks run \`sleep\` (every process carrying the job's SLURM_JOB_ID, KiB)"
echo "| | command | processes | RSS total | PSS total |"
echo "|---|---|---:|---:|---:|"
mem host
mem skiff "$skiff" run openmpi
