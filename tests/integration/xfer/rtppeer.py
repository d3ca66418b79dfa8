"""A party's RTP for the hand-made UAs of the transfer tests: sends a 50 pps stream
(one SSRC, sequence and timestamps continuous) to the address trunxd offered, and
counts what arrives, by payload type; with SDES keys (AES_CM_128_HMAC_SHA1_80,
RFC 3711) it protects what it sends and authenticates and decrypts what it gets,
counting only packets whose tag checks out."""
import base64
import ctypes
import ctypes.util
import hashlib
import hmac
import os
import re
import socket
import struct
import threading
import time

SUITE = "AES_CM_128_HMAC_SHA1_80"

_crypto = None


def _aes_ctr(key, iv, data):
    """AES-128 in counter mode by the system's libcrypto (OpenSSL, a build dependency
    of trunx already): no Python package needed."""
    global _crypto
    if _crypto is None:
        lib = ctypes.CDLL(ctypes.util.find_library("crypto") or "libcrypto.so.3")
        lib.EVP_CIPHER_CTX_new.restype = ctypes.c_void_p
        lib.EVP_aes_128_ctr.restype = ctypes.c_void_p
        lib.EVP_EncryptInit_ex.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                           ctypes.c_char_p, ctypes.c_char_p]
        lib.EVP_EncryptUpdate.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                          ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                          ctypes.c_int]
        lib.EVP_CIPHER_CTX_free.argtypes = [ctypes.c_void_p]
        _crypto = lib
    ctx = _crypto.EVP_CIPHER_CTX_new()
    out = ctypes.create_string_buffer(len(data) + 16)
    n = ctypes.c_int(0)
    try:
        if _crypto.EVP_EncryptInit_ex(ctx, _crypto.EVP_aes_128_ctr(), None, key, iv) != 1 or \
                _crypto.EVP_EncryptUpdate(ctx, out, ctypes.byref(n), data, len(data)) != 1:
            raise RuntimeError("libcrypto AES-CTR failed")
    finally:
        _crypto.EVP_CIPHER_CTX_free(ctx)
    return out.raw[:n.value]


def offered(body):
    """(address, port, [pt...], {tag: (suite, key_b64)}) of an SDP's audio line."""
    text = body.decode(errors="replace") if isinstance(body, bytes) else body
    addr = re.search(r"^c=IN IP4 (\S+)", text, re.M).group(1)
    m = re.search(r"^m=audio (\d+) (\S+) ([\d ]+)", text, re.M)
    cryptos = {int(t): (s, k.split("|")[0]) for t, s, k in
               re.findall(r"^a=crypto:(\d+) (\S+) inline:(\S+)", text, re.M)}
    return addr, int(m.group(1)), [int(x) for x in m.group(3).split()], cryptos


def answer_sdp(ip, port, pts, key_b64=None, tag=1, sess=5151):
    """An answer: pts [(pt, "name/rate")], RTP/SAVP with our key when key_b64."""
    lines = ["v=0", "o=- %d 1 IN IP4 %s" % (sess, ip), "s=-", "c=IN IP4 %s" % ip, "t=0 0",
             "m=audio %d %s %s" % (port, "RTP/SAVP" if key_b64 else "RTP/AVP",
                                   " ".join(str(p) for p, _ in pts))]
    lines += ["a=rtpmap:%d %s" % (p, n) for p, n in pts]
    if key_b64:
        lines.append("a=crypto:%d %s inline:%s" % (tag, SUITE, key_b64))
    return ("\r\n".join(lines) + "\r\n").encode()


def new_key():
    return base64.b64encode(os.urandom(30)).decode()


class _Srtp:
    """One direction's SRTP context (RFC 3711, AES-CM and HMAC-SHA1-80)."""

    def __init__(self, key_b64):
        raw = base64.b64decode(key_b64)
        mk, ms = raw[:16], raw[16:30]
        self.k_e = self._prf(mk, ms, 0, 16)
        self.k_a = self._prf(mk, ms, 1, 20)
        self.k_s = self._prf(mk, ms, 2, 14)
        self.roc = 0
        self.last_seq = None

    @staticmethod
    def _ctr(key, iv, data):
        return _aes_ctr(key, iv, data)

    def _prf(self, mk, ms, label, n):
        x = bytearray(ms)
        x[7] ^= label          # key id = label || index (0), right-aligned under the salt
        return self._ctr(mk, bytes(x) + b"\0\0", b"\0" * n)

    def _iv(self, ssrc, index):
        iv = bytearray(self.k_s + b"\0\0")
        for i, b in enumerate(struct.pack("!I", ssrc)):
            iv[4 + i] ^= b
        for i, b in enumerate(struct.pack("!Q", index)[2:]):
            iv[8 + i] ^= b
        return bytes(iv)

    def protect(self, hdr, payload, seq, ssrc, roc):
        enc = self._ctr(self.k_e, self._iv(ssrc, (roc << 16) | seq), payload)
        tag = hmac.new(self.k_a, hdr + enc + struct.pack("!I", roc), hashlib.sha1).digest()
        return hdr + enc + tag[:10]

    def unprotect(self, pkt):
        if len(pkt) < 22:
            return None
        seq, ssrc = struct.unpack("!H", pkt[2:4])[0], struct.unpack("!I", pkt[8:12])[0]
        roc = self.roc
        if self.last_seq is not None and seq < 0x1000 and self.last_seq > 0xF000:
            roc += 1
        body, tag = pkt[:-10], pkt[-10:]
        want = hmac.new(self.k_a, body + struct.pack("!I", roc), hashlib.sha1).digest()[:10]
        if not hmac.compare_digest(tag, want):
            return None
        self.roc, self.last_seq = roc, seq
        return body[:12] + self._ctr(self.k_e, self._iv(ssrc, (roc << 16) | seq), body[12:])


class RtpPeer:
    """Sends pt at 50 pps from sock to dest (20 ms of `fill` bytes, or Opus-size frames
    of it); counts RTP received per payload type (self.got)."""

    def __init__(self, sock, dest, pt, rate=8000, fill=0xD5, tx_key=None, rx_key=None):
        self.sock, self.dest, self.pt = sock, dest, pt
        self.step = rate // 50
        self.fill = fill
        self.tx = _Srtp(tx_key) if tx_key else None
        self.rx = _Srtp(rx_key) if rx_key else None
        self.got = {}
        self.bad = 0
        self.sent = 0
        self.stop_ev = threading.Event()
        self.sock.settimeout(0.005)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def count(self, pt=None):
        return sum(self.got.values()) if pt is None else self.got.get(pt, 0)

    def _run(self):
        ssrc = struct.unpack("!I", os.urandom(4))[0]
        seq = 1000
        ts = 5000
        due = time.monotonic()
        payload = bytes([self.fill]) * 160
        while not self.stop_ev.is_set():
            now = time.monotonic()
            if now >= due:
                hdr = struct.pack("!BBHII", 0x80, self.pt, seq, ts, ssrc)
                pkt = self.tx.protect(hdr, payload, seq, ssrc, 0) if self.tx else \
                    hdr + payload
                try:
                    self.sock.sendto(pkt, self.dest)
                    self.sent += 1
                except OSError:
                    pass
                seq, ts, due = seq + 1, ts + self.step, due + 0.02
            try:
                data, _ = self.sock.recvfrom(2048)
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            if len(data) < 12 or data[0] >> 6 != 2 or 72 <= (data[1] & 0x7F) <= 76:
                continue
            if self.rx:
                data = self.rx.unprotect(data)
                if data is None:
                    self.bad += 1
                    continue
            pt = data[1] & 0x7F
            self.got[pt] = self.got.get(pt, 0) + 1

    def stop(self):
        self.stop_ev.set()
        self.thread.join(2)
