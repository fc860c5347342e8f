#!/usr/bin/env bash
# Records an AOT cache (JEP 483/514) for bin/skiff from one training run, skiff.cli.AotTraining, which
# goes through the common commands (--version, help, images, inspect, tag, save, load, rmi, prune, error
# paths) in one JVM against a throw-away store: the classes they load and link then come from the cache
# at every start. bin/skiff ignores the cache once the jar is newer, so re-run this after every build.
set -euo pipefail
cd "$(dirname "$0")/.."
aot=$PWD/target/skiff.aot
rm -f "$aot" "$aot.tmp" "$aot.tmp.config"
# The cache is written beside the final name and renamed, so a concurrent bin/skiff never maps half a file.
SKIFF_AOT_TRAIN=1 JAVA_TOOL_OPTIONS="-XX:AOTCacheOutput=$aot.tmp -Xlog:aot=off -Xlog:cds=off" \
  bin/skiff >/dev/null 2>&1 || echo "ci/aot.sh: the training run failed: the cache may miss some commands' classes" >&2
if [ -f "$aot.tmp" ]; then
  mv -f "$aot.tmp" "$aot"
else
  echo "ci/aot.sh: no AOT cache written; skiff still works, it just starts slower" >&2
fi
# 'skiff run' gets a cache of its own, recorded from run alone (AotTraining --run-only): bin/skiff picks it for
# run. Its store is filled and converted by ordinary JVMs first, so their classes stay out of it.
run_aot=$PWD/target/skiff-run.aot
rm -f "$run_aot" "$run_aot.tmp" "$run_aot.tmp.config"
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if SKIFF_AOT_TRAIN=1 bin/skiff --write-archive "$scratch/image.tar" >/dev/null 2>&1 \
   && bin/skiff --storage "$scratch/storage" load -q -i "$scratch/image.tar" >/dev/null 2>&1 \
   && bin/skiff --storage "$scratch/storage" convert --format dir training:1 >/dev/null 2>&1; then
  SKIFF_AOT_TRAIN=1 JAVA_TOOL_OPTIONS="-XX:AOTCacheOutput=$run_aot.tmp -Xlog:aot=off -Xlog:cds=off" \
    bin/skiff --run-only "$scratch/storage" >/dev/null 2>&1 || echo "ci/aot.sh: the run training failed" >&2
fi
if [ -f "$run_aot.tmp" ]; then
  mv -f "$run_aot.tmp" "$run_aot"
else
  echo "ci/aot.sh: no AOT cache for skiff run written; it uses the general one" >&2
fi
# skiff run's second JVM (stage 2) has its own cache: every build that makes the CLI's makes this one too.
bash ci/aot-stage2.sh >/dev/null 2>&1 || true
[ -f target/skiff-stage2.aot ] || echo "ci/aot.sh: no stage 2 AOT cache written; skiff run still works, it just starts slower" >&2
# The warm path of skiff run (bin/skiff execs unshare, then one JVM: skiff.cli.WarmRun) has a cache of its own,
# from a training entry point of its own (skiff.cli.WarmTraining) against the store trained above. Flags and class
# path must be those bin/skiff gives WarmRun, or the JVM ignores the cache.
warm_aot=$PWD/target/skiff-warm.aot
rm -f "$warm_aot" "$warm_aot.tmp" "$warm_aot.tmp.config"
# With a site policy and a user config.toml, as on a cluster: the warm JVM reads them from the run record
# (PolicySnapshot), and the training then caches the classes of that reading and of the policy's transforms. The site
# directory counts only when root owns it (TrustedFiles), as where ci/install.sh runs as root; otherwise it is ignored.
mkdir -p "$scratch/site/hooks.d" "$scratch/site/cdi" "$scratch/config/skiff"
cat > "$scratch/site/site.toml" <<EOF
[binds]
deny = ["/proc", "/sys", "/dev", "/root", "/etc/shadow"]
[hooks]
dirs = ["$scratch/site/hooks.d"]
[cdi]
spec_dirs = ["$scratch/site/cdi"]
[env]
set = { SITE = "1" }
[modules.tools]
description = "training"
env = { set = { TOOLS = "on" } }
EOF
echo '{"version": "1.0.0", "hook": {"path": "/bin/true"}, "when": {"commands": ["^/nonexistent$"]}, "stages": ["createRuntime"]}' \
  > "$scratch/site/hooks.d/10-never.json"
printf '[run]\nenv = { set = { MINE = "1" } }\n' > "$scratch/config/skiff/config.toml"
export SKIFF_SITE_DIR=$scratch/site XDG_CONFIG_HOME=$scratch/config
if [ -d "$scratch/storage/dir" ] && "${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java" -cp "$PWD/target/skiff.jar" \
     skiff.cli.WarmTraining --record "$scratch/storage" >/dev/null 2>&1; then
  "${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java" -XX:AOTCacheOutput="$warm_aot.tmp" -Xlog:aot=off -Xlog:cds=off \
    -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss2m -Djdk.lang.Process.launchMechanism=FORK \
    -Djdk.reflect.useNativeAccessorOnly=true \
    --enable-native-access=ALL-UNNAMED -cp "$PWD/target/skiff.jar" skiff.cli.WarmTraining "$scratch/storage" >/dev/null 2>&1 || echo "ci/aot.sh: the warm run training failed" >&2
fi
if [ -f "$warm_aot.tmp" ]; then
  mv -f "$warm_aot.tmp" "$warm_aot"
else
  echo "ci/aot.sh: no AOT cache for skiff run's warm path written; it still works, it just starts slower" >&2
fi
