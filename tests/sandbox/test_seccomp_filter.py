"""The seccomp filter's BPF program, run through a small classic-BPF interpreter for each arch
(the live x86_64 behaviour is tested in test_sandbox_hostile.py; aarch64 only here)."""

from __future__ import annotations

import pytest

from rewardsmith.sandbox._seccomp import SECCOMP_ARCHES, seccomp_program

ALLOW, EPERM, ENOSYS = 0x7FFF0000, 0x00050001, 0x00050026


def run_bpf(prog, nr: int, arch: int, args=(0, 0, 0, 0, 0, 0)) -> int:
    """Evaluate a seccomp BPF program (LD W ABS, JEQ/JSET/JGE K, RET K only) on seccomp_data."""
    data = {0: nr, 4: arch}
    for i, a in enumerate(args):
        data[16 + 8 * i] = a & 0xFFFFFFFF
        data[20 + 8 * i] = a >> 32
    acc, pc = 0, 0
    for _ in range(10_000):
        code, jt, jf, k = prog[pc]
        if code == 0x20:
            acc, pc = data[k], pc + 1
        elif code in (0x15, 0x45, 0x35):
            hit = acc == k if code == 0x15 else bool(acc & k) if code == 0x45 else acc >= k
            pc += 1 + (jt if hit else jf)
        elif code == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF opcode {code:#x}")
    raise AssertionError("the filter loops")


@pytest.mark.parametrize("machine", sorted(SECCOMP_ARCHES))
def test_filter_denies_what_it_says_and_allows_the_rest(machine):
    arch, table = SECCOMP_ARCHES[machine]
    prog = seccomp_program(machine)
    assert len(prog) < 4096
    for name, nr in table.items():
        if name in ("socket", "socketpair", "clone", "clone3"):
            continue
        assert run_bpf(prog, nr, arch) == EPERM, name
    AF_UNIX, AF_INET, AF_VSOCK, AF_NETLINK = 1, 2, 40, 16
    for call in ("socket", "socketpair"):
        assert run_bpf(prog, table[call], arch, (AF_UNIX, 1, 0, 0, 0, 0)) == ALLOW
        for fam in (AF_INET, AF_VSOCK, AF_NETLINK):
            assert run_bpf(prog, table[call], arch, (fam, 1, 0, 0, 0, 0)) == EPERM, (call, fam)
    fork_flags = 0x01200011  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD: what fork() uses
    assert run_bpf(prog, table["clone"], arch, (fork_flags,)) == ALLOW
    assert run_bpf(prog, table["clone"], arch, (0x003D0F00,)) == ALLOW  # pthread_create's flags
    for ns_flag in (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000):
        assert run_bpf(prog, table["clone"], arch, (fork_flags | ns_flag,)) == EPERM, hex(ns_flag)
    assert run_bpf(prog, table["clone3"], arch) == ENOSYS  # libc falls back to clone
    allowed = set(range(0, 450)) - set(table.values())
    for nr in sorted(allowed)[:300]:  # read, write, open, mmap, futex, ...: untouched
        assert run_bpf(prog, nr, arch) == ALLOW, nr
    assert run_bpf(prog, 0, 0x40000003) == ENOSYS  # another ABI (i386)
    if machine == "x86_64":
        assert run_bpf(prog, 0x40000000 + 41, arch) == ENOSYS  # x32


def test_unknown_arch_has_no_filter():
    assert seccomp_program("riscv64") is None
