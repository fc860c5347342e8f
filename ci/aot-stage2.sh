#!/bin/sh
# AOT cache for skiff run's stage 2 (the JVM that builds the container and execs the payload): a training run
# that loads and links the launch path without touching namespaces. Flags and class path must be those the
# engine starts stage 2 with (skiff.engine.Stage2Command), or the JVM ignores the cache.
set -e
cd "$(dirname "$0")/.."
java_home=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
jar=$(pwd)/target/skiff.jar
rm -f target/skiff-stage2.aot
"$java_home/bin/java" -XX:AOTCacheOutput=target/skiff-stage2.aot -Xlog:aot=off -Xlog:cds=off \
  -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss1m --enable-native-access=ALL-UNNAMED \
  -cp "$jar" skiff.engine.Stage2 --train
[ -f target/skiff-stage2.aot ] || echo "ci/aot-stage2.sh: no AOT cache written; skiff run still works, stage 2 just starts slower" >&2
