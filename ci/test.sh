#!/usr/bin/env bash
# The whole test suite: unit tests, then integration tests against real components (a registry on
# 127.0.0.1, squashfuse, the kernel's squashfs, util-linux unshare, a one-node Slurm with OpenMPI and MPICH) with skiff run as an ordinary user.
# Run as root (CI does): it installs packages and creates the test user first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" != 0 ]; then echo "ci/test.sh: run as root (it installs packages and creates the test user)" >&2; exit 1; fi
bash ci/setup.sh
export JAVA_HOME=${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}
[ -x "$JAVA_HOME/bin/java" ] || JAVA_HOME=$(ls -d /usr/lib/jvm/*25* | head -1)
# The test user must be able to reach bin/skiff and the jar.
chmod o+rx . bin 2>/dev/null || true
# Package and build both AOT caches (ci/aot.sh) before the ITs, so they run the launcher users get. verify
# then re-packages, but maven-jar-plugin leaves an unchanged jar alone, so the caches stay newer than it.
mvn -B -ntp -DskipTests package
bash ci/aot.sh
# The MPI tests submit jobs to a one-node Slurm on loopback; stop it again if this run started it.
if ! bash ci/slurm.sh status >/dev/null 2>&1; then
  bash ci/slurm.sh up
  trap 'bash ci/slurm.sh down' EXIT
fi
mvn -B -ntp verify "$@"
