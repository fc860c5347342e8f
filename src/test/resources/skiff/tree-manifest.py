# Prints one line per entry under argv[1]: what a user sees through stat, readlink, read and the xattr calls,
# so that two trees (a FUSE mount and an unsquashfs extraction) can be compared line by line.
import hashlib, os, stat, sys

root = os.fsencode(sys.argv[1])
out = []
for dp, dns, fns in os.walk(root):
    dns.sort()
    names = [b""] if dp == root else []
    for n in names + sorted(dns) + sorted(fns):
        p = os.path.join(dp, n) if n else dp
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        kind = stat.S_IFMT(st.st_mode)
        f = [rel, b"%o" % st.st_mode, b"%d:%d" % (st.st_uid, st.st_gid), b"%d" % int(st.st_mtime), b"n%d" % st.st_nlink]
        if stat.S_ISREG(kind):
            h = hashlib.sha256()
            with open(p, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
            f += [b"%d" % st.st_size, h.hexdigest().encode()]
        elif stat.S_ISLNK(kind):
            f += [b"->" + os.readlink(p)]
        elif stat.S_ISCHR(kind) or stat.S_ISBLK(kind):
            f += [b"dev %d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))]
        if stat.S_ISREG(kind) or stat.S_ISDIR(kind):
            for x in sorted(os.listxattr(p, follow_symlinks=False)):
                f += [b"x:" + x.encode() + b"=" + os.getxattr(p, x, follow_symlinks=False).hex().encode()]
        out.append(b"\t".join(f))
sys.stdout.buffer.write(b"\n".join(out) + b"\n")
