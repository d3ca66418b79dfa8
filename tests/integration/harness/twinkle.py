"""twinkle-console (Debian twinkle-console: Twinkle's own SIP stack, SDP writer and
ccRTP media engine) as a third real UA in tests, beside baresip and linphone: a
headless instance with its own $HOME (~/.twinkle/twinkle.sys for the system settings,
one user profile beside it, ~/.asoundrc for its sound devices), SIP on a free port,
driven over its standard input (call, dtmf, bye, auto_answer, quit); what it prints
(call states, "DTMF detected: d") is read back from its output file.

Twinkle only speaks to a sound card (ALSA or OSS). Its microphone and speaker here are
ALSA "file" PCMs over the "null" PCM, defined in the private ~/.asoundrc: the speaker
writes what Twinkle plays (16-bit mono at the codec's rate) to a raw file, the
microphone reads from a FIFO that a thread of the test fills with a tone in real time.
The null PCM has no clock, so the FIFO's writer is the microphone's clock: Twinkle's
audio thread blocks on it and sends one RTP packet per 20 ms it gets. The speaker has no
clock either: Twinkle writes each packet as it decodes it, so the raw file is the audio
received, in arrival order, without the gaps a late packet (or a hold) leaves on a real
card.

twinkle-console takes its profile as its first argument and quits on end of input: its
standard input is a pipe held open for the whole run. It binds SIP and RTP on all
addresses (there is no setting for one address); every peer it is given is on loopback.
"""
import array
import math
import os
import re
import shutil
import subprocess
import threading
import time

from . import ports

RATE = 8000          # G.711: Twinkle opens its devices at the codec's rate
FRAME = RATE // 50   # 20 ms


def available():
    return shutil.which("twinkle-console") is not None


class _Mic(threading.Thread):
    """Feeds a FIFO with a sine, 20 ms every 20 ms on a fixed schedule. The FIFO is held
    open read-write so Twinkle's open never waits and a full pipe (no call, nobody
    reading) drops frames instead of blocking."""

    def __init__(self, path, hz, dbfs):
        super().__init__(daemon=True)
        self.path = path
        self.hz = hz
        self.amp = 32767 * 10 ** (dbfs / 20.0)
        self.n = 0
        self.stopping = threading.Event()
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        try:
            import fcntl
            fcntl.fcntl(self.fd, 1031, 4096)   # F_SETPIPE_SZ: a short backlog (256 ms)
        except (OSError, ImportError):
            pass

    def frame(self):
        a = array.array("h", (int(self.amp * math.sin(2 * math.pi * self.hz * (self.n + i) / RATE))
                              for i in range(FRAME)))
        self.n += FRAME
        return a.tobytes()

    def run(self):
        nxt = time.monotonic()
        while not self.stopping.is_set():
            try:
                os.write(self.fd, self.frame())
            except BlockingIOError:
                pass                # nobody reading: the frame is dropped
            except OSError:
                return
            nxt += FRAME / RATE
            delay = nxt - time.monotonic()
            if delay > 0:
                self.stopping.wait(delay)
            elif delay < -0.5:      # far behind (a stalled test process): no burst
                nxt = time.monotonic()

    def stop(self):
        self.stopping.set()
        if self.is_alive():
            self.join(2)
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class Twinkle:
    def __init__(self, ctx, name, tone_hz, tone_dbfs, codecs=("g711u", "g711a"),
                 answer=False, user=None, profile=None):
        """codecs: Twinkle's names, in preference order (g711u, g711a, gsm, speex-nb,
        ...). answer: auto-answer incoming calls. user: the SIP user (Twinkle answers
        404 to a request URI naming another; default name). profile: extra
        user-profile keys."""
        self.ctx = ctx
        self.name = name
        self.dir = ctx.path(name)
        self.conf_dir = os.path.join(self.dir, ".twinkle")
        os.makedirs(self.conf_dir, exist_ok=True)
        self.sip_port = ports.free_port("127.0.0.1")
        # Line n uses rtp_port + 2n (RTP, RTCP); three call lines and the spares.
        self.rtp = ports.free_range(8, "127.0.0.1", avoid=(self.sip_port,))
        self.answer = answer
        self.heard_path = os.path.join(self.dir, "heard.raw")
        self.mic_path = os.path.join(self.dir, "mic.fifo")
        self.mic = _Mic(self.mic_path, tone_hz, tone_dbfs)
        with open(os.path.join(self.dir, ".asoundrc"), "w") as f:
            f.write('pcm.twmic {\n type file\n slave.pcm "null"\n file "/dev/null"\n'
                    ' infile "%s"\n format "raw"\n}\n' % self.mic_path)
            # truncate false: Twinkle closes and reopens its devices around a hold;
            # each opening writes a file of its own (see segments).
            f.write('pcm.twspk {\n type file\n slave.pcm "null"\n file "%s"\n'
                    ' format "raw"\n truncate false\n}\n' % self.heard_path)
        sysconf = [
            "dev_ringtone=alsa:null",
            "dev_speaker=alsa:twspk",
            "dev_mic=alsa:twmic",
            "validate_audio_dev=no",
            "log_max_size=50",
            "log_show_sip=yes",
            "log_show_stun=no",
            "log_show_memory=no",
            "log_show_debug=no",
            "sip_port=%d" % self.sip_port,
            "rtp_port=%d" % self.rtp[0],
            "play_ringtone=no",
            "play_ringback=no",
            "call_waiting=no",
        ]
        with open(os.path.join(self.conf_dir, "twinkle.sys"), "w") as f:
            f.write("\n".join(sysconf) + "\n")
        prof = {
            "user_name": user or name,
            "user_domain": "127.0.0.1",
            "user_display": name,
            "register_at_startup": "no",
            "sip_transport": "udp",
            "codecs": ",".join(codecs),
            "dtmf_transport": "rfc2833",
            "dtmf_payload_type": "101",
            "dtmf_duration": "100",
            "dtmf_pause": "60",
            "enable_nat_keepalive": "no",
            "pres_publish_startup": "no",   # no PUBLISH to its domain at start-up
            "speex_dsp_vad": "no",
            "speex_dsp_agc": "no",
            "speex_dsp_aec": "no",
            "speex_dsp_nrd": "no",
        }
        prof.update(profile or {})
        self.profile = name + ".cfg"
        with open(os.path.join(self.conf_dir, self.profile), "w") as f:
            f.write("".join("%s=%s\n" % kv for kv in prof.items()))
        self.proc = None
        self.out_pos = 0
        self.lines = []

    def start(self, timeout=15.0):
        self.mic.start()
        argv = ["stdbuf", "-oL", "twinkle-console", self.profile]
        self.proc = self.ctx.reg.start(self.name, argv, env={"HOME": self.dir},
                                       stdin=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise AssertionError("%s exited: %s" % (self.name, self.output()[-2000:]))
            if self._listening():
                break
            time.sleep(0.1)
        else:
            raise AssertionError("%s: SIP port %d not open" % (self.name, self.sip_port))
        # The port is bound before the profile is read and the command line is up: a
        # command must not be taken for the answer to a start-up question.
        if not self.wait_line(r"^Users:|Twinkle>", max(1.0, deadline - time.monotonic())):
            raise AssertionError("%s: no prompt: %s" % (self.name, self.lines[-20:]))
        if self.answer:
            self.command("auto_answer -a on")
            if not self.wait_line(r"Auto answer enabled", 5):
                raise AssertionError("%s: auto answer not enabled: %s"
                                     % (self.name, self.lines[-20:]))
        return self

    def _listening(self):
        """Whether the SIP port is bound (UDP, on all addresses)."""
        want = ":%04X" % self.sip_port
        try:
            with open("/proc/net/udp") as f:
                next(f)
                return any(line.split()[1].endswith(want) for line in f)
        except (OSError, StopIteration, IndexError):
            return False

    def rtp_bound(self):
        """Whether Twinkle holds its first line's RTP port (0.0.0.0, bound at call time:
        another process may have taken the port since it was found free)."""
        want = "00000000:%04X" % self.rtp[0]
        try:
            with open("/proc/net/udp") as f:
                next(f)
                return any(line.split()[1] == want for line in f)
        except (OSError, StopIteration, IndexError):
            return False

    def check_rtp_bound(self):
        if not self.rtp_bound():
            raise AssertionError("%s does not hold its RTP port %d (taken by another process "
                                 "since it was found free?)" % (self.name, self.rtp[0]))

    def command(self, line):
        self.proc.popen.stdin.write((line + "\n").encode())
        self.proc.popen.stdin.flush()

    def output(self):
        return self.proc.read_stdout() if self.proc else ""

    def pump(self, seconds):
        """Waits, collecting what Twinkle printed meanwhile."""
        end = time.monotonic() + seconds
        while True:
            text = self.output()
            if len(text) > self.out_pos:
                new = text[self.out_pos:]
                cut = new.rfind("\n") + 1
                self.lines += [ln.replace("Twinkle> ", "") for ln in new[:cut].splitlines()]
                self.out_pos += cut
            if time.monotonic() >= end:
                return
            time.sleep(0.05)

    def wait_line(self, pattern, timeout=10.0, after=0):
        """The first output line (from index after) matching pattern, or None."""
        rx = re.compile(pattern)
        end = time.monotonic() + timeout
        while True:
            for line in self.lines[after:]:
                if rx.search(line):
                    return line
            if time.monotonic() >= end:
                return None
            self.pump(0.1)

    def digits(self):
        """The RFC 4733 digits Twinkle reported receiving, in order."""
        out = []
        for line in self.lines:
            m = re.search(r"DTMF detected: (\S)", line)
            if m:
                out.append(m.group(1))
        return "".join(out)

    def segments(self):
        """What Twinkle played to its speaker (8 kHz samples), one list per time it
        opened the device (a call; a hold closes it and a retrieve opens it again: the
        file PCM then writes heard.raw.0001, .0002, ...), in order."""
        names = sorted(n for n in os.listdir(self.dir)
                       if n == "heard.raw" or n.startswith("heard.raw."))
        out = []
        for n in names:
            a = array.array("h")
            with open(os.path.join(self.dir, n), "rb") as f:
                data = f.read()
            a.frombytes(data[:len(data) // 2 * 2])
            out.append(list(a))
        return out

    def heard(self):
        """All Twinkle played to its speaker (8 kHz), in arrival order."""
        return [v for seg in self.segments() for v in seg]

    def log_tail(self, n=4000):
        try:
            with open(os.path.join(self.conf_dir, "twinkle.log"), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.alive():
            try:
                self.command("quit")
                self.proc.popen.stdin.close()
            except (OSError, ValueError):
                pass
            if self.proc.wait(5) is None:
                self.proc.stop()
        self.mic.stop()
