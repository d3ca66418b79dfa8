#!/usr/bin/env python3
"""Runs a command where the bpf() system call fails with ENOSYS, as on a kernel built
without BPF (CONFIG_BPF_SYSCALL unset): a seccomp filter installed here, then exec.
For kfwd_test.py (no_bpf_kernel). x86_64 only: another architecture exits 77.

    no_bpf_exec.py COMMAND [ARG...]
"""
import ctypes
import errno
import os
import platform
import struct
import sys

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
AUDIT_ARCH_X86_64 = 0xC000003E
SYS_BPF = 321
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
BPF_LD_W_ABS = 0x20          # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15             # BPF_JMP | BPF_JEQ | BPF_K
BPF_RET_K = 0x06             # BPF_RET | BPF_K


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def main():
    if platform.machine() != "x86_64" or len(sys.argv) < 2:
        sys.exit(77)
    prog = b"".join((
        insn(BPF_LD_W_ABS, 0, 0, 4),                      # seccomp_data.arch
        insn(BPF_JEQ_K, 0, 3, AUDIT_ARCH_X86_64),
        insn(BPF_LD_W_ABS, 0, 0, 0),                      # seccomp_data.nr
        insn(BPF_JEQ_K, 0, 1, SYS_BPF),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
        insn(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ))
    buf = ctypes.create_string_buffer(prog, len(prog))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        sys.exit("seccomp: %s" % os.strerror(ctypes.get_errno()))
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    main()
