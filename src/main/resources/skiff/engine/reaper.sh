# skiff's unmount reaper for a shared SquashFS mount, run by SharedMount as /bin/sh -c SCRIPT skiff-reaper ARGS.
# $1 mnt  $2 users dir  $3 lock file  $4 idle seconds  $5 pid file.  Started detached (setsid -f).
# An entry is "PID STARTTIME": the start time (field 22 of /proc/PID/stat) guards against pid reuse.
# MNT.server (skiff's FUSE server's pid, for bin/skiff's warm check) goes with the mount.
# Unmounts once no user has been alive for $4 seconds, under the lock skiff takes (flock: see skiff.sys.Flock).
mnt=$1 users=$2 lock=$3 idle=$4 pidfile=$5
echo $$ > "$pidfile.tmp" && mv -f "$pidfile.tmp" "$pidfile"
alive() {
  want=$2
  read -r st < "/proc/$1/stat" 2>/dev/null || return 1
  rest=${st##*) }
  set -- $rest
  shift 19
  [ "$1" = "$want" ]
}
scan() {
  live=0
  for f in "$users"/*; do
    [ -f "$f" ] || continue
    read -r start < "$f" 2>/dev/null || start=x
    if alive "${f##*/}" "$start"; then live=1; else rm -f "$f"; fi
  done
}
quiet=0
while :; do
  sleep 1
  grep -qF " $mnt " /proc/self/mountinfo || { rm -f "$pidfile" "$mnt.server"; exit 0; }
  scan
  if [ "$live" = 1 ]; then quiet=0; continue; fi
  quiet=$((quiet + 1))
  [ "$quiet" -ge "$idle" ] || continue
  exec 9>>"$lock"
  flock -x 9
  scan
  if [ "$live" = 1 ]; then exec 9>&-; quiet=0; continue; fi
  fusermount3 -u "$mnt" 2>/dev/null || fusermount3 -u -z "$mnt" 2>/dev/null
  rmdir "$mnt" 2>/dev/null
  rm -f "$pidfile" "$mnt.server"
  exit 0
done

