#!/usr/bin/env bash
# The whole test suite: unit tests, then integration tests against real components (a registry on
# 127.0.0.1, squashfuse, the kernel's squashfs, util-linux unshare) with skiff run as an ordinary user.
# Run as root (CI does): it installs packages and creates the test user first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "ci/test.sh: run as root (it installs packages and creates the test user)" >&2; exit 1; fi
bash ci/setup.sh
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$JAVA_HOME/bin/java" ] || JAVA_HOME=$(ls -d /usr/lib/jvm/*25* | head -1)
# The test user must be able to reach bin/skiff and the jar.
chmod o+rx . bin 2>/dev/null || true
mvn -B -ntp verify "$@"
