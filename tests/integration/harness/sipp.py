"""Running SIPp (Debian's sip-tester) scenarios and reading their results.

A scenario runs as a process registered with the test's procs.Registry. Results come
from SIPp's exit code, its statistics file (-trace_stat, one CSV line per second and one
at exit) and its error log (-trace_err). Optional message trace (-trace_msg) lets a test
inspect exactly what SIPp received.
"""
import os
import re
import time

from . import ports, sipmsg

SIPP = os.environ.get("TRUNX_SIPP", "sipp")

# SIPp exit codes (sipp -h): 0 all calls ok, 1 some failed, 97 internal exit command,
# 99 normal exit without calls, 255 (-1) fatal error, 254 (-2) fatal socket bind error.
RC_OK, RC_FAILED, RC_BIND = 0, 1, 254


class SippError(Exception):
    pass


class Sipp:
    """One SIPp instance. Use start() then wait(); or run() for both."""

    def __init__(self, reg, scenario, name, remote=None, local_ip="127.0.0.1",
                 port=None, media_port=None, calls=1, rate=None, rate_period_ms=None,
                 limit=None, keys=None, service=None, transport="u1", timeout=60,
                 trace_msg=False, trace_logs=False, extra=()):
        self.reg = reg
        self.scenario = scenario
        self.name = name
        self.remote = remote
        self.local_ip = local_ip
        self.port = port
        self.media_port = media_port
        self.calls = calls
        self.rate = rate
        self.rate_period_ms = rate_period_ms
        self.limit = limit
        self.keys = dict(keys or {})
        self.service = service
        self.transport = transport
        self.timeout = timeout
        self.trace_msg = trace_msg
        self.trace_logs = trace_logs
        self.extra = list(extra)
        self.proc = None
        self.rc = None
        base = os.path.join(reg.workdir, name)
        self.stat_file = base + "_stat.csv"
        self.err_file = base + "_errors.log"
        self.msg_file = base + "_messages.log"
        self.screen_file = base + "_screen.log"
        self.log_file = base + "_logs.log"

    def argv(self):
        a = [SIPP, "-sf", self.scenario, "-i", self.local_ip, "-p", str(self.port),
             "-t", self.transport, "-nostdin",
             "-trace_stat", "-stf", self.stat_file, "-fd", "1",
             "-trace_err", "-error_file", self.err_file,
             "-trace_screen", "-screen_file", self.screen_file,
             "-timeout", "%ds" % self.timeout, "-timeout_error",
             "-max_recv_loops", "10000", "-max_sched_loops", "10000"]
        if self.calls is not None:
            a += ["-m", str(self.calls)]
        if self.media_port:
            a += ["-mi", self.local_ip, "-mp", str(self.media_port)]
        if self.rate is not None:
            a += ["-r", str(self.rate)]
            if self.rate_period_ms:
                a += ["-rp", str(self.rate_period_ms)]
        if self.limit is not None:
            a += ["-l", str(self.limit)]
        if self.service is not None:
            a += ["-s", self.service]
        for k, v in self.keys.items():
            a += ["-key", k, str(v)]
        if self.trace_msg:
            a += ["-trace_msg", "-message_file", self.msg_file]
        if self.trace_logs:
            a += ["-trace_logs", "-log_file", self.log_file]
        a += self.extra
        if self.remote:
            a.append(self.remote)
        return a

    def start(self):
        """Starts SIPp, picking free ports when none were given. A bind failure at
        start-up is retried with new ports (a port can be taken between pick and bind)."""
        pick_port = self.port is None
        pick_media = self.media_port is None
        for attempt in range(5):
            if pick_port:
                self.port = ports.free_port(self.local_ip)
            if pick_media:
                lo, _ = ports.free_range(4, self.local_ip)
                self.media_port = lo
            for f in (self.stat_file, self.err_file, self.msg_file, self.screen_file,
                      self.log_file):
                if os.path.exists(f):
                    os.unlink(f)
            self.proc = self.reg.start(self.name, self.argv())
            # A bind error shows within a fraction of a second.
            rc = self.proc.wait(0.3)
            if rc is None or rc != RC_BIND or not (pick_port or pick_media):
                if rc is not None:
                    self.rc = rc
                return self
        raise SippError("%s: could not bind after retries" % self.name)

    def wait(self, timeout=None):
        """Waits for SIPp to exit (its own -timeout bounds it; we add a margin) and
        returns the exit code. On our own timeout SIPp is killed and SippError raised."""
        if self.rc is not None:
            return self.rc
        rc = self.proc.wait(timeout if timeout is not None else self.timeout + 30)
        if rc is None:
            self.proc.kill()
            raise SippError("%s: did not exit in time" % self.name)
        self.rc = rc
        return rc

    def stop(self):
        """Ends a SIPp that runs on (e.g. a UAS with no more calls coming)."""
        if self.proc is not None and self.proc.alive():
            self.proc.stop(timeout=5)
        self.rc = self.proc.popen.returncode if self.proc else None

    def stats(self):
        """The last statistics line as a dict of column -> str ({} if none)."""
        if not os.path.exists(self.stat_file):
            return {}
        with open(self.stat_file, errors="replace") as f:
            lines = [l.rstrip("\n") for l in f if l.strip()]
        if len(lines) < 2:
            return {}
        head = lines[0].rstrip(";").split(";")
        last = lines[-1].rstrip(";").split(";")
        return dict(zip(head, last))

    def count(self, column):
        """An integer statistic, e.g. count('SuccessfulCall(C)')."""
        v = self.stats().get(column, "0")
        try:
            return int(v)
        except ValueError:
            return 0

    def cpu_seconds(self):
        """CPU time SIPp has used so far (user + system), from /proc."""
        return proc_cpu_seconds(self.proc.pid) if self.proc else 0.0

    def successful(self):
        return self.count("SuccessfulCall(C)")

    def failed(self):
        return self.count("FailedCall(C)")

    def errors(self):
        if not os.path.exists(self.err_file):
            return ""
        with open(self.err_file, errors="replace") as f:
            return f.read()

    def logs(self):
        """What the scenario's <log> actions wrote (needs trace_logs=True)."""
        if not os.path.exists(self.log_file):
            return ""
        with open(self.log_file, errors="replace") as f:
            return f.read()

    def messages(self):
        """Messages SIPp received, as sipmsg.Message objects (needs trace_msg=True)."""
        if not os.path.exists(self.msg_file):
            return []
        with open(self.msg_file, errors="replace") as f:
            text = f.read()
        out = []
        # Blocks look like: "----------...\n<time>\nUDP message received [N] bytes :\n\n<msg>"
        for m in re.finditer(r"message received \[\d+\] bytes :\n\n(.*?)(?=\n-{10,}|\Z)",
                             text, re.S):
            out.append(sipmsg.Message(m.group(1).rstrip("\n").encode()))
        return out

    def summary(self):
        st = self.stats()
        keys = ("SuccessfulCall(C)", "FailedCall(C)", "FailedMaxUDPRetrans(C)",
                "FailedUnexpectedMessage(C)", "FailedCallRejected(C)",
                "FailedCmdNotSent(C)", "FailedRegexpDoesntMatch(C)",
                "FailedRegexpShouldntMatch(C)", "FailedRegexpHdrNotFound(C)",
                "FailedOutboundCongestion(C)", "FailedTimeoutOnRecv(C)",
                "FailedTimeoutOnSend(C)", "OutOfCallMsgs(C)", "DeadCallMsgs(C)",
                "Retransmissions(C)")
        parts = ["rc=%s" % self.rc]
        for k in keys:
            v = st.get(k)
            if v and v != "0":
                parts.append("%s=%s" % (k.replace("(C)", ""), v))
        return "%s: %s" % (self.name, " ".join(parts))

    def describe_failure(self, max_chars=3000):
        err = self.errors()
        if len(err) > max_chars:
            err = err[:max_chars] + "\n...(%d more bytes)" % (len(err) - max_chars)
        return "%s\n--- %s errors ---\n%s" % (self.summary(), self.name, err)


def expect_ok(s, calls=None):
    """Raises AssertionError unless SIPp exited 0 with `calls` successful calls (all of
    the -m count by default) and none failed."""
    want = s.calls if calls is None else calls
    ok = s.successful()
    if s.rc != RC_OK or s.failed() != 0 or ok != want:
        raise AssertionError("%s: expected %d successful calls, rc 0; got %d ok\n%s"
                             % (s.name, want, ok, s.describe_failure()))


def wait_listening(port, proto="udp", timeout=10.0):
    """Waits until something is bound to port, IPv4 or IPv6 (reads /proc/net/{udp,tcp}
    and /proc/net/{udp6,tcp6})."""
    want = ":%04X" % port
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in ("/proc/net/%s" % proto, "/proc/net/%s6" % proto):
            try:
                with open(path) as f:
                    for line in f.readlines()[1:]:
                        local = line.split()[1]
                        if local.endswith(want):
                            return True
            except OSError:
                pass
        time.sleep(0.05)
    return False


def proc_cpu_seconds(pid):
    """utime + stime of a process in seconds (/proc/PID/stat), 0.0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0
