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
  bin/skiff >/dev/null 2>&1 || true
if [ -f "$aot.tmp" ]; then
  mv -f "$aot.tmp" "$aot"
else
  echo "ci/aot.sh: no AOT cache written; skiff still works, it just starts slower" >&2
fi
# skiff run's second JVM (stage 2) has its own cache: every build that makes the CLI's makes this one too.
bash ci/aot-stage2.sh >/dev/null 2>&1 || true
[ -f target/skiff-stage2.aot ] || echo "ci/aot.sh: no stage 2 AOT cache written; skiff run still works, it just starts slower" >&2
