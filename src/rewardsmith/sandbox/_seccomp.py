"""The sandbox's seccomp filter: a classic-BPF program built here (stdlib only, no libseccomp).

Prepended to ``_boot.py`` (``launch.BOOT_SOURCE``) and installed by the program's process right before it runs the
program (after the uid drop and ``no_new_privs``; the supervisor stays unfiltered). Denied, with
``EPERM`` (the program sees an ordinary ``PermissionError``), because a contained program has no
use for them and each one reaches past the namespaces:

* ``add_key``, ``keyctl``, ``request_key``: kernel keyrings are not namespaced; keys outlived the
  run and a later run with the same uid could read them (red-team finding 5);
* ``socket``/``socketpair`` of any family but ``AF_UNIX``: a network namespace does not cut off
  ``AF_VSOCK`` (it reaches the hypervisor host; finding 6), nor netlink, packet, bluetooth...;
* ``io_uring_*``: a second syscall interface that seccomp cannot see into;
* ``unshare`` (all of it), ``clone`` with any ``CLONE_NEW*`` flag, ``setns``; ``clone3`` answers
  ``ENOSYS`` (its flags sit behind a pointer BPF cannot read; libc then falls back to ``clone``);
* ``ptrace``, ``process_vm_readv/writev``, ``kcmp``, ``pidfd_getfd``, ``process_madvise``: other
  processes' memory and fds;
* ``bpf``, ``perf_event_open``, ``userfaultfd``: kernel attack surface (and a way to stall it);
* ``mount``, ``umount2``, ``pivot_root``, ``chroot``, the new mount API (``open_tree`` ...
  ``mount_setattr``), ``name_to_handle_at``/``open_by_handle_at``;
* module loading, ``kexec``, ``reboot``, ``swapon/off``, ``acct``, ``quotactl``, ``syslog``,
  ``sethostname``/``setdomainname``, ``vhangup``, ``lookup_dcookie`` (and ``iopl``, ``ioperm``,
  ``uselib`` on x86_64): host administration;
* any other ABI (x86_64's x32 syscalls, i386 through ``int 0x80``): ``ENOSYS``.

Tables for x86_64 and aarch64 (``asm/unistd_64.h`` / ``asm-generic/unistd.h``); elsewhere no
filter is installed and ``RunResult.containment["seccomp"]`` says so.
"""

import platform
import struct

SECCOMP_ARCHES = {
    # machine: (AUDIT_ARCH_*, {syscall: number})
    "x86_64": (0xC000003E, {
        "socket": 41, "socketpair": 53, "clone": 56, "ptrace": 101, "syslog": 103, "uselib": 134,
        "vhangup": 153, "pivot_root": 155, "chroot": 161, "acct": 163, "mount": 165, "umount2": 166,
        "swapon": 167, "swapoff": 168, "reboot": 169, "sethostname": 170, "setdomainname": 171,
        "iopl": 172, "ioperm": 173, "init_module": 175, "delete_module": 176, "quotactl": 179,
        "lookup_dcookie": 212, "kexec_load": 246, "add_key": 248, "request_key": 249, "keyctl": 250,
        "unshare": 272, "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
        "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
        "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
        "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "clone3": 435,
        "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442}),
    "aarch64": (0xC00000B7, {
        "lookup_dcookie": 18, "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "vhangup": 58,
        "quotactl": 60, "acct": 89, "unshare": 97, "kexec_load": 104, "init_module": 105,
        "delete_module": 106, "syslog": 116, "ptrace": 117, "reboot": 142, "sethostname": 161,
        "setdomainname": 162, "socket": 198, "socketpair": 199, "add_key": 217, "request_key": 218,
        "keyctl": 219, "clone": 220, "swapon": 224, "swapoff": 225, "perf_event_open": 241,
        "name_to_handle_at": 264, "open_by_handle_at": 265, "setns": 268, "process_vm_readv": 270,
        "process_vm_writev": 271, "kcmp": 272, "finit_module": 273, "bpf": 280, "userfaultfd": 282,
        "kexec_file_load": 294, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
        "fspick": 433, "clone3": 435, "pidfd_getfd": 438, "process_madvise": 440, "mount_setattr": 442}),
}
SECCOMP_ARG_CHECKED = ("socket", "socketpair", "clone", "clone3")
_EPERM, _ENOSYS = 1, 38
_AF_UNIX = 1
# CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET | NEWTIME
_CLONE_NEW_ANY = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80
_X32_BIT = 0x40000000
_LD_ABS, _JEQ, _JSET, _JGE, _RET = 0x20, 0x15, 0x45, 0x35, 0x06
_ALLOW, _ERRNO = 0x7FFF0000, 0x00050000


def seccomp_program(machine=None):
    """The filter as a list of ``(code, jt, jf, k)`` BPF instructions; None for an unknown arch."""
    machine = machine or platform.machine()
    if machine not in SECCOMP_ARCHES:
        return None
    arch, table = SECCOMP_ARCHES[machine]
    ret = lambda k: (_RET, 0, 0, k)  # noqa: E731
    prog = [
        (_LD_ABS, 0, 0, 4),  # seccomp_data.arch
        (_JEQ, 1, 0, arch),
        ret(_ERRNO | _ENOSYS),
        (_LD_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        prog += [(_JGE, 0, 1, _X32_BIT), ret(_ERRNO | _ENOSYS)]
    for name, nr in sorted(table.items(), key=lambda kv: kv[1]):
        if name in SECCOMP_ARG_CHECKED:
            continue
        prog += [(_JEQ, 0, 1, nr), ret(_ERRNO | _EPERM)]
    # socket/socketpair: only AF_UNIX (args[0], low word at offset 16)
    for name in ("socket", "socketpair"):
        prog += [(_JEQ, 0, 4, table[name]), (_LD_ABS, 0, 0, 16), (_JEQ, 0, 1, _AF_UNIX), ret(_ALLOW),
                 ret(_ERRNO | _EPERM)]
    # clone: no new namespace (flags in args[0] on both arches)
    prog += [(_JEQ, 0, 4, table["clone"]), (_LD_ABS, 0, 0, 16), (_JSET, 0, 1, _CLONE_NEW_ANY),
             ret(_ERRNO | _EPERM), ret(_ALLOW)]
    prog += [(_JEQ, 0, 1, table["clone3"]), ret(_ERRNO | _ENOSYS)]
    prog.append(ret(_ALLOW))
    return prog


_PROGRAM = seccomp_program()  # built once per interpreter (the zygote), not once per run
_RAW = None if _PROGRAM is None else b"".join(struct.pack("HBBI", *ins) for ins in _PROGRAM)


def install_seccomp(libc, ctypes):
    """Install the filter on this thread (its children inherit it); needs ``no_new_privs``.
    Returns a description, or raises OSError when the kernel refuses it."""
    prog = _PROGRAM
    if prog is None:
        return f"none (no syscall table for {platform.machine()})"
    raw = _RAW
    buf = ctypes.create_string_buffer(raw, len(raw))

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = SockFprog(len(prog), ctypes.cast(buf, ctypes.c_void_p))
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"seccomp: {__import__('os').strerror(err)}")
    return f"bpf filter ({platform.machine()}, {len(prog)} instructions)"


def join_fresh_keyring(libc):
    """A new anonymous session keyring for this process (and the program): nothing of the
    caller's session keyring is reachable. Best effort (no keyrings in this kernel: nothing to do)."""
    machine = platform.machine()
    if machine in SECCOMP_ARCHES:
        KEYCTL_JOIN_SESSION_KEYRING = 1
        libc.syscall(SECCOMP_ARCHES[machine][1]["keyctl"], KEYCTL_JOIN_SESSION_KEYRING, None)
