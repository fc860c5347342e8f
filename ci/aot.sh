#!/usr/bin/env bash
# Records an AOT cache (JEP 483/514) for bin/skiff from a short training run: class loading and linking
# of picocli, Jackson and skiff's own classes then come from the cache at every start.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -f target/skiff.aot
train=$(mktemp -d)
SKIFF_STORAGE=$train SKIFF_AOT_TRAIN=1 JAVA_TOOL_OPTIONS="-XX:AOTCacheOutput=target/skiff.aot -Xlog:aot=off -Xlog:cds=off" \
  bin/skiff images >/dev/null 2>&1 || true
rm -rf "$train"
[ -f target/skiff.aot ] || echo "ci/aot.sh: no AOT cache written; skiff still works, it just starts slower" >&2
