"""A small SIP user agent for tests that need to act inside dialogs: make a call through
trunxd or take one from it, then send in-dialog requests by hand (re-INVITE, UPDATE,
INFO, BYE, CANCEL), optionally altered byte by byte, and answer what trunxd sends.

One UDP socket (or one TCP connection toward trunxd); a reader thread queues every
message. With auto=True the UA also answers requests by itself (new INVITEs 200 with
SDP, offers with an answer, BYE/INFO/OPTIONS 200, CANCEL 200 + 487), so a stream of
traffic never leaves a transaction of trunxd's waiting. Enough of RFC 3261 for
loopback tests; no retransmission of its own.
"""
import queue
import random
import re
import socket
import threading
import time

from . import sipmsg

_SDP_DIR = re.compile(rb"a=(sendrecv|sendonly|recvonly|inactive)")


def _tag(msg_header):
    m = re.search(r";\s*tag=([^;>\s]+)", msg_header or "")
    return m.group(1) if m else None


def _uri_of(name_addr):
    """The URI of a From/To/Contact value."""
    v = (name_addr or "").strip()
    m = re.search(r"<([^>]*)>", v)
    if m:
        return m.group(1)
    return v.split(";")[0].strip()


def record_routes(msg):
    """The Record-Route entries of a message, top first (one per URI, whether the
    proxies wrote one header each or a comma-separated list)."""
    out = []
    for v in msg.header_all("Record-Route"):
        out += [e.strip() for e in re.split(r",\s*(?=<)", v) if e.strip()]
    return out


def sdp(ip, port, version=1, direction=None, sess=None, pts=None):
    """An audio SDP (PCMA, PCMU, telephone-event) with the given o= version."""
    pts = pts or ((8, "PCMA/8000"), (0, "PCMU/8000"), (101, "telephone-event/8000"))
    lines = ["v=0", "o=- %d %d IN IP4 %s" % (sess or 4242, version, ip), "s=-",
             "c=IN IP4 %s" % ip, "t=0 0",
             "m=audio %d RTP/AVP %s" % (port, " ".join(str(p) for p, _ in pts))]
    lines += ["a=rtpmap:%d %s" % (p, n) for p, n in pts]
    if direction:
        lines.append("a=%s" % direction)
    return ("\r\n".join(lines) + "\r\n").encode()


def sdp_direction(body):
    m = _SDP_DIR.search(body or b"")
    return m.group(1).decode() if m else "sendrecv"


class Dialog:
    """One dialog as the UA sees it."""

    def __init__(self, ua, call_id, local_tag, remote_tag, local_uri, remote_uri, target,
                 dest, cseq=1, uac=True):
        self.ua = ua
        self.call_id = call_id
        self.local_tag = local_tag
        self.remote_tag = remote_tag
        self.local_uri = local_uri
        self.remote_uri = remote_uri
        self.target = target          # request-URI of requests we send
        self.dest = dest              # (ip, port) they go to
        self.cseq = cseq
        self.uac = uac
        self.sdp_version = 1
        self.media_port = ua.media_port
        self.last_offer_dir = "sendrecv"
        self.ended = False
        self.route = []               # route set (RFC 3261 12.1): Route values in order

    def build(self, method, body=b"", headers=(), contact=None, cseq=None, branch=None,
              content_type="application/sdp"):
        """Builds an in-dialog request; returns (bytes, cseq, branch)."""
        if cseq is None:
            self.cseq += 1
            cseq = self.cseq
        branch = branch or "z9hG4bK" + sipmsg.rand_token(12)
        contact = self.ua.contact if contact is None else contact
        lines = ["%s %s SIP/2.0" % (method, self.target),
                 "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.ua.transport.upper(),
                                                          self.ua.ip, self.ua.port, branch),
                 "Max-Forwards: 70",
                 "From: <%s>;tag=%s" % (self.local_uri, self.local_tag),
                 "To: <%s>;tag=%s" % (self.remote_uri, self.remote_tag),
                 "Call-ID: %s" % self.call_id,
                 "CSeq: %d %s" % (cseq, method)]
        if contact:
            lines.append("Contact: %s" % contact)
        lines += ["Route: %s" % r for r in self.route]
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % content_type)
        lines.append("Content-Length: %d" % len(body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body, cseq, branch

    def send(self, method, body=b"", headers=(), contact=None, mutate=None, src=None):
        """Sends an in-dialog request (mutate: bytes -> bytes); returns (cseq, branch,
        bytes sent)."""
        data, cseq, branch = self.build(method, body, headers, contact)
        if mutate:
            data = mutate(data)
        if src is not None:
            src.send(data, self.dest)
        else:
            self.ua.send(data, self.dest)
        return cseq, branch, data

    def offer(self, direction=None, method="INVITE", **kw):
        self.sdp_version += 1
        body = sdp(self.ua.ip, self.media_port, self.sdp_version, direction)
        return self.send(method, body, **kw)

    def ack(self, cseq, body=b"", branch=None):
        """ACK of our INVITE cseq: a new transaction for a 2xx, the INVITE's branch
        for a failure."""
        data, _, _ = self.build("ACK", body, cseq=cseq, branch=branch)
        self.ua.send(data, self.dest)

    def cancel(self, invite_bytes):
        """CANCEL of a request we sent (same Via branch, CSeq number, request-URI)."""
        head = invite_bytes.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        lines = head.split("\r\n")
        keep = [l for l in lines[1:] if re.match(r"(?i)(via|from|to|call-id|max-forwards):",
                                                 l)]
        m = re.search(r"(?im)^CSeq:\s*(\d+)", head)
        if not m or " " not in lines[0]:
            return   # a mangled request: nothing to cancel
        cseq = m.group(1)
        ruri = lines[0].split(" ")[1]
        out = ["CANCEL %s SIP/2.0" % ruri] + keep + ["CSeq: %s CANCEL" % cseq,
                                                      "Content-Length: 0"]
        self.ua.send(("\r\n".join(out) + "\r\n\r\n").encode(), self.dest)

    def wait_final(self, cseq, method, timeout=5.0):
        """The final response to our request (cseq, method), or None."""
        return self.ua.wait(lambda m: m.status is not None and m.status >= 200 and
                            m.header("Call-ID") == self.call_id and
                            (m.header("CSeq") or "").split() == [str(cseq), method],
                            timeout)

    def bye(self, timeout=5.0):
        cseq, _, _ = self.send("BYE")
        r = self.wait_final(cseq, "BYE", timeout)
        self.ended = True
        return r


class UA:
    """A SIP user agent on ip (UDP, or TCP toward one peer)."""

    def __init__(self, ip="127.0.0.1", name="ua", auto=False, transport="udp",
                 answer_delay=0.0):
        self.ip = ip
        self.name = name
        self.auto = auto
        self.transport = transport
        self.answer_delay = answer_delay
        self.mutate_responses = None    # bytes -> bytes, applied to every response sent
        self.answer_body = None     # fn(INVITE) -> the SDP of our answer (None: ours)
        self.answer_type = "application/sdp"   # its Content-Type
        self.inbox = []
        self.cond = threading.Condition()
        self.dialogs = {}           # (call_id, local_tag) -> Dialog
        self.requests_seen = []     # every request received (method, call_id)
        self.requests_got = []      # every request received (Message, with its source)
        self.stop_ev = threading.Event()
        self.tcp_peer = None
        self._buf = b""
        if transport == "udp":
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.bind((ip, 0))
            self.port = self.sock.getsockname()[1]
        else:
            self.sock = None
            self.port = 0
        self.media = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.media.bind((ip, 0))
        self.media_port = self.media.getsockname()[1]
        self.thread = None
        if transport == "udp":
            self._start()

    @property
    def contact(self):
        return "<sip:%s@%s:%d;transport=%s>" % (self.name, self.ip, self.port, self.transport)

    def connect(self, dest, timeout=5.0):
        """TCP: connects to trunxd and starts reading."""
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((self.ip, 0))
        s.settimeout(timeout)
        s.connect(dest)
        s.settimeout(0.2)
        self.sock = s
        self.port = s.getsockname()[1]
        self.tcp_peer = dest
        self._start()
        return self

    def _start(self):
        self.thread = threading.Thread(target=self._reader, daemon=True)
        self.thread.start()

    def close(self):
        self.stop_ev.set()
        if self.thread:
            self.thread.join(2)
        for s in (self.sock, self.media):
            if s:
                try:
                    s.close()
                except OSError:
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    # ---- I/O -------------------------------------------------------------------------

    def send(self, data, dest):
        if isinstance(data, str):
            data = data.encode()
        try:
            if self.transport == "udp":
                self.sock.sendto(data, dest)
            else:
                self.sock.sendall(data)
        except OSError:
            pass

    def _reader(self):
        if self.transport == "udp":
            self.sock.settimeout(0.2)
        while not self.stop_ev.is_set():
            try:
                if self.transport == "udp":
                    data, src = self.sock.recvfrom(65535)
                    msgs = [sipmsg.Message(data, src)]
                else:
                    data = self.sock.recv(65535)
                    if not data:
                        return
                    self._buf += data
                    raw, self._buf = sipmsg.split_stream(self._buf)
                    msgs = [sipmsg.Message(r, self.tcp_peer) for r in raw]
            except (socket.timeout, BlockingIOError):
                continue
            except OSError:
                return
            for m in msgs:
                if m.method:
                    self.requests_seen.append((m.method, m.header("Call-ID")))
                    self.requests_got.append(m)
                if self.auto and m.method:
                    try:
                        self._auto_answer(m)
                    except Exception:   # a mangled message: never kill the reader
                        pass
                with self.cond:
                    self.inbox.append(m)
                    self.cond.notify_all()

    def wait(self, pred, timeout=5.0):
        """Takes the first queued message matching pred (waiting up to timeout)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i, m in enumerate(self.inbox):
                    try:
                        ok = pred(m)
                    except Exception:
                        ok = False
                    if ok:
                        return self.inbox.pop(i)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)

    def wait_request(self, method, call_id=None, timeout=5.0):
        return self.wait(lambda m: m.method == method and
                         (call_id is None or m.header("Call-ID") == call_id), timeout)

    def wait_in_dialog(self, method, call_id, timeout=5.0):
        """A request of call_id's dialog (one with a To tag): not a late copy of the
        dialog's initial INVITE, which a busy peer resends until it is answered."""
        return self.wait(lambda m: m.method == method and m.header("Call-ID") == call_id
                         and _tag(m.header("To") or ""), timeout)

    def drain(self):
        with self.cond:
            self.inbox = []

    # ---- responses -------------------------------------------------------------------

    def respond(self, req, status, reason=None, body=b"", headers=(), to_tag=None,
                content_type="application/sdp"):
        reason = reason or {100: "Trying", 180: "Ringing", 183: "Session Progress",
                            200: "OK", 481: "Call Does Not Exist", 486: "Busy Here",
                            487: "Request Terminated", 488: "Not Acceptable Here",
                            491: "Request Pending", 405: "Method Not Allowed"}.get(status,
                                                                                  "Reason")
        to = req.header("To") or ""
        if to_tag and not _tag(to):
            to += ";tag=%s" % to_tag
        lines = ["SIP/2.0 %d %s" % (status, reason)]
        lines += ["Via: %s" % v for v in req.header_all("Via")]
        lines += ["From: %s" % (req.header("From") or ""), "To: %s" % to,
                  "Call-ID: %s" % (req.header("Call-ID") or ""),
                  "CSeq: %s" % (req.header("CSeq") or "")]
        if 200 <= status < 300 or 100 < status < 200:
            lines.append("Contact: %s" % self.contact)
            # RFC 3261 12.1.1: a UAS copies the Record-Route of the request.
            lines += ["Record-Route: %s" % v for v in req.header_all("Record-Route")]
        lines += list(headers)
        if body:
            lines.append("Content-Type: %s" % content_type)
        lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        if self.mutate_responses:
            data = self.mutate_responses(data)
        self.send(data, req.src if self.transport == "udp" else self.tcp_peer)

    def _dialog_for(self, req):
        to_tag = _tag(req.header("To"))
        return self.dialogs.get((req.header("Call-ID"), to_tag))

    def _auto_answer(self, m):
        """Answers what a well-behaved peer would (auto mode)."""
        if self.answer_delay:
            time.sleep(self.answer_delay)
        meth = m.method
        if meth == "ACK":
            return
        if meth == "INVITE" and not _tag(m.header("To")):
            self.accept_request(m)
            return
        d = self._dialog_for(m)
        if meth == "CANCEL":
            self.respond(m, 200)
            return
        if d is None:
            self.respond(m, 481)
            return
        if meth in ("INVITE", "UPDATE"):
            d.sdp_version += 1
            if m.body:
                want = {"sendonly": "recvonly", "recvonly": "sendonly",
                        "inactive": "inactive"}.get(sdp_direction(m.body))
            else:
                want = None
            body = sdp(self.ip, d.media_port, d.sdp_version, want)
            self.respond(m, 200, body=body)
            return
        if meth == "BYE":
            d.ended = True
        self.respond(m, 200 if meth in ("BYE", "INFO", "OPTIONS", "PRACK", "NOTIFY")
                     else 405)

    # ---- calls -----------------------------------------------------------------------

    def accept_request(self, inv, status=200, ring=False):
        """Answers a new INVITE (100, optional 180, final); returns the Dialog."""
        tag = sipmsg.rand_token(8)
        self.respond(inv, 100)
        if ring:
            self.respond(inv, 180, to_tag=tag)
        body = b""
        if status == 200:
            body = self.answer_body(inv) if self.answer_body else sdp(self.ip, self.media_port)
        if status != 200:
            self.respond(inv, status, body=body, to_tag=tag, content_type=self.answer_type)
            return None
        # The dialog is known before its 200 leaves: the caller may see the 200
        # (relayed) and look for this dialog before this thread runs again.
        frm = inv.header("From") or ""
        d = Dialog(self, inv.header("Call-ID"), tag, _tag(frm), _uri_of(inv.header("To")),
                   _uri_of(frm), _uri_of(inv.header("Contact")) or _uri_of(frm),
                   inv.src if self.transport == "udp" else self.tcp_peer,
                   cseq=random.randint(1, 1000), uac=False)
        d.route = record_routes(inv)
        self.dialogs[(d.call_id, tag)] = d
        self.respond(inv, status, body=body, to_tag=tag, content_type=self.answer_type)
        return d

    def accept(self, timeout=10.0, status=200, ring=False):
        """Waits for a new INVITE and answers it."""
        inv = self.wait(lambda m: m.method == "INVITE" and not _tag(m.header("To")), timeout)
        if inv is None:
            return None
        return self.accept_request(inv, status, ring)

    def call(self, dest, user="5550001000", body=None, timeout=10.0, headers=(),
             call_id=None, content_type="application/sdp", proxy=None, ruri_params=""):
        """Makes a call: INVITE, waits for the final response, ACKs it. Returns
        (Dialog or None, final response). call_id: the INVITE's (a random one if
        None). proxy: (ip, port) the INVITE is sent to instead of dest (an outbound
        proxy; the request-URI still names dest, with ruri_params appended); the
        dialog's requests then follow the 2xx's Record-Route through it."""
        call_id = call_id or sipmsg.rand_token(16) + "@uatest"
        tag = sipmsg.rand_token(8)
        branch = "z9hG4bK" + sipmsg.rand_token(12)
        body = sdp(self.ip, self.media_port) if body is None else body
        ruri = "sip:%s@%s:%d%s" % (user, dest[0], dest[1], ruri_params)
        if proxy:
            dest = proxy
        local = "sip:15551230000@%s" % self.ip
        lines = ["INVITE %s SIP/2.0" % ruri,
                 "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.transport.upper(), self.ip,
                                                          self.port, branch),
                 "Max-Forwards: 70", "From: <%s>;tag=%s" % (local, tag),
                 "To: <%s>" % ruri, "Call-ID: %s" % call_id, "CSeq: 1 INVITE",
                 "Contact: %s" % self.contact] + list(headers)
        if body:
            lines.append("Content-Type: %s" % content_type)
        lines.append("Content-Length: %d" % len(body))
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode() + body, dest)
        final = self.wait(lambda m: m.status is not None and m.status >= 200 and
                          m.header("Call-ID") == call_id and
                          (m.header("CSeq") or "").split()[-1:] == ["INVITE"], timeout)
        if final is None:
            return None, None
        to = final.header("To") or ""
        if final.status >= 300:
            ack = ["ACK %s SIP/2.0" % ruri,
                   "Via: SIP/2.0/%s %s:%d;branch=%s;rport" % (self.transport.upper(), self.ip,
                                                            self.port, branch),
                   "Max-Forwards: 70", "From: <%s>;tag=%s" % (local, tag), "To: %s" % to,
                   "Call-ID: %s" % call_id, "CSeq: 1 ACK", "Content-Length: 0"]
            self.send(("\r\n".join(ack) + "\r\n\r\n").encode(), dest)
            return None, final
        d = Dialog(self, call_id, tag, _tag(to), local, ruri,
                   _uri_of(final.header("Contact")) or ruri, dest, cseq=1, uac=True)
        d.route = list(reversed(record_routes(final)))
        self.dialogs[(call_id, tag)] = d
        d.ack(1)
        return d, final
