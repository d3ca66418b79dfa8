"""linphonec (Debian linphone-cli) as a second real UA in tests, beside baresip: a
headless instance with its own home and configuration, SIP over UDP on a free
loopback port, its stock codec list (or the codecs asked for), a WAV file as its
microphone and what it hears written to WAV ("soundcard use files", play, record),
driven over its standard input; what it prints (call states, digits received) is
read back from its output file.

linphonec reads commands from a pipe that must stay open: on end of input it shuts
down before it opens its SIP listening points.
"""
import os
import re
import shutil
import subprocess
import time

from . import ports


def available():
    return shutil.which("linphonec") is not None


class Linphone:
    def __init__(self, ctx, name, codecs=None, srtp=False, answer=False):
        """codecs: payload names to keep enabled (e.g. ["PCMU"]); None keeps linphone's
        whole stock offer (Opus, Speex, G.711, GSM, G.722, ...). srtp: SDES-SRTP
        mandatory (RTP/SAVP)."""
        self.ctx = ctx
        self.name = name
        self.dir = ctx.path(name)
        os.makedirs(os.path.join(self.dir, ".local", "share", "linphone"), exist_ok=True)
        self.sip_port = ports.free_port("127.0.0.1")
        rtp = ports.free_range(4, "127.0.0.1", avoid=(self.sip_port,))
        self.codecs = codecs
        self.answer = answer
        conf = [
            "[sip]",
            "sip_port=%d" % self.sip_port,
            "sip_tcp_port=0",
            "sip_tls_port=0",
            'contact="%s" <sip:%s@127.0.0.1>' % (name, name),
            "guess_hostname=0",
            "ipv6_enabled=0",
            "register_only_when_network_is_up=0",
        ]
        if srtp:
            conf += ["media_encryption=srtp", "media_encryption_mandatory=1"]
        conf += [
            "[rtp]",
            "audio_rtp_port=%d-%d" % (rtp[0], rtp[-1]),
            "audio_jitt_comp=60",
            "[sound]",
            "echocancellation=0",
            "[net]",
            "firewall_policy=0",
        ]
        self.rc = os.path.join(self.dir, "linphonerc")
        with open(self.rc, "w") as f:
            f.write("\n".join(conf) + "\n")
        self.proc = None
        self.out_pos = 0
        self.lines = []

    def start(self, timeout=15.0):
        argv = ["stdbuf", "-oL", "linphonec", "-c", self.rc, "-d", "3", "-l", os.path.join(self.dir, "log")]
        if self.answer:
            argv.append("-a")
        env = {"HOME": self.dir}
        self.proc = self.ctx.reg.start(self.name, argv, env=env, stdin=subprocess.PIPE)
        self.command("soundcard use files")
        if self.codecs is not None:
            self._keep_codecs()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise AssertionError("%s exited: %s" % (self.name,
                                                        self.proc.read_stdout()[-2000:]))
            if self._listening():
                return self
            time.sleep(0.1)
        raise AssertionError("%s: SIP port %d not open" % (self.name, self.sip_port))

    def _listening(self):
        """Whether the SIP port is bound (belle-sip binds a dual-stack [::] socket)."""
        want = ":%04X" % self.sip_port
        for table in ("/proc/net/udp", "/proc/net/udp6"):
            try:
                with open(table) as f:
                    next(f)
                    if any(line.split()[1].endswith(want) for line in f):
                        return True
            except (OSError, StopIteration, IndexError):
                pass
        return False

    def _keep_codecs(self):
        """Disables every audio codec but those asked for (`codec list` numbers them)."""
        self.command("codec list")
        time.sleep(0.5)
        self.pump(0)
        for line in self.lines:
            m = re.match(r"\s*(\d+):\s+(\S+?)/(\d+)", line)
            if m:
                keep = m.group(2).upper() in (c.upper() for c in self.codecs)
                self.command("codec %s %s" % ("enable" if keep else "disable", m.group(1)))

    def command(self, line):
        self.proc.popen.stdin.write((line + "\n").encode())
        self.proc.popen.stdin.flush()

    def pump(self, seconds):
        """Waits, collecting what linphonec printed meanwhile."""
        end = time.monotonic() + seconds
        while True:
            text = self.proc.read_stdout()
            if len(text) > self.out_pos:
                new = text[self.out_pos:]
                cut = new.rfind("\n") + 1
                self.lines += new[:cut].splitlines()
                self.out_pos += cut
            if time.monotonic() >= end:
                return
            time.sleep(0.05)

    def wait_line(self, pattern, timeout=10.0):
        """The first output line matching pattern (a regex), or None."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if rx.search(line):
                    return line
            if time.monotonic() >= end:
                return None
            self.pump(0.1)

    def digits(self):
        """The DTMF digits linphonec reported receiving, in order."""
        out = []
        for line in self.lines:
            m = re.search(r"Receiving tone (\S)", line)
            if m:
                out.append(m.group(1))
        return "".join(out)

    def stop(self):
        if self.proc and self.proc.alive():
            try:
                self.command("quit")
                self.proc.popen.stdin.close()
            except (OSError, ValueError):
                pass
            if self.proc.wait(5) is None:
                self.proc.stop()
