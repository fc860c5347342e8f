#!/bin/bash
# The warm path of `skiff run` on a host with a site policy (RESULTS.md, "Start-up: one JVM on the warm path",
# subsection "with a site policy"). Run as root from the repository root after `mvn -B -q -DskipTests package`;
# the measurements run as skiffuser.
#   bench/warm-policy.sh [RUNS] [BEFORE_HOME]   RUNS: hyperfine runs (default 20); BEFORE_HOME: a checkout of the
#   build before (its bin/skiff and target/), whose run takes the full path wherever root-owned policy exists.
# One hyperfine run, side by side: with a root-owned SKIFF_SITE_DIR (site.toml with binds, env and a module, a
# hooks.d file, a CDI spec) and the user's config.toml: this build's warm start (the policy from the run record),
# this build's full path (SKIFF_WARM=off), the build before (BEFORE_HOME) with the same policy, and this build's warm
# start without any policy file. Each row has an image name of its own (the same image), so each keeps its record.
set -euo pipefail
runs=${1:-20}
before=${2:-}
here=$(cd "$(dirname "$0")/.." && pwd)
bash "$here/ci/aot.sh"
user=skiffuser
skiff=$here/bin/skiff
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
work=$(mktemp -d /tmp/skiff-bench-policy.XXXXXX)
chmod 755 "$work"
trap 'sleep 3; rm -rf "$work" 2>/dev/null || true' EXIT
store=$work/storage xdg=$work/xdg out=$work/out site=$work/site cfg=$work/cfg noconf=$work/noconf
mkdir -p "$store" "$xdg" "$out" "$site/hooks.d" "$site/cdi" "$cfg/skiff" "$noconf"
chown $user: "$out"

bb=$work/tree-bb
mkdir -p "$bb"/{bin,etc,tmp,root,proc,sys,dev,home}
cp /bin/busybox "$bb/bin/"
for c in sh true ls cat sleep; do ln -s busybox "$bb/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bb/etc/passwd"; echo 'root:x:0:' > "$bb/etc/group"
touch "$bb/etc/hosts" "$bb/etc/resolv.conf"
tar --numeric-owner -C "$bb" -cf "$work/bb.tar" .
umoci init --layout "$work/lay" >/dev/null
umoci new --image "$work/lay:latest"
umoci raw add-layer --image "$work/lay:latest" "$work/bb.tar"
umoci config --image "$work/lay:latest" --config.cmd /bin/sh
umoci init --layout "$store/oci"
for n in pol full before nopol; do skopeo copy --quiet "oci:$work/lay:latest" "oci:$store/oci:docker.io/library/$n:latest"; done
chown -R $user: "$store" "$xdg" "$cfg" "$noconf"
chmod 700 "$xdg"

cat > "$site/site.toml" <<EOF
[binds]
deny = ["/proc", "/sys", "/dev", "/boot", "/root", "/etc/shadow", "/etc/ssh", "/etc/skiff", "/var/spool"]
[hooks]
dirs = ["$site/hooks.d"]
[cdi]
spec_dirs = ["$site/cdi"]
[[mounts]]
source = "/usr/share/zoneinfo"
destination = "/usr/share/zoneinfo"
optional = true
[env]
set = { SITE_CLUSTER = "bench", OMPI_MCA_btl = "^openib" }
prepend = { PATH = "/opt/site/bin" }
[modules.tools]
description = "site tools"
env = { set = { TOOLS = "on" } }
EOF
cat > "$site/hooks.d/10-gpu.json" <<EOF
{"version": "1.0.0", "hook": {"path": "/usr/bin/true"}, "when": {"annotations": {"^com\\\\.example\\\\.gpu\$": "^yes\$"}}, "stages": ["createRuntime"]}
EOF
cat > "$site/cdi/vendor.json" <<EOF
{"cdiVersion": "0.6.0", "kind": "example.com/dev", "devices": [{"name": "one", "containerEdits": {"env": ["DEV=one"]}}]}
EOF
printf '[run]\nenv = { set = { EDITOR = "vi" } }\n' > "$cfg/skiff/config.toml"
chown -R $user: "$cfg"

as_user() { runuser -u $user -- env HOME=/home/$user USER=$user SKIFF_STORAGE="$store" XDG_RUNTIME_DIR="$xdg" SKIFF_MOUNT_IDLE=600 "$@"; }
pol=(env SKIFF_SITE_DIR="$site" XDG_CONFIG_HOME="$cfg")
cmds=("${pol[*]} $skiff run pol /bin/true" "${pol[*]} SKIFF_WARM=off $skiff run full /bin/true")
names=("warm, site policy + config.toml" "full path (SKIFF_WARM=off), same policy")
if [ -n "$before" ]; then
  cmds+=("${pol[*]} $before/bin/skiff run before /bin/true"); names+=("build before (${BEFORE_LABEL:-$(git -C "$before" rev-parse --short HEAD)}), same policy")
fi
cmds+=("env XDG_CONFIG_HOME=$noconf $skiff run nopol /bin/true"); names+=("warm, no policy file")
# each name once the full way (converts, mounts, writes its record), then once more (index.json may have changed
# within the second of the first)
for c in "${cmds[@]}"; do as_user $c; as_user $c; done
echo "## warm start with a site policy: $(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$here" rev-parse --short HEAD), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for row in "pol:${pol[*]}" "nopol:env XDG_CONFIG_HOME=$noconf"; do
  as_user env JAVA_TOOL_OPTIONS=-Xlog:class+load=info ${row#*:} $skiff run ${row%%:*} /bin/true > "$out/classes.log" 2>&1 || true
  echo "${row%%:*}: $(grep -c 'skiff.cli.WarmRun ' "$out/classes.log") WarmRun load (the warm path), $(grep -c ' com.fasterxml\| picocli\.' "$out/classes.log") Jackson/picocli classes, $(grep -c 'source: shared objects file' "$out/classes.log") classes from the AOT cache, $(grep -c 'source: jar\|source: file:' "$out/classes.log") from the jar"
done
as_user hyperfine -N --warmup 3 --runs "$runs" --export-json "$out/policy.json" "${cmds[@]}" >/dev/null 2>&1
python3 - "$out/policy.json" "${names[@]}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
names = sys.argv[2:]
base = r[0]["median"]
print("| run (`skiff run NAME /bin/true`) | median wall ms | mean CPU ms (user+sys) | × warm with policy |\n|---|---:|---:|---:|")
for x, n in zip(r, names):
    print(f"| {n} | {x['median']*1000:.1f} | {(x['user']+x['system'])*1000:.0f} | {x['median']/base:.2f} |")
EOF
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
