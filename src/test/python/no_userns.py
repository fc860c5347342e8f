#!/usr/bin/env python3
"""Runs a command as an ordinary user on a host where that user cannot create user namespaces.

Usage (as root): no_userns.py UID GID COMMAND [ARG...]

The test suite runs as root on a host that allows user namespaces, and other tests run concurrently, so the
host's sysctl must stay as it is. Instead this helper installs a seccomp filter, inherited by the command and
everything it starts, that fails unshare(2) and clone(2) with CLONE_NEWUSER with EPERM (as a batch system's
seccomp policy does) and clone3(2) with ENOSYS (its flags sit in memory a filter cannot read; glibc then falls
back to clone). The filter is installed while still root and without no_new_privs, so the setuid fusermount3
keeps working: FUSE mounts stay possible, only user namespaces go away.
"""
import ctypes
import os
import struct
import sys

CLONE_NEWUSER = 0x10000000
AUDIT_ARCH_X86_64 = 0xC000003E
NR_CLONE, NR_UNSHARE, NR_CLONE3 = 56, 272, 435
EPERM, ENOSYS = 1, 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
# classic BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JSET_K = 0x45
RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL = 0x00000000
# struct seccomp_data: nr @0, arch @4, ip @8, args @16 (8 bytes each, low word first on little endian)
OFF_NR, OFF_ARCH, OFF_ARG0 = 0, 4, 16


def filter_program():
    ins = []

    def op(code, jt, jf, k):
        ins.append(struct.pack("HBBI", code, jt, jf, k))

    op(LD_W_ABS, 0, 0, OFF_ARCH)
    op(JEQ_K, 1, 0, AUDIT_ARCH_X86_64)
    op(RET_K, 0, 0, RET_KILL)
    op(LD_W_ABS, 0, 0, OFF_NR)
    op(JEQ_K, 0, 1, NR_CLONE3)
    op(RET_K, 0, 0, RET_ERRNO | ENOSYS)
    op(JEQ_K, 1, 0, NR_CLONE)
    op(JEQ_K, 0, 3, NR_UNSHARE)
    op(LD_W_ABS, 0, 0, OFF_ARG0)  # clone's and unshare's flags: the first argument on x86_64
    op(JSET_K, 0, 1, CLONE_NEWUSER)
    op(RET_K, 0, 0, RET_ERRNO | EPERM)
    op(RET_K, 0, 0, RET_ALLOW)
    return b"".join(ins), len(ins)


def main():
    if len(sys.argv) < 4:
        sys.exit("usage: no_userns.py UID GID COMMAND [ARG...]")
    if os.uname().machine != "x86_64":
        sys.exit("no_userns.py: only x86_64 syscall numbers are known")
    uid, gid, argv = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
    code, n = filter_program()
    buf = ctypes.create_string_buffer(code, len(code))
    prog = struct.pack("HxxxxxxQ", n, ctypes.addressof(buf))
    pbuf = ctypes.create_string_buffer(prog, len(prog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(pbuf), 0, 0) != 0:
        e = ctypes.get_errno()
        sys.exit("no_userns.py: cannot install the seccomp filter: " + os.strerror(e))
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
