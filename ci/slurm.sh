#!/usr/bin/env bash
# A one-node Slurm cluster on loopback for the MPI tests and benchmarks: munged, slurmctld and slurmd started
# directly (CI machines have no systemd), configuration and state under one directory.
#
#   ci/slurm.sh up      start (idempotent) and wait until the node is idle
#   ci/slurm.sh down    cancel all jobs, stop the daemons
#   ci/slurm.sh status  print whether it runs and the node state; exit 0 only when the node takes jobs
#
# Clients need SLURM_CONF: `. "${SKIFF_SLURM_DIR:-/var/lib/skiff-slurm}/env"` exports it.
# The node declares 8 CPUs whatever the machine has (SlurmdParameters=config_overrides), so `srun -n 8`
# runs on a 2-core CI machine. Run as root.
set -euo pipefail

dir=${SKIFF_SLURM_DIR:-/var/lib/skiff-slurm}
conf=$dir/etc/slurm.conf
node=$(hostname -s)

die() { echo "ci/slurm.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (it starts munged, slurmctld and slurmd)"
for b in munged slurmctld slurmd sinfo; do
  command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] || die "$b is missing; run ci/setup.sh"
done

alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  # State survives down/up so job ids keep increasing: skiff keys per-job state on SLURM_JOB_ID.
  install -d -m 0755 "$dir" "$dir/etc" "$dir/run" "$dir/spool"
  install -d -o slurm -g slurm -m 0755 "$dir/state" "$dir/log"
  # slurmstepd makes the per-step PMIx directory (PMIX_SERVER_TMPDIR) under SlurmdSpoolDir, owned by the
  # job's user; the ranks must reach it, so the spool stays traversable.
  install -d -m 0755 "$dir/spool/slurmd"
  local tmp
  tmp=$(mktemp "$conf.XXXXXX")
  cat >"$tmp" <<EOF
ClusterName=skiffci
SlurmctldHost=$node(127.0.0.1)
SlurmUser=slurm
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool/slurmd
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=60
MailProg=/bin/true
NodeName=$node NodeAddr=127.0.0.1 CPUs=8 Boards=1 SocketsPerBoard=1 CoresPerSocket=8 ThreadsPerCore=1 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  chmod 0644 "$tmp"
  mv -f "$tmp" "$conf"
  printf 'export SLURM_CONF=%s\n' "$conf" >"$dir/env.tmp"
  chmod 0644 "$dir/env.tmp"
  mv -f "$dir/env.tmp" "$dir/env"
}

node_state() { SLURM_CONF=$conf sinfo -h -n "$node" -o %T 2>/dev/null | head -1; }

up() {
  write_conf
  export SLURM_CONF=$conf
  if ! alive /run/munge/munged.pid; then
    install -d -o munge -g munge -m 0755 /run/munge
    # Debian's postinst makes the key; a machine without one gets a fresh one.
    [ -s /etc/munge/munge.key ] || runuser -u munge -- /usr/sbin/mungekey --create
    runuser -u munge -- /usr/sbin/munged
  fi
  alive "$dir/run/slurmctld.pid" || /usr/sbin/slurmctld -f "$conf"
  alive "$dir/run/slurmd.pid" || /usr/sbin/slurmd -f "$conf"
  local s
  for _ in $(seq 300); do
    s=$(node_state)
    case $s in
      idle|mixed|allocated|completing) return 0 ;;
      drain*|down*)
        # A node the controller remembers as down from an earlier run comes back by hand.
        scontrol update nodename="$node" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 0.1
  done
  die "node $node did not become idle in 30 s (state '${s:-none}'); see $dir/log/slurmctld.log and slurmd.log"
}

down() {
  export SLURM_CONF=$conf
  if alive "$dir/run/slurmctld.pid"; then squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true; fi
  local f pid
  for f in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" /run/munge/munged.pid; do
    alive "$f" || continue
    pid=$(cat "$f")
    kill "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
  done
  return 0
}

status() {
  local ok=0
  for f in /run/munge/munged.pid "$dir/run/slurmctld.pid" "$dir/run/slurmd.pid"; do
    if alive "$f"; then echo "$(basename "$f" .pid): running (pid $(cat "$f"))"; else echo "$(basename "$f" .pid): stopped"; ok=1; fi
  done
  local s
  s=$(node_state || true)
  echo "node $node: ${s:-unknown}"
  [ "$ok" = 0 ] && case $s in idle|mixed|allocated|completing) true ;; *) false ;; esac
}

case ${1:-} in
  up) up ;;
  down) down ;;
  status) status ;;
  *) echo "usage: ci/slurm.sh up|down|status" >&2; exit 2 ;;
esac
