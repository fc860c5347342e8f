#!/bin/bash
# Figures for the warm path of `skiff run` (issue #12; RESULTS.md, section "Start-up: one JVM on the warm path").
# Run as root from the repository root after `mvn -B -q -DskipTests package`; the measurements run as skiffuser.
#   bench/warm.sh [RUNS]     RUNS: hyperfine runs per command (default 20)
# Two images, each SquashFS with gzip (so skiff's own FUSE server serves it) and a directory: the busybox image of
# bench/run.sh, and a Debian image made of this host's Debian 12 packages (base-files, coreutils, bash, their
# dependencies: ci/debian-tree.sh), whose /bin/true is coreutils' dynamically linked one.
# Rows side by side in one hyperfine run: skiff warm (SquashFS, directory), skiff's full path (SKIFF_WARM=off:
# the two JVMs of before), ch-run on the same SquashFS and directory, podman (runc). Then the cold start, the
# time breakdown, peak RSS, what stays resident with --pid, and 50 concurrent starts against 50 ch-run.
set -euo pipefail
runs=${1:-20}
bash "$(dirname "$0")/../ci/aot.sh"
user=skiffuser
here=$(cd "$(dirname "$0")/.." && pwd)
skiff=$here/bin/skiff
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
work=$(mktemp -d /tmp/skiff-bench-warm.XXXXXX)
chmod 755 "$work"
trap 'sleep 3; rm -rf "$work" 2>/dev/null || true' EXIT
store=$work/storage
xdg=$work/xdg
out=$work/out
mkdir -p "$store" "$xdg" "$out"
chown $user: "$out"
as_user() { runuser -u $user -- env HOME=/home/$user USER=$user SKIFF_STORAGE="$store" XDG_RUNTIME_DIR="$xdg" "$@"; }

# The busybox image only, SquashFS with gzip: skiff's own FUSE server serves it (squashfuse would serve lz4).
IMAGES_SQFS_COMP=gzip IMAGES_PY=0
. "$here/bench/images.sh"
. "$here/ci/debian-tree.sh"
tree "$work/tree-debian" base-files coreutils bash libc-bin >/dev/null
hexdeb=$(install_image debian "$work/tree-debian")
chown -R $user: "$store/oci" "$store/sqfs" "$xdg"
chown $user: "$store" "$store/dir"
chmod 700 "$xdg"

echo "## skiff run warm path: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$here" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run bb /bin/true                         # full path: mounts, writes the record
as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run --rootfs-format dir bb /bin/true
as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run debian /bin/true
as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run --rootfs-format dir debian /bin/true
echo "### warm start of /bin/true (hyperfine, $runs runs, median)"
cmds=()
for img in bb debian; do
  hex=$hexbb; [ $img = debian ] && hex=$hexdeb
  cmds+=("$skiff run $img /bin/true" "$skiff run --rootfs-format dir $img /bin/true"
         "env SKIFF_WARM=off $skiff run $img /bin/true"
         "ch-run $store/sqfs/$hex.sqfs -- /bin/true" "ch-run $store/dir/$hex -- /bin/true")
done
podman_ok=no
chmod -R a+rX "$work/lay-bb" "$work/lay-debian"
if as_user skopeo copy --quiet "oci:$work/lay-bb:latest" containers-storage:localhost/skiffbench-bb:latest >"$out/podman.log" 2>&1 \
   && as_user skopeo copy --quiet "oci:$work/lay-debian:latest" containers-storage:localhost/skiffbench-debian:latest >>"$out/podman.log" 2>&1 \
   && as_user podman --runtime runc run --rm --network=host localhost/skiffbench-bb:latest /bin/true >>"$out/podman.log" 2>&1; then
  podman_ok=yes
  cmds+=("podman --runtime runc run --rm --network=host localhost/skiffbench-bb:latest /bin/true"
         "podman --runtime runc run --rm --network=host localhost/skiffbench-debian:latest /bin/true")
fi
as_user env SKIFF_MOUNT_IDLE=600 hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/start.json" "${cmds[@]}" >/dev/null 2>&1
python3 - "$out/start.json" "$hexbb" "$hexdeb" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
hexes = {"bb": sys.argv[2], "debian": sys.argv[3]}
def image(cmd):
    for name, h in hexes.items():
        if h in cmd or f" {name} " in cmd or f"skiffbench-{name}:" in cmd:
            return name
med = {x["command"]: x["median"] for x in r}
cpu = {x["command"]: x["user"] + x["system"] for x in r}
print("| image | command | median wall ms | mean CPU ms (user+sys) | wall × ch-run sqfs | wall × podman |\n|---|---|---:|---:|---:|---:|")
for k, v in med.items():
    img = image(k)
    ch = next(w for c, w in med.items() if c.startswith("ch-run") and ".sqfs" in c and image(c) == img)
    pod = next((w for c, w in med.items() if c.startswith("podman") and image(c) == img), None)
    name = k.replace(sys.argv[1].rsplit("/out/", 1)[0], "…")
    for h in hexes.values():
        name = name.replace(h, "HEX")
    print(f"| {img} | `{name}` | {v*1000:.1f} | {cpu[k]*1000:.0f} | {v/ch:.2f} | " + (f"{v/pod:.2f} |" if pod else "– |"))
EOF
[ $podman_ok = yes ] || { echo; echo "podman: could not run here: $(tail -3 "$out/podman.log" | tr '\n' ' ')"; }

echo
echo "### cold start: first run after conversion, no mount yet (the reaper unmounts after 1 s idle; 5 runs)"
# The prepare step waits out the reaper, so every run mounts the image again.
as_user env SKIFF_MOUNT_IDLE=1 hyperfine -N --runs 5 --prepare "sleep 3" --export-json "$out/cold.json" \
  "$skiff run bb /bin/true" "env SKIFF_WARM=off $skiff run bb /bin/true" >/dev/null 2>&1
python3 -c "
import json,sys
for x in json.load(open('$out/cold.json'))['results']: print(f\"| \`{x['command'].replace('$here/','')}\` | {x['median']*1000:.0f} ms |\")"

echo
echo "### where the warm start's time goes (debian image, SquashFS; medians of $runs runs)"
# Untraced runs give the JVM's own phases (SKIFF_TRACE=1; its first mark carries the wall clock) between the
# driver's spawn and the exit; strace (seccomp-filtered, so only execve stops the tracee) gives the exec times
# of the single-threaded start of the chain, sh -> unshare -> java, in separate runs (tracing the JVM's threads
# would inflate everything after).
as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run debian /bin/true >/dev/null 2>&1
for i in $(seq "$runs"); do
  as_user env SKIFF_MOUNT_IDLE=600 strace -f --seccomp-bpf -ttt -e trace=execve -e signal=none \
    -o "$out/strace.$i" "$skiff" run debian /bin/true >/dev/null 2>&1 || true
done
as_user env SKIFF_MOUNT_IDLE=600 SKIFF_TRACE=1 python3 - "$out" "$runs" "$skiff" <<'EOF'
import re, statistics, subprocess, sys, time
out, runs, skiff = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rows = {}
def add(k, v): rows.setdefault(k, []).append(v)
for i in range(1, runs + 1):
    execs = []
    for line in open(f"{out}/strace.{i}"):
        m = re.match(r'(\d+)\s+(\d+\.\d+) execve\("([^"]+)"', line)
        if m and ("= 0" in line or "<unfinished" in line): execs.append((float(m.group(2)), m.group(3)))
    t_unshare = next(t for t, p in execs if p.endswith("/unshare"))
    t_java = next(t for t, p in execs if p.endswith("/java"))
    add("sh", t_unshare - execs[0][0])
    add("unshare", t_java - t_unshare)
for i in range(runs):
    t0 = time.time()
    r = subprocess.run([skiff, "run", "debian", "/bin/true"], stderr=subprocess.PIPE, text=True)
    t1 = time.time()
    marks = [l for l in r.stderr.splitlines() if l.startswith("skiff-trace:")]
    at = float(re.search(r" at (\d+)", marks[0]).group(1)) / 1e6
    add("to main", at - t0)
    for l in marks[1:]:
        m = re.match(r"skiff-trace: \+(\d+) ms (warm: [^;(]+)", l)
        if m: add("  " + m.group(2).strip(), float(m.group(1)) / 1000)
    add("after plan", t1 - at - sum(int(re.match(r"skiff-trace: \+(\d+)", l).group(1)) for l in marks) / 1000)
    add("total (untraced)", t1 - t0)
med = {k: statistics.median(v) * 1000 for k, v in rows.items()}
print("| phase | median ms |\n|---|---:|")
print(f"| bin/skiff (sh): its checks, up to exec unshare (strace) | {med.pop('sh'):.1f} |")
print(f"| unshare: namespaces, id maps, exec java (strace) | {med.pop('unshare'):.1f} |")
print(f"| spawn to WarmRun.main(): the two above and the JVM's creation | {med.pop('to main'):.1f} |")
after, total = med.pop("after plan"), med.pop("total (untraced)")
for k, v in med.items():
    print(f"| {k} | {v:.1f} |")
print(f"| mounts, pivot_root, privileges, execve, /bin/true and its exit | {after:.1f} |")
print(f"| total, spawn to exit | {total:.1f} |")
EOF
echo "unshare + /bin/true alone, and an empty JVM with the warm path's flags (-version):"
as_user hyperfine -N --warmup 3 --runs "$runs" --export-markdown "$out/parts.md" \
  "unshare --user --map-current-user --keep-caps --mount -- /bin/true" \
  "$JAVA_HOME/bin/java -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -version" >/dev/null 2>&1 || true
cat "$out/parts.md" 2>/dev/null || echo "(failed)"

echo
echo "### peak RSS of the exec chain up to the payload (/usr/bin/time -v)"
echo "warm: $(as_user env SKIFF_MOUNT_IDLE=600 /usr/bin/time -v "$skiff" run bb /bin/true 2>&1 | grep -E 'Maximum resident' | awk '{print $NF}') kB"
echo "full path (SKIFF_WARM=off): $(as_user env SKIFF_MOUNT_IDLE=600 SKIFF_WARM=off /usr/bin/time -v "$skiff" run bb /bin/true 2>&1 | grep -E 'Maximum resident' | awk '{print $NF}') kB"
echo "resident while a --pid payload runs (the CLI's JVM, which forwards signals, and the init's JVM):"
as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run --pid bb sleep 3 &
sleep 2
ps -u $user -o rss=,args= | grep -E "[j]ava .*(skiff.jar|Stage2)" | grep -v FuseMain | awk '{printf "  %d kB  %s\n", $1, substr($0, index($0,$2), 90)}'
wait

echo
echo "### 50 concurrent warm starts of one image (wall time, all must exit 0)"
for what in skiff skiff-full ch-run; do
  start=$(date +%s.%N)
  fails=0
  pids=()
  for i in $(seq 50); do
    case $what in
      skiff) as_user env SKIFF_MOUNT_IDLE=600 "$skiff" run bb /bin/true & ;;
      skiff-full) as_user env SKIFF_MOUNT_IDLE=600 SKIFF_WARM=off "$skiff" run bb /bin/true & ;;
      *) as_user ch-run "$store/sqfs/$hexbb.sqfs" -- /bin/true & ;;
    esac
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
  end=$(date +%s.%N)
  echo "| 50 × $what | $(python3 -c "print(f'{$end-$start:.2f}')") s | failures: $fails |"
done
