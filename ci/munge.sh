#!/usr/bin/env bash
# Starts Debian's munged (as the munge user, the system socket /run/munge/munge.socket.2) if it is not running,
# as ci/slurm.sh does before Slurm: the image gateway's tests authenticate callers with it. Idempotent; run as root.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "ci/munge.sh: run as root" >&2; exit 1; }
if [ -s /run/munge/munged.pid ] && kill -0 "$(cat /run/munge/munged.pid)" 2>/dev/null; then exit 0; fi
install -d -o munge -g munge -m 0755 /run/munge
# Debian's postinst makes the key; a machine without one gets a fresh one.
[ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create
runuser -u munge -- /usr/sbin/munged
for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && exit 0; sleep 0.1; done
echo "ci/munge.sh: munged did not create /run/munge/munge.socket.2" >&2
exit 1
