"""A small raw SIP endpoint for hand-made messages: readiness probes (OPTIONS),
malformed and torture messages, unknown sources, Via tricks. UDP or TCP.

It does just enough SIP to send a request and read what comes back: no transaction
layer, no retransmission unless asked.
"""
import random
import re
import socket
import time


def rand_token(n=10):
    return "".join(random.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(n))


class Message:
    """A parsed SIP message (request or response)."""

    def __init__(self, raw, src=None):
        self.raw = raw
        self.src = src
        head, _, body = raw.partition(b"\r\n\r\n")
        if not _:
            head, _, body = raw.partition(b"\n\n")
        lines = head.decode("utf-8", "replace").replace("\r\n", "\n").split("\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                k, v = self.headers[-1]
                self.headers[-1] = (k, v + " " + line.strip())
            elif ":" in line:
                k, v = line.split(":", 1)
                self.headers.append((k.strip(), v.strip()))
        self.body = body
        self.status = None
        self.reason = None
        self.method = None
        m = re.match(r"SIP/2\.0\s+(\d{3})\s*(.*)", self.start)
        if m:
            self.status = int(m.group(1))
            self.reason = m.group(2)
        else:
            self.method = self.start.split(" ", 1)[0]

    _compact = {"v": "via", "f": "from", "t": "to", "i": "call-id", "m": "contact",
                "l": "content-length", "c": "content-type", "k": "supported",
                "s": "subject", "e": "content-encoding"}

    def _norm(self, name):
        n = name.lower()
        return self._compact.get(n, n)

    def header(self, name, default=None):
        """First value of a header (compact forms understood)."""
        want = self._norm(name)
        for k, v in self.headers:
            if self._norm(k) == want:
                return v
        return default

    def header_all(self, name):
        want = self._norm(name)
        return [v for k, v in self.headers if self._norm(k) == want]

    def __repr__(self):
        return "<SIP %s>" % self.start


def split_stream(buf):
    """Splits complete messages off a TCP byte stream; returns (messages, rest)."""
    out = []
    while True:
        i = buf.find(b"\r\n\r\n")
        if i < 0:
            return out, buf
        head = buf[:i].decode("utf-8", "replace")
        m = re.search(r"(?im)^(?:content-length|l)\s*:\s*(\d+)", head)
        blen = int(m.group(1)) if m else 0
        end = i + 4 + blen
        if len(buf) < end:
            return out, buf
        out.append(buf[:end])
        buf = buf[end:]


def read_messages(sock, timeout, want=1):
    """SIP messages read from a stream socket (TCP or TLS) until `want` arrived, the
    peer closed, or timeout: (messages, closed). A reset or TLS error counts as closed."""
    buf, out = b"", []
    end = time.monotonic() + timeout
    while time.monotonic() < end and len(out) < want:
        sock.settimeout(max(0.01, end - time.monotonic()))
        try:
            d = sock.recv(65536)
        except socket.timeout:
            break
        except OSError:   # ssl.SSLError is one too
            return out, True
        if not d:
            return out, True
        buf += d
        msgs, buf = split_stream(buf)
        out += [Message(m) for m in msgs]
    return out, False


def _family(ip):
    return socket.AF_INET6 if ":" in ip else socket.AF_INET


def _host(ip):
    """An IP literal as a SIP host: IPv6 in brackets."""
    return "[%s]" % ip if ":" in ip and not ip.startswith("[") else ip


class Endpoint:
    """A SIP endpoint on one local socket. transport: 'udp', 'tcp' or 'tls' (with an
    ssl.SSLContext in tls_ctx: the connection is wrapped once connected)."""

    def __init__(self, ip="127.0.0.1", port=0, transport="udp", tls_ctx=None):
        self.ip = ip
        self.transport = transport
        self.tls_ctx = tls_ctx
        self.sock = None
        self.peer = None
        self._buf = b""
        self._queue = []
        if transport == "udp":
            self.sock = socket.socket(_family(ip), socket.SOCK_DGRAM)
            self.sock.bind((ip, port))
            self.port = self.sock.getsockname()[1]
        else:
            self.port = port   # bound at connect()

    def connect(self, dest, timeout=5.0):
        """TCP only: connects to dest (host, port)."""
        s = socket.socket(_family(self.ip), socket.SOCK_STREAM)
        s.bind((self.ip, self.port))
        s.settimeout(timeout)
        s.connect(dest)
        if self.transport == "tls":
            try:
                s = self.tls_ctx.wrap_socket(s)
            except Exception:
                s.close()
                raise
        self.sock = s
        self.port = s.getsockname()[1]
        self.peer = dest
        return self

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data, dest):
        if isinstance(data, str):
            data = data.encode()
        if self.transport == "udp":
            self.sock.sendto(data, dest)
        else:
            if self.sock is None:
                self.connect(dest)
            self.sock.sendall(data)

    def recv(self, timeout):
        """The next message within timeout seconds, or None."""
        if self._queue:
            return self._queue.pop(0)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                if self.transport == "udp":
                    data, src = self.sock.recvfrom(65535)
                    return Message(data, src)
                data = self.sock.recv(65535)
            except (socket.timeout, BlockingIOError):
                return None
            except (ConnectionError, OSError):   # ssl.SSLError is an OSError
                return None
            if not data:
                return None
            self._buf += data
            msgs, self._buf = split_stream(self._buf)
            self._queue.extend(Message(m, self.peer) for m in msgs)
            if self._queue:
                return self._queue.pop(0)

    def wait_final(self, timeout, call_id=None, method=None):
        """Waits for a final (>= 200) response, optionally for one Call-ID / CSeq method.
        Returns (final or None, [provisionals])."""
        prov = []
        deadline = time.monotonic() + timeout
        while True:
            m = self.recv(max(0.0, deadline - time.monotonic()))
            if m is None:
                return None, prov
            if m.status is None:
                continue
            if call_id and m.header("Call-ID") != call_id:
                continue
            if method and not (m.header("CSeq") or "").upper().endswith(method.upper()):
                continue
            if m.status < 200:
                prov.append(m)
                continue
            return m, prov

    def request(self, method, dest, ruri=None, headers=(), body=b"", via_host=None,
                via_port=None, via_transport=None, rport=True, call_id=None,
                from_user="tester", to_user=None, cseq=1, max_forwards=70,
                content_type="application/sdp"):
        """Builds a request; returns (bytes, call_id, branch)."""
        if isinstance(body, str):
            body = body.encode()
        call_id = call_id or rand_token(16) + "@itest"
        branch = "z9hG4bK" + rand_token(12)
        vh = via_host or _host(self.ip)
        vp = via_port if via_port is not None else self.port
        vt = (via_transport or self.transport).upper()
        ruri = ruri or "sip:%s@%s:%d" % (to_user or "service", _host(dest[0]), dest[1])
        to_uri = ruri if to_user is None else "sip:%s@%s:%d" % (to_user, _host(dest[0]),
                                                                dest[1])
        lines = [
            "%s %s SIP/2.0" % (method, ruri),
            "Via: SIP/2.0/%s %s%s;branch=%s%s" % (vt, vh, ":%d" % vp if vp else "", branch,
                                                 ";rport" if rport else ""),
            "From: <sip:%s@%s:%d>;tag=%s" % (from_user, _host(self.ip), self.port,
                                             rand_token(8)),
            "To: <%s>" % to_uri,
            "Call-ID: %s" % call_id,
            "CSeq: %d %s" % (cseq, method),
            "Contact: <sip:%s@%s:%d;transport=%s>" % (from_user, _host(self.ip), self.port,
                                                      self.transport),
        ]
        if max_forwards is not None:
            lines.append("Max-Forwards: %d" % max_forwards)
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % content_type)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        return data, call_id, branch

    def options(self, dest, timeout=2.0, **kw):
        """Sends one OPTIONS and returns (final response or None, seconds taken)."""
        data, cid, _ = self.request("OPTIONS", dest, content_type=None, **kw)
        t0 = time.monotonic()
        self.send(data, dest)
        final, _ = self.wait_final(timeout, call_id=cid)
        return final, time.monotonic() - t0


def recv_final(sock, call_id, timeout=5.0, status=None, prefix=False):
    """The first final response (>= 200, and `status` if given) to a request of
    call_id (or of a Call-ID starting with it) read from a datagram socket within
    timeout; anything else read meanwhile is skipped. None if none came."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            m = Message(sock.recv(65536))
        except socket.timeout:
            continue
        cid = m.header("Call-ID") or ""
        if not (cid.startswith(call_id) if prefix else cid == call_id):
            continue
        if m.status and m.status >= 200 and (status is None or m.status == status):
            return m
    return None


def sdp_offer(ip, port, pts=((8, "PCMA/8000"), (0, "PCMU/8000"), (101, "telephone-event/8000")),
              direction=None):
    af = "IP6" if ":" in ip else "IP4"
    lines = ["v=0", "o=- %d 1 IN %s %s" % (random.randint(1, 1 << 30), af, ip), "s=-",
             "c=IN %s %s" % (af, ip), "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(str(p) for p, _ in pts))]
    for p, n in pts:
        lines.append("a=rtpmap:%d %s" % (p, n))
    if direction:
        lines.append("a=%s" % direction)
    return ("\r\n".join(lines) + "\r\n").encode()
