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


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
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
            rep = Reply(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            c.close()
        rid = rep.headers.get("x-request-id", "")
        assert rid.startswith("req_") and len(rid) == 20, (method, path, rep.headers)
        if rep.status >= 400 and path != "/v1/mcp":
            assert rep.json and "error" in rep.json and "message" in rep.json, (method, path,
                                                                                rep)
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
