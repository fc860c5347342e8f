#!/usr/bin/env bash
# Installs what skiff needs (see ci/setup.sh) and builds bin/skiff's jar and its start-up cache.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" = 0 ]; then bash ci/setup.sh; fi
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$JAVA_HOME/bin/java" ] || JAVA_HOME=$(ls -d /usr/lib/jvm/*25* | head -1)
mvn -B -q -DskipTests package
bash ci/aot.sh
