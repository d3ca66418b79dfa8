"""Test-side clients of the events routes: a Server-Sent Events reader (a thread that
parses the stream into events), JSON calls, and a webhook receiver that checks every
request with a Standard Webhooks verifier written here (HMAC-SHA256 over
id.timestamp.body with the base64 key of a whsec_ secret)."""
import base64
import hashlib
import hmac
import http.client
import http.server
import json
import socket
import ssl
import threading
import time


class Stream:
    """GET /v1/events as `tenant` (None: operator), read in a thread."""

    def __init__(self, port, tenant=None, last_id=None, types=None):
        self.events = []          # dicts: id (int), type, data (parsed JSON)
        self.comments = 0
        self.closed = False
        self.status = None
        self._lock = threading.Lock()
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        hdr = {"Accept": "text/event-stream"}
        if tenant:
            hdr["X-Trunx-Tenant"] = tenant
        if last_id is not None:
            hdr["Last-Event-ID"] = str(last_id)
        path = "/v1/events" + ("?types=" + types if types else "")
        self.conn.request("GET", path, headers=hdr)
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        if self.status != 200:
            self.body = self.resp.read()
            self.closed = True
            return
        self.th = threading.Thread(target=self._run, daemon=True)
        self.th.start()

    def _run(self):
        cur = {}
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\n")
                if line == "":
                    if "data" in cur:
                        ev = {"id": int(cur["id"]), "type": cur["event"],
                              "data": json.loads(cur["data"])}
                        with self._lock:
                            self.events.append(ev)
                    cur = {}
                elif line.startswith(":"):
                    self.comments += 1
                else:
                    k, _, v = line.partition(":")
                    cur[k] = v[1:] if v.startswith(" ") else v
        except (OSError, ValueError, http.client.HTTPException, AttributeError):
            pass   # AttributeError: close() from another thread under a blocked read
        self.closed = True

    def snapshot(self):
        with self._lock:
            return list(self.events)

    def wait(self, pred, timeout=20.0):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if pred(self.snapshot()):
                return True
            time.sleep(0.05)
        return pred(self.snapshot())

    def close(self):
        try:
            self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


def call(port, method, path, body=None, tenant=None):
    """One JSON request; returns (status, parsed body or None)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    hdr = {"Content-Type": "application/json"}
    if tenant:
        hdr["X-Trunx-Tenant"] = tenant
    data = body if isinstance(body, (bytes, str)) or body is None else json.dumps(body)
    c.request(method, path, body=data, headers=hdr)
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, (json.loads(raw) if raw.strip() else None)


def verify(secrets, headers, body, tolerance=300):
    """Standard Webhooks verification; returns the message id or raises ValueError."""
    msg_id = headers.get("webhook-id")
    ts = headers.get("webhook-timestamp")
    sigs = headers.get("webhook-signature")
    if not msg_id or not ts or not sigs:
        raise ValueError("missing webhook headers")
    if abs(time.time() - int(ts)) > tolerance:
        raise ValueError("timestamp out of tolerance")
    signed = ("%s.%s." % (msg_id, ts)).encode() + body
    for secret in secrets:
        key = base64.b64decode(secret[len("whsec_"):])
        want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for s in sigs.split(" "):
            ver, _, val = s.partition(",")
            if ver == "v1" and hmac.compare_digest(val, want):
                return msg_id
    raise ValueError("no valid signature")


class Receiver:
    """A local webhook receiver: answers each POST with the next status of `plan`
    (then 200), or holds it unanswered when the status is None; verifies every
    signature against `secrets` (set after the webhook is created)."""

    def __init__(self, plan=(), hold_s=30, tls=None):
        """tls: (certificate, key) files: an https receiver."""
        self.plan = list(plan)
        self.handshakes_failed = 0
        self.hold_s = hold_s
        self.secrets = []
        self.got = []        # (time, msg_id, body dict, status answered, verified)
        self.raw = []        # (headers, body bytes) of each request
        self.bad = []
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                hdrs = {k.lower(): v for k, v in self.headers.items()}
                try:
                    mid = verify(outer.secrets, hdrs, body)
                    ok = True
                except ValueError as e:
                    mid, ok = hdrs.get("webhook-id"), False
                    outer.bad.append(str(e))
                outer.raw.append((hdrs, body))
                status = outer.plan.pop(0) if outer.plan else 200
                outer.got.append((time.monotonic(), mid, json.loads(body), status, ok))
                if status is None:
                    time.sleep(outer.hold_s)
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        class TlsServer(http.server.ThreadingHTTPServer):
            def get_request(self):
                sock, addr = self.socket.accept()
                try:
                    return self.tls.wrap_socket(sock, server_side=True), addr
                except (ssl.SSLError, OSError):
                    outer.handshakes_failed += 1
                    sock.close()
                    raise

        if tls:
            self.srv = TlsServer(("127.0.0.1", 0), H)
            self.srv.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.srv.tls.load_cert_chain(tls[0], tls[1])
        else:
            self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.port = self.srv.server_address[1]
        self.url = "%s://127.0.0.1:%d/hook" % ("https" if tls else "http", self.port)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
