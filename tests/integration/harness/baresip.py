"""baresip (Debian baresip-core) as a real UA in tests: a headless instance with its
own config dir, SIP on a free loopback port, one account with the codecs (and SRTP)
asked for, a WAV file as its microphone (aufile) and what it hears written to WAV
(sndfile), driven over ctrl_tcp (netstring JSON: dial, sndcode, hangup, quit; events
such as CALL_ESTABLISHED and CALL_DTMF_START come back on the same connection).

Also the tone analysis the media tests check heard audio with: per 20 ms frame, the
dominant frequency (an FFT peak, parabolic interpolation) and level, so a tone's
frequency, level and the share of its duration it was present can be asserted.
"""
import glob
import json
import math
import os
import shutil
import socket
import struct
import time
import wave

from . import ports, procs

MODULES = "/usr/lib/baresip/modules"


def available():
    return shutil.which("baresip") is not None and os.path.isdir(MODULES)


def write_codec_tone(path, hz, dbfs, seconds, codec):
    """write_tone at the rate and channel count baresip's aufile needs for codec (an
    SDP name such as "opus/48000/2" or "PCMU/8000")."""
    opus = codec.lower().startswith("opus")
    write_tone(path, hz, dbfs, seconds, 48000 if opus else 8000, 2 if opus else 1)


def write_tone(path, hz, dbfs, seconds, rate, channels=1):
    """A 16-bit sine WAV (aufile needs the codec's rate and channel count)."""
    amp = 32767 * 10 ** (dbfs / 20.0)
    n = int(seconds * rate)
    with wave.open(path, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(amp * math.sin(2 * math.pi * hz * i / rate))) * channels
            for i in range(n)))


class Baresip:
    def __init__(self, ctx, name, codecs, tone_wav, srtp=None, answer=False,
                 transport="udp", extra_conf=None, user=None, tls_cert=None):
        """tls_cert: a PEM file with key and certificate; SIP over TLS is then served on
        sip_port + 1 (baresip's fixed rule), kept in tls_port."""
        self.ctx = ctx
        self.name = name
        self.dir = ctx.path(name)
        os.makedirs(self.dir, exist_ok=True)
        self.snd_dir = os.path.join(self.dir, "heard")
        os.makedirs(self.snd_dir, exist_ok=True)
        # baresip binds SIP/TLS on sip_port + 1 whether or not a certificate is given,
        # so both ports of the pair must be free and not handed out to anyone else.
        self.sip_port = ports.free_pair("127.0.0.1")
        self.tls_port = self.sip_port + 1 if tls_cert else None
        self.ctrl_port = ports.free_port("127.0.0.1", avoid=(self.sip_port,))
        rtp = ports.free_range(40, "127.0.0.1", avoid=(self.sip_port, self.ctrl_port))
        conf = [
            "poll_method epoll",
            "sip_listen 127.0.0.1:%d" % self.sip_port,
            "sip_trans_def %s" % transport,
            "net_interface 127.0.0.1",
            "audio_player aubridge,nil",
            "audio_source aufile,%s" % tone_wav,
            "audio_alert aubridge,nil",
            "rtp_ports %d-%d" % (rtp[0], rtp[-1]),
            "rtcp_mux no",
            "jitter_buffer_delay 1-10",
            "module_path %s" % MODULES,
            "module g711.so", "module opus.so", "module aufile.so", "module aubridge.so",
            "module srtp.so", "module sndfile.so",
            "module_app account.so", "module_app ctrl_tcp.so", "module_app menu.so",
            "ctrl_tcp_listen 127.0.0.1:%d" % self.ctrl_port,
            "snd_path %s" % self.snd_dir,
            "opus_bitrate 32000",
        ] + (["sip_certificate %s" % tls_cert] if tls_cert else []) + list(extra_conf or [])
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join(conf) + "\n")
        params = ["regint=0", "audio_codecs=%s" % ",".join(codecs)]
        if answer:
            params.append("answermode=auto")
        if srtp:
            params.append("mediaenc=%s" % srtp)
        acc = "<sip:%s@127.0.0.1:%d;transport=%s>;%s" % (
            user or name, self.tls_port if transport == "tls" else self.sip_port, transport,
            ";".join(params))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(acc + "\n")
        self.proc = None
        self.sock = None
        self.buf = b""
        self.events = []

    def start(self, timeout=15.0):
        self.proc = self.ctx.reg.start(self.name, ["baresip", "-f", self.dir])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise AssertionError("%s exited: %s" % (self.name, self.proc.read_stderr()[-2000:]
                                                        + self.proc.read_stdout()[-2000:]))
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.ctrl_port), 0.5)
                self.sock.settimeout(0.2)
                return self
            except OSError:
                time.sleep(0.1)
        raise AssertionError("%s: ctrl_tcp not up" % self.name)

    # ---- control ---------------------------------------------------------------------

    def command(self, cmd, params=""):
        body = json.dumps({"command": cmd, "params": params, "token": cmd}).encode()
        self.sock.sendall(b"%d:%s," % (len(body), body))

    def _read(self):
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        except OSError:
            return
        self.buf += data
        while True:
            colon = self.buf.find(b":")
            if colon <= 0:
                return
            try:
                n = int(self.buf[:colon])
            except ValueError:
                self.buf = b""
                return
            if len(self.buf) < colon + 1 + n + 1:
                return
            msg = self.buf[colon + 1:colon + 1 + n]
            self.buf = self.buf[colon + 2 + n:]
            try:
                self.events.append(json.loads(msg))
            except ValueError:
                pass

    def wait_event(self, typ, timeout=10.0, count=1):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._read()
            got = [e for e in self.events if e.get("type") == typ]
            if len(got) >= count:
                return got
        return [e for e in self.events if e.get("type") == typ]

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._read()

    def stop(self):
        if self.sock:
            try:
                self.command("quit")
            except OSError:
                pass
        if self.proc and self.proc.alive():
            if self.proc.wait(3) is None:
                self.proc.stop()
        if self.sock:
            self.sock.close()
            self.sock = None

    def heard_wav(self):
        """The WAV of decoded audio received (sndfile's -dec file), or None."""
        files = sorted(glob.glob(os.path.join(self.snd_dir, "*dec*.wav")))
        return files[-1] if files else None


# ---- analysis -----------------------------------------------------------------------

def read_wav(path):
    with wave.open(path, "rb") as w:
        rate = w.getframerate()
        ch = w.getnchannels()
        data = w.readframes(w.getnframes())
    s = struct.unpack("<%dh" % (len(data) // 2), data)
    if ch > 1:
        s = s[::ch]
    return list(s), rate


def _fft(x):
    n = len(x)
    if n <= 1:
        return x
    even = _fft(x[0::2])
    odd = _fft(x[1::2])
    out = [0j] * n
    for k in range(n // 2):
        t = complex(math.cos(-2 * math.pi * k / n), math.sin(-2 * math.pi * k / n)) * odd[k]
        out[k] = even[k] + t
        out[k + n // 2] = even[k] - t
    return out


def frame_tone(samples, rate):
    """(peak frequency Hz, level dBFS, tonality 0..1) of one frame (Hann window,
    zero-padded to a power of two with 2x oversampling, parabolic peak)."""
    n = 1
    while n < 2 * len(samples):
        n *= 2
    m = len(samples)
    w = [samples[i] * (0.5 - 0.5 * math.cos(2 * math.pi * i / (m - 1))) for i in range(m)]
    spec = _fft([complex(v, 0) for v in w] + [0j] * (n - m))
    mag = [abs(c) for c in spec[:n // 2]]
    k = max(range(1, n // 2 - 1), key=lambda i: mag[i])
    a, b, c = mag[k - 1], mag[k], mag[k + 1]
    d = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0
    hz = (k + d) * rate / n
    rms = math.sqrt(sum(v * v for v in samples) / m) if m else 0
    db = 20 * math.log10(rms / 32768.0 + 1e-9) + 3.0103   # a sine's RMS is -3 dB of its peak
    tot = sum(v * v for v in mag) + 1e-9
    near = sum(mag[i] ** 2 for i in range(max(0, k - 3), min(len(mag), k + 4)))
    return hz, db, near / tot


def tone_presence(samples, rate, hz, dbfs, hz_tol=10.0, db_tol=3.0, frame_ms=20):
    """Share of 20 ms frames carrying the tone (frequency within hz_tol, level within
    db_tol, mostly one spectral line), and the median frequency and level of those."""
    f = int(rate * frame_ms / 1000)
    frames = [samples[i:i + f] for i in range(0, len(samples) - f + 1, f)]
    good, fs, ls = 0, [], []
    for fr in frames:
        h, l, tonal = frame_tone(fr, rate)
        if abs(h - hz) <= hz_tol and abs(l - dbfs) <= db_tol and tonal > 0.8:
            good += 1
            fs.append(h)
            ls.append(l)
    fs.sort()
    ls.sort()
    return (good / len(frames) if frames else 0.0,
            fs[len(fs) // 2] if fs else None, ls[len(ls) // 2] if ls else None)
