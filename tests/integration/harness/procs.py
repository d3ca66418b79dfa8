"""Process bookkeeping: every process a test starts is registered here and killed by
its PID when the test ends, whether it passed or failed.

Children are started in their own process group and with PR_SET_PDEATHSIG(SIGKILL), so
even if the driver itself is killed (ctest timeout) nothing it started survives it.
"""
import ctypes
import os
import signal
import subprocess
import time

_PR_SET_PDEATHSIG = 1
_libc = None


def _child_setup():
    # Runs in the child between fork and exec: die with the parent, own process group.
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(None, use_errno=True)
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:
        pass
    os.setpgid(0, 0)


class Proc:
    """One started process: its Popen, a name for messages and where its output goes."""

    def __init__(self, name, popen, stdout_path=None, stderr_path=None):
        self.name = name
        self.popen = popen
        self.pid = popen.pid
        self.stdout_path = stdout_path
        self.stderr_path = stderr_path

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        """Waits up to timeout seconds; returns the exit code or None if still running."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def send_signal(self, sig):
        if self.alive():
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self):
        """SIGKILL by PID (and the group it leads), then reap."""
        for target in (lambda: os.killpg(self.pid, signal.SIGKILL),
                       lambda: os.kill(self.pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        """Sends sig, waits up to timeout, then SIGKILLs. Returns the exit code
        (negative for a signal, as Popen reports it), or None if it had to be killed."""
        if not self.alive():
            return self.popen.returncode
        self.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            return None
        return rc

    def read_stdout(self):
        return _read(self.stdout_path)

    def read_stderr(self):
        return _read(self.stderr_path)


def _read(path):
    if not path or not os.path.exists(path):
        return ""
    with open(path, "r", errors="replace") as f:
        return f.read()


class Registry:
    """All processes started by one test case."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = []
        self._seq = 0

    def start(self, name, argv, env=None, cwd=None, stdin=subprocess.DEVNULL):
        """Starts argv with stdout/stderr in files under the work dir."""
        self._seq += 1
        base = os.path.join(self.workdir, "%02d-%s" % (self._seq, name))
        out = open(base + ".out", "wb")
        err = open(base + ".err", "wb")
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        try:
            p = subprocess.Popen(argv, stdin=stdin, stdout=out, stderr=err, env=full_env,
                                 cwd=cwd or self.workdir, preexec_fn=_child_setup)
        finally:
            out.close()
            err.close()
        proc = Proc(name, p, base + ".out", base + ".err")
        self.procs.append(proc)
        return proc

    def cleanup(self):
        """Kills whatever is still running (SIGTERM first, then SIGKILL), newest first."""
        for p in reversed(self.procs):
            if p.alive():
                p.stop(signal.SIGTERM, timeout=5.0)
        for p in self.procs:
            if p.alive():
                p.kill()


def wait_until(pred, timeout, interval=0.05):
    """Polls pred() until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)
