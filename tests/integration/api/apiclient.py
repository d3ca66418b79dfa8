"""A small HTTP client for trunxd's API in tests: TCP (optionally from a chosen source
address) or a Unix socket, JSON in and out, every answer checked for X-Request-Id."""
import http.client
import json
import socket


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=10):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


# The status line's reason phrase for each status the API answers (RFC 7231, 6585):
# the standard one, never the error code (that is the JSON body's "error").
PHRASES = {200: "OK", 201: "Created", 202: "Accepted", 204: "No Content",
           400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict",
           413: "Payload Too Large", 414: "URI Too Long", 415: "Unsupported Media Type",
           417: "Expectation Failed",
           422: "Unprocessable Entity", 429: "Too Many Requests",
           431: "Request Header Fields Too Large", 500: "Internal Server Error",
           501: "Not Implemented", 503: "Service Unavailable",
           505: "HTTP Version Not Supported"}


def check_phrase(status, reason, what):
    """Raises unless reason is the standard phrase of status."""
    assert PHRASES.get(status) == reason, "%s: status line %d %r, expected %r" % (
        what, status, reason, PHRASES.get(status))


class Reply:
    def __init__(self, status, headers, body, reason=None):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def code(self):
        return self.json.get("error") if isinstance(self.json, dict) else None

    def __repr__(self):
        return "<%d %s>" % (self.status, self.raw[:300])


class Client:
    def __init__(self, host=None, port=None, unix=None, token=None, source=None):
        self.host, self.port, self.unix, self.token, self.source = host, port, unix, token, source

    def with_token(self, token):
        return Client(self.host, self.port, self.unix, token, self.source)

    def from_source(self, source):
        return Client(self.host, self.port, self.unix, self.token, source)

    def conn(self):
        if self.unix:
            return UnixHTTPConnection(self.unix)
        return http.client.HTTPConnection(self.host, self.port, timeout=10,
                                          source_address=(self.source, 0) if self.source
                                          else None)

    def request(self, method, path, body=None, headers=None, raw=None):
        h = {}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        c = self.conn()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            rep = Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read(),
                        r.reason)
        finally:
            c.close()
        check_phrase(rep.status, rep.reason, "%s %s" % (method, path))
        rid = rep.headers.get("x-request-id", "")
        assert rid.startswith("req_") and len(rid) == 20, (method, path, rep.headers)
        if rep.status >= 400 and path != "/v1/mcp":
            assert rep.json and "error" in rep.json and "message" in rep.json, (method, path,
                                                                                rep)
        return rep

    def stream(self, path, headers=None, until=None, wait=2.0):
        """Opens a stream (SSE) on a raw socket: the status, the headers and the bytes
        that came within `wait` seconds (or until `until` is among them), then closes it
        without waiting for an end. An error answer is read to its Content-Length."""
        import time
        h = {"Host": "localhost", "Accept": "text/event-stream"}
        if self.token:
            h["Authorization"] = "Bearer " + self.token
        h.update(headers or {})
        if self.unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.connect(self.unix)
        else:
            sock = socket.create_connection((self.host, self.port), timeout=10,
                                            source_address=(self.source, 0) if self.source
                                            else None)
        got, t_end = b"", time.monotonic() + wait
        try:
            req = "GET %s HTTP/1.1\r\n%s\r\n" % (path, "".join(
                "%s: %s\r\n" % kv for kv in h.items()))
            sock.sendall(req.encode())
            sock.settimeout(0.2)
            while time.monotonic() < t_end:
                if b"\r\n\r\n" in got:
                    head, body = got.split(b"\r\n\r\n", 1)
                    st = int(head.split(b" ")[1])
                    hl = {k.lower(): v for k, v in (
                        ln.decode().split(": ", 1) for ln in head.split(b"\r\n")[1:])}
                    n = int(hl.get("content-length", "-1"))
                    if st != 200 and len(body) >= n >= 0:
                        break
                    if st == 200 and until and until.encode() in body:
                        break
                try:
                    b = sock.recv(65536)
                except (socket.timeout, TimeoutError):
                    continue
                if not b:
                    break
                got += b
        finally:
            sock.close()
        assert b"\r\n\r\n" in got, (path, got)
        head, body = got.split(b"\r\n\r\n", 1)
        hdrs = {k.lower(): v for k, v in (ln.decode().split(": ", 1)
                                          for ln in head.split(b"\r\n")[1:])}
        st = int(head.split(b" ")[1])
        rep = Reply(st, hdrs, body if st != 200 else None)
        rep.raw = body
        rid = rep.headers.get("x-request-id", "")
        assert rid.startswith("req_") and len(rid) == 20, ("GET", path, rep.headers)
        if rep.status >= 400:
            assert rep.json and "error" in rep.json, (path, rep)
        return rep

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


def expect(rep, status, code=None):
    assert rep.status == status, "want %d%s, got %r" % (status, " " + code if code else "",
                                                        rep)
    if code is not None:
        assert rep.code == code, "want %d %s, got %r" % (status, code, rep)
    return rep
