# Sourced by ci/mpi-images.sh and bench/warm.sh: a root filesystem made of this host's installed Debian
# packages, exact and without network (the files `dpkg -L` lists for the packages and their recursive
# dependencies). Defines closure and tree.

# Maintainer-script dependencies (user management, debconf) and ssh (mpirun's remote start) are not
# needed to run programs in a container.
debian_tree_skip='adduser debconf passwd perl-base openssh-client'

# The installed packages PKG... need, recursively (first installed alternative of each dependency).
closure() {
  python3 - "$debian_tree_skip" "$@" <<'EOF'
import re, subprocess, sys
skip = set(sys.argv[1].split())
q = subprocess.run(['dpkg-query', '-W', '-f=${Package}\t${Status}\n'], capture_output=True, text=True).stdout
installed = {l.split('\t')[0] for l in q.splitlines() if l.endswith('install ok installed')}
seen, todo = set(), list(sys.argv[2:])
while todo:
    p = todo.pop()
    if p in seen or p in skip:
        continue
    if p not in installed:
        sys.exit(f'debian-tree: package {p} is not installed; run ci/setup.sh')
    seen.add(p)
    deps = subprocess.run(['dpkg-query', '-W', '-f=${Depends}, ${Pre-Depends}', p], capture_output=True, text=True).stdout
    for group in deps.split(','):
        for alt in group.split('|'):
            name = re.sub(r'\(.*?\)', '', alt).strip().split(':')[0]
            if name in installed:
                todo.append(name)
                break
print('\n'.join(sorted(seen)))
EOF
}

# tree PKG...: a root filesystem with the packages' files (docs, manuals and locales left out), busybox as
# the shell, /etc/passwd and /etc/group with root only, and the dynamic linker's cache.
tree() {
  local t=$1; shift
  mkdir -p "$t"/usr/{bin,sbin,lib,lib64} "$t"/{etc,tmp,root,home,proc,sys,dev}
  chmod 1777 "$t/tmp"
  # Debian 12 is merged-/usr: the packages' /lib, /bin and /sbin paths are these links.
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$t/$d"; done
  closure "$@" >"$t.pkgs"
  # Paths are resolved on the host (merged /usr), so each file lands once, under /usr.
  xargs dpkg-query -L <"$t.pkgs" | grep -Ev '^/usr/share/(doc|man|info|locale|lintian|bug)/|^/\.$' | sort -u \
    | python3 -c '
import os, sys
seen = set()
for p in sys.stdin.read().split("\n"):
    if not p or not os.path.lexists(p) or os.path.isdir(p) and not os.path.islink(p):
        continue
    real = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
    if real not in seen:
        seen.add(real)
        print(real[1:])
' >"$t.files"
  tar -C / --no-recursion -cf - -T "$t.files" | tar -C "$t" -xf - --keep-directory-symlink
  # Links into /etc/alternatives (e.g. libpsm_infinipath.so.1) are made by maintainer scripts, not listed.
  find "$t" -type l -lname '/etc/alternatives/*' -printf '%l\n' | sort -u | while read -r a; do
    mkdir -p "$t/etc/alternatives"; cp -P "$a" "$t$a"
  done
  cp /bin/busybox "$t/usr/bin/busybox"
  for c in sh ls cat env id echo true false sleep stat readlink grep head wc test printf mount ps kill tr sed find; do
    [ -e "$t/usr/bin/$c" ] || ln -s busybox "$t/usr/bin/$c"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$t/etc/passwd"
  echo 'root:x:0:' >"$t/etc/group"
  [ -f "$t/etc/ld.so.conf" ] || printf 'include /etc/ld.so.conf.d/*.conf\n' >"$t/etc/ld.so.conf"
  ldconfig -r "$t"
}

