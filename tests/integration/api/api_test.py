#!/usr/bin/env python3
"""The HTTP API end to end (trunxd in database mode with real Postgres and Redis):
bad input answered with exact statuses and error codes, API keys (bootstrap, scopes,
revocation at once, the service token's door, failed attempts limited per source),
resources with cursor pagination and filters, tenant isolation over every operation
of the OpenAPI document, and calls in progress listed, read and hung up by API."""
import json
import os
import re
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import case, dbmode, ports, procs  # noqa: E402

import apimode  # noqa: E402
from apiclient import check_phrase, expect  # noqa: E402


def case_bad_input(ctx):
    """Each bad request gets its exact status and error code, with a request id."""
    a = apimode.start(ctx)
    op = a.op
    # Routing and methods.
    expect(op.get("/v1/nope"), 404, "route_not_found")
    r = expect(op.request("PUT", "/v1/tenants"), 405, "method_not_allowed")
    assert "GET" in r.headers.get("allow", "") and "POST" in r.headers["allow"], r.headers
    expect(op.get("/v1/tenants/%zz"), 404, "route_not_found")
    # Authentication.
    expect(a.anon.get("/v1/tenants"), 401, "missing_token")
    expect(a.anon.get("/v1/tenants", headers={"Authorization": "Basic Zm9vOmJhcg=="}), 401,
           "invalid_token")
    expect(a.anon.with_token("tk_live_short").get("/v1/tenants"), 401, "invalid_token")
    expect(a.anon.with_token("tk_live_" + "A" * 40).get("/v1/tenants"), 401, "invalid_token")
    # The service token works on the service listener only.
    expect(a.anon.with_token(apimode.SERVICE_TOKEN).get("/v1/me"), 401, "invalid_token")
    me = expect(a.service.get("/v1/me"), 200).json
    assert me["operator"] and me["service"], me
    # Bodies.
    expect(op.post("/v1/tenants", raw=b'{"id":"x"}'), 415, "unsupported_media_type")
    bad_json = {"Content-Type": "application/json"}
    expect(op.post("/v1/tenants", raw=b'{"id":', headers=bad_json), 400, "invalid_json")
    expect(op.post("/v1/tenants", raw=b'[1,2]', headers=bad_json), 400, "invalid_json")
    expect(op.post("/v1/tenants", raw=b'', headers=bad_json), 400, "invalid_json")
    expect(op.post("/v1/tenants", raw=b'{"id":"a","id":"b"}', headers=bad_json), 400,
           "invalid_json")
    r = expect(op.post("/v1/tenants", {"id": "acme", "colour": "red"}), 422, "unknown_field")
    assert r.json["field"] == "colour" and "colour" in r.json["message"], r
    r = expect(op.post("/v1/tenants", {"id": 7}), 422, "invalid_type")
    assert r.json["field"] == "id", r
    expect(op.post("/v1/tenants", {"id": "bad id!"}), 422, "invalid_value")
    expect(op.post("/v1/tenants", {"name": "no id"}), 422, "missing_field")
    expect(op.post("/v1/tenants", {"id": "acme", "default_did": "5551234"}), 422,
           "invalid_value")
    expect(op.post("/v1/tenants", {"id": "acme", "max_calls": -1}), 422, "invalid_value")
    expect(op.post("/v1/tenants", {"id": "acme", "created_at": "now"}), 422, "unknown_field")
    big = b'{"id":"acme","name":"' + b"x" * 70000 + b'"}'
    expect(op.post("/v1/tenants", raw=big, headers=bad_json), 413, "payload_too_large")
    expect(op.post("/v1/tenants", {"id": "acme", "default_did": "+15557770001"}), 201)
    expect(op.post("/v1/tenants", {"id": "acme"}), 409, "conflict")
    expect(op.patch("/v1/tenants/acme", {"id": "other"}), 422, "immutable_field")
    expect(op.patch("/v1/tenants/acme", {}), 422, "missing_field")
    expect(op.get("/v1/tenants?limit=0"), 400, "invalid_query")
    expect(op.get("/v1/tenants?colour=red"), 400, "invalid_query")
    expect(op.get("/v1/tenants?cursor=zz"), 400, "invalid_cursor")
    expect(op.get("/v1/trunks/not-a-uuid"), 404, "not_found")
    expect(op.post("/v1/outbound-routes", {"trunk_id": "00000000-0000-0000-0000-000000000001"}),
           422, "invalid_reference")
    # The same rules on the routes the events module answers (webhooks) and on MCP.
    expect(op.post("/v1/webhooks", raw=b'{"url":"https://example.com/h"}'), 415,
           "unsupported_media_type")
    big = b'{"url":"https://example.com/h","description":"' + b"x" * 70000 + b'"}'
    expect(op.post("/v1/webhooks", raw=big, headers=bad_json), 413, "payload_too_large")
    expect(op.post("/v1/webhooks", raw=b'{"url":', headers=bad_json), 400, "invalid_json")
    r = expect(op.post("/v1/webhooks", {"url": "https://example.com/h", "colour": 1}), 422,
               "unknown_field")
    assert r.json["field"] == "colour" and r.headers.get("x-request-id"), r
    # The events module's answers carry the request id too, as the API's own do.
    assert r.json.get("request_id") == r.headers["x-request-id"], r
    r = expect(op.post("/v1/webhooks", {"url": "http://example.com/h"}), 422, "invalid_field")
    assert r.json["field"] == "url" and "http" in r.json["message"], r
    r = expect(op.post("/v1/webhooks", {"url": "https://169.254.169.254/latest"}), 422,
               "invalid_field")
    assert r.json["field"] == "url" and "public" in r.json["message"], r
    r = expect(op.request("PUT", "/v1/webhooks"), 405, "method_not_allowed")
    assert set(r.headers["allow"].replace(" ", "").split(",")) >= {"GET", "POST"}, r.headers
    r = expect(op.get("/v1/mcp"), 405, "method_not_allowed")
    assert "POST" in r.headers["allow"], r.headers
    expect(op.post("/v1/mcp", raw=b'{"jsonrpc":"2.0","id":1,"method":"ping"}'), 415,
           "unsupported_media_type")
    # Calls: bad E.164, a DID the tenant does not own, media control not built yet.
    tkey = apimode.create_key(ctx, a.t, "acme-calls", tenant="acme",
                              scopes=["calls:read", "calls:write"])
    ten = a.anon.with_token(tkey)
    expect(ten.post("/v1/calls", {"from": "12345", "to": "+15551230000"}), 422, "invalid_value")
    expect(ten.post("/v1/calls", {"from": "+15557770001", "to": "mailto:x"}), 422,
           "invalid_value")
    expect(ten.post("/v1/calls", {"from": "+15557770001", "to": "+15551230000",
                                  "timeout": "10"}), 422, "invalid_type")
    expect(ten.post("/v1/calls", {"from": "+15557770001", "to": "+15551230000",
                                  "tenant_id": "other"}), 403, "forbidden_field")
    expect(ten.post("/v1/calls", {"from": "+15557770001", "to": "+15551230000"}), 422,
           "callerid_not_owned")
    expect(ten.post("/v1/calls/nope/play", {"file": "/tmp/x.wav"}), 404, "not_found")
    # Scopes and operator routes.
    expect(ten.get("/v1/peers"), 403, "insufficient_scope")
    expect(ten.get("/v1/trunks"), 403, "operator_only")
    expect(ten.post("/v1/tenants", {"id": "evil"}), 403, "operator_only")
    expect(ten.get("/metrics"), 403, "operator_only")
    # A tenant key cannot grant a scope it lacks.
    expect(ten.post("/v1/api-keys", {"scopes": ["calls:read"]}), 403, "insufficient_scope")
    # Revocation takes effect at once (the key was cached by the requests above).
    expect(ten.get("/v1/me"), 200)
    keys = expect(op.get("/v1/api-keys?tenant_id=acme"), 200).json["data"]
    assert len(keys) == 1 and keys[0]["prefix"] == tkey[:12], keys
    assert "key_hash" not in keys[0] and "key" not in keys[0], keys[0]
    expect(op.delete("/v1/api-keys/" + keys[0]["id"]), 204)
    expect(ten.get("/v1/me"), 401, "revoked_token")
    assert a.redis.cli("GET", "trunx:apikey:" + hashlib_sha(tkey)).strip() == "revoked"
    # A deleted tenant's cached keys die with it.
    expect(op.post("/v1/tenants", {"id": "gone"}), 201)
    gk = expect(op.post("/v1/api-keys", {"tenant_id": "gone", "scopes": ["peers:read"]}),
                201).json["key"]
    expect(a.anon.with_token(gk).get("/v1/peers"), 200)
    assert a.redis.cli("GET", "trunx:apikey:" + hashlib_sha(gk)).strip().startswith("{")
    # A tenant set inactive: its keys stop at once (403), and work again when active.
    expect(op.patch("/v1/tenants/gone", {"status": "inactive"}), 200)
    expect(a.anon.with_token(gk).get("/v1/peers"), 403, "tenant_inactive")
    expect(op.patch("/v1/tenants/gone", {"status": "active"}), 200)
    expect(a.anon.with_token(gk).get("/v1/peers"), 200)
    expect(op.delete("/v1/tenants/gone"), 204)
    expect(a.anon.with_token(gk).get("/v1/peers"), 401, "revoked_token")
    # Failed authentication is limited per source address: 10 a minute, then 429
    # (even with a good key), while other sources go on.
    bad = a.anon.with_token("tk_live_" + "B" * 40).from_source("127.0.0.9")
    for _ in range(10):
        expect(bad.get("/v1/me"), 401, "invalid_token")
    r = expect(bad.get("/v1/me"), 429, "too_many_auth_failures")
    assert 0 < int(r.headers["retry-after"]) <= 60, r.headers
    expect(a.op.from_source("127.0.0.9").get("/v1/me"), 429, "too_many_auth_failures")
    expect(a.op.get("/v1/me"), 200)
    m = expect(a.op.get("/metrics"), 200).raw.decode()
    assert "trunx_api_auth_limited_total 2" in m, m
    fails = [l for l in m.splitlines() if l.startswith("trunx_api_auth_failures_total ")]
    assert fails and int(fails[0].split()[1]) >= 14, fails
    # Every answer's request id is in a log line.
    rid = r.headers["x-request-id"]
    assert any(x.get("request_id") == rid and x.get("status") == 429
               for x in a.t.events("api.request")), rid
    assert_request_ids(a.t)


REQUEST_LOG_EVENTS = ("api.request", "api.db", "api.key_revoke", "events.api",
                      "events.sse_cut", "events.replay")


def case_status_phrases(ctx):
    """Every status line carries the standard reason phrase, the JSON body the machine
    code (every reply of every API test is checked so, in apiclient.request and
    _status_of); here the statuses the other cases do not reach: 500 when the
    database refuses a statement for a reason of its own (a table renamed under
    trunxd), and evhttp's own refusals of an oversized header block and of a method it
    does not parse, answered as the API's JSON errors."""
    a = apimode.start(ctx)
    op = a.op
    expect(op.get("/v1/tenants"), 200)
    a.pg.sql("ALTER TABLE tenants RENAME TO tenants_away")
    try:
        r = expect(op.get("/v1/tenants"), 500, "internal")
        ctx.log("renamed table: %d %s %s", r.status, r.reason, r.json)
    finally:
        a.pg.sql("ALTER TABLE tenants_away RENAME TO tenants")
    expect(op.get("/v1/tenants"), 200)
    seen = {}
    for what, req in (("header block over the limit",
                       b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 +
                       b"\r\n\r\n"),
                      ("method not parsed", b"BREW /v1/me HTTP/1.1\r\nHost: x\r\n\r\n"),
                      ("malformed request line", b"GET\r\n\r\n")):
        s = _raw(a.port, "127.0.0.1", req)
        raw, _ = _read_all(s, 5.0)
        s.close()
        status = _status_of(raw)
        assert status and status >= 400, (what, raw[:200])
        body = _body_of(raw)
        assert body.get("error") and body.get("request_id"), (what, raw[:300])
        seen[what] = (raw.split(b"\r\n", 1)[0].decode(), body["error"])
    ctx.log("evhttp's own refusals: %s", seen)


def assert_request_ids(t):
    """The structured log: every line written while serving an API request (the API's
    own, and the events module's for the routes handed to it) names the request."""
    for ev in REQUEST_LOG_EVENTS:
        for x in t.events(ev):
            assert str(x.get("request_id", "")).startswith("req_"), x


TENANT_SCOPES = ["calls:read", "calls:write", "numbers:read", "peers:read", "peers:write",
                 "keys:read", "keys:write", "events:read", "webhooks:write"]


def is_stream(o):
    """An operation answering an endless event stream (SSE): opened, read, closed."""
    return any("text/event-stream" in (r.get("content") or {})
               for r in o["responses"].values())


def world(ctx, a, uas_port):
    """Through the API only: a carrier (calls from 127.0.0.2), tenants acme and bravo,
    a PBX peer and a DID each, and a tenant key each. Returns a dict of ids."""
    op = a.op
    w = {}
    w["trunk"] = expect(op.post("/v1/trunks", {"name": "carrier1", "provider": "test",
                                               "identify_match_ips": ["127.0.0.2/32"]}),
                        201).json["id"]
    for tid, did in (("acme", "+15557770001"), ("bravo", "+15557770002")):
        expect(op.post("/v1/tenants", {"id": tid, "runtime_config": {"contract_version": 1}}),
               201)
        peer = expect(op.post("/v1/peers", {"tenant_id": tid, "name": tid + "-pbx",
                                            "host": "127.0.0.1", "port": uas_port}), 201).json
        assert peer["tenant_id"] == tid and "auth_secret" not in peer, peer
        expect(op.post("/v1/dids", {"number": did, "trunk_id": w["trunk"], "tenant_id": tid,
                                    "peer_id": peer["id"]}), 201)
        key = expect(op.post("/v1/api-keys", {"tenant_id": tid, "name": tid + " app",
                                              "scopes": TENANT_SCOPES}), 201).json
        assert key["key"].startswith("tk_live_") and key["tenant_id"] == tid, key
        w[tid] = {"peer": peer["id"], "did": did, "key": key["key"], "key_id": key["id"],
                  "api": a.anon.with_token(key["key"])}
    w["route"] = expect(op.post("/v1/outbound-routes", {"trunk_id": w["trunk"],
                                                        "prefix": "1"}), 201).json["id"]
    return w


def case_resources(ctx):
    """Create, read, update, delete through the API; lists paginate by cursor and
    filter; a tenant's key lists only its own rows and creates rows for itself only;
    the OpenAPI document's every operation is served (none answers "no such route").
    No Redis here: keys are checked in Postgres alone."""
    a = apimode.start(ctx, redis=False)
    w = world(ctx, a, 5999)
    op, acme = a.op, w["acme"]["api"]
    for i in range(5):
        expect(acme.post("/v1/peers", {"name": "acme-extra-%d" % i, "port": 5070 + i}), 201)
    seen, cursor, pages = [], None, 0
    while True:
        r = expect(acme.get("/v1/peers?limit=2" + ("&cursor=" + cursor if cursor else "")),
                   200).json
        pages += 1
        seen += [p["name"] for p in r["data"]]
        assert len(r["data"]) <= 2, r
        cursor = r["next_cursor"]
        if not cursor:
            break
    assert pages == 3 and len(seen) == 6 and len(set(seen)) == 6, (pages, seen)
    assert all(n.startswith("acme") for n in seen), seen
    names = [p["name"] for p in expect(op.get("/v1/peers?tenant_id=bravo"), 200).json["data"]]
    assert names == ["bravo-pbx"], names
    assert len(expect(op.get("/v1/peers?limit=200"), 200).json["data"]) == 7
    assert expect(op.get("/v1/peers?name=acme-extra-3"), 200).json["data"][0]["port"] == 5073
    # A tenant's row is its own whatever the body says; tenant_id is the operator's.
    expect(acme.post("/v1/peers", {"name": "sneaky", "tenant_id": "bravo"}), 403,
           "forbidden_field")
    p = expect(acme.patch("/v1/peers/" + w["acme"]["peer"], {"port": 5090, "codecs": ["PCMU"]}),
               200).json
    assert p["port"] == 5090 and p["codecs"] == ["PCMU"], p
    expect(acme.post("/v1/peers", {"name": "acme-extra-1"}), 409, "conflict")
    expect(acme.post("/v1/peers", {"name": "badcodec", "identify_match_ips": ["nope"]}), 422,
           "invalid_value")
    extra = expect(op.get("/v1/peers?name=acme-extra-4"), 200).json["data"][0]["id"]
    expect(acme.delete("/v1/peers/" + extra), 204)
    expect(acme.get("/v1/peers/" + extra), 404, "not_found")
    expect(acme.delete("/v1/peers/" + extra), 404, "not_found")
    d = expect(acme.get("/v1/dids/%2B15557770001"), 200).json
    assert d["tenant_id"] == "acme" and d["peer_id"] == w["acme"]["peer"], d
    assert [x["number"] for x in expect(acme.get("/v1/dids"), 200).json["data"]] == \
        ["+15557770001"]
    assert [x["id"] for x in expect(acme.get("/v1/tenants"), 200).json["data"]] == ["acme"]
    t = expect(op.patch("/v1/tenants/acme", {"max_calls": 5, "name": "Acme Inc"}), 200).json
    assert t["max_calls"] == 5 and t["name"] == "Acme Inc", t
    # A deleted tenant takes its rows and its keys with it, at once.
    expect(op.post("/v1/tenants", {"id": "gone"}), 201)
    gk = expect(op.post("/v1/api-keys", {"tenant_id": "gone", "scopes": ["peers:read"]}),
                201).json["key"]
    gone = a.anon.with_token(gk)
    expect(gone.get("/v1/peers"), 200)
    expect(gone.delete("/v1/tenants/gone"), 403, "operator_only")
    expect(op.delete("/v1/tenants/gone"), 204)
    expect(gone.get("/v1/peers"), 401, "invalid_token")
    # The routing follows API writes live: the DID's trunk and tenant are in the snapshot.
    dbmode.wait_routing(a.t, lambda m: "1 carriers" in m and "2 DIDs" in m, timeout=10)
    # Every operation of the document is served by this server.
    doc = expect(a.anon.get("/v1/openapi.json"), 200).json
    assert doc["openapi"].startswith("3.1"), doc["openapi"]
    n = 0
    for path, item in doc["paths"].items():
        for method, o in item.items():
            url = path.replace("{id}", "00000000-0000-0000-0000-00000000beef")
            body = {} if "requestBody" in o else None
            if is_stream(o):
                r = op.stream(url, wait=1.0)
                assert r.status == 200 and r.headers.get("content-type", "").startswith(
                    "text/event-stream"), (path, r.status, r.headers)
                n += 1
                continue
            r = op.request(method.upper(), url, body=body)
            assert r.code not in ("route_not_found", "method_not_allowed"), (method, path, r)
            n += 1
    assert n >= 40, n
    ctx.log("%d operations of the OpenAPI document answered", n)
    # ... and a path outside the document is not.
    expect(op.get("/v1/webhookz"), 404, "route_not_found")


def case_isolation_calls(ctx):
    """Tenant bravo's key, on every operation of the OpenAPI document that names one of
    acme's objects, gets 404 (never 403) and changes nothing; operator routes refuse
    tenant keys; lists never show another tenant's rows. A call from the carrier to
    acme's DID is listed and read by acme's key, invisible to bravo's, and hung up by
    the API: both SIPp ends get their BYE."""
    from harness import calls, sipp
    u = calls.uas(ctx, "uas_basic.xml", calls=1, timeout=60)
    # The webhook below is plain http on loopback: allowed on this node only.
    a = apimode.start(ctx, configure=lambda c: c.section(
        "events", webhook_allow_http="yes", webhook_allow_private="yes"))
    w = world(ctx, a, u.port)
    dbmode.wait_routing(a.t, lambda m: "1 carriers" in m and "2 DIDs" in m, timeout=10)
    # acme's webhook (to a port nothing answers: its deliveries stay pending), before
    # the call whose events it gets.
    hook = expect(w["acme"]["api"].post("/v1/webhooks", {
        "url": "http://127.0.0.1:%d/hook" % ports.free_port("127.0.0.1"),
        "types": ["call.answered", "call.hungup"]}), 201).json
    assert hook["tenant"] == "acme" and hook["secret"], hook
    c = calls.uac(ctx, "uac_wait_bye.xml", a.t.sip_addr, service="+15557770001",
                  local_ip="127.0.0.2", timeout=60)
    acme, bravo = w["acme"]["api"], w["bravo"]["api"]
    ok = procs.wait_until(lambda: len(acme.get("/v1/calls").json["data"]) == 1, 10, 0.1)
    r = expect(bravo.get("/v1/webhooks"), 200)
    assert r.json["data"] == [], r
    assert [x["id"] for x in expect(acme.get("/v1/webhooks"), 200).json["data"]] == [hook["id"]]
    assert ok, acme.get("/v1/calls")
    call = acme.get("/v1/calls").json["data"][0]
    assert call["tenant"] == "acme" and call["state"] == "answered", call
    assert expect(acme.get("/v1/calls/" + call["id"]), 200).json["id"] == call["id"]
    assert bravo.get("/v1/calls").json["data"] == []
    objs = {"/v1/tenants/": "acme", "/v1/trunks/": w["trunk"], "/v1/dids/": "%2B15557770001",
            "/v1/peers/": w["acme"]["peer"], "/v1/outbound-routes/": w["route"],
            "/v1/api-keys/": w["acme"]["key_id"], "/v1/calls/": call["id"],
            "/v1/webhooks/": hook["id"], "/v1/webhook-deliveries/": "1"}
    bodies = {"patch": {"name": "x"}, "post": {}}
    doc = expect(a.anon.get("/v1/openapi.json"), 200).json
    n404 = n403 = nlist = 0
    for path, item in doc["paths"].items():
        for method, o in item.items():
            if o.get("security") == []:
                continue
            oper = o.get("x-trunx-operator", False)
            if "{id}" in path:
                prefix = path[:path.index("{id}")]
                url = path.replace("{id}", objs[prefix])
                body = bodies.get(method) if "requestBody" in o else None
                if method == "patch" and prefix == "/v1/peers/":
                    body = {"port": 5999}
                r = bravo.request(method.upper(), url, body=body)
                if oper:
                    expect(r, 403, "operator_only")
                    n403 += 1
                else:
                    expect(r, 404, "not_found")
                    n404 += 1
            elif is_stream(o):
                r = bravo.stream(path, wait=0.5)
                assert r.status == 200 and b"acme" not in r.raw, (path, r.raw)
                nlist += 1
            elif method == "get":
                r = bravo.get(path)
                if oper:
                    expect(r, 403, "operator_only")
                    n403 += 1
                    continue
                if r.status == 200 and isinstance(r.json, dict) and "data" in r.json:
                    text = r.raw.decode()
                    for v in ("acme", w["acme"]["peer"], "+15557770001", call["id"]):
                        assert v not in text, (path, v, text)
                    nlist += 1
            elif oper:
                expect(bravo.request(method.upper(), path, body={}), 403, "operator_only")
                n403 += 1
    ctx.log("bravo: %d operations 404, %d refused as operator-only, %d lists clean",
            n404, n403, nlist)
    assert n404 >= 8 and n403 >= 10 and nlist >= 5, (n404, n403, nlist)
    # Nothing of acme's changed, and its call is still up.
    assert expect(acme.get("/v1/peers/" + w["acme"]["peer"]), 200).json["port"] == u.port
    expect(acme.get("/v1/me"), 200)
    assert len(acme.get("/v1/calls").json["data"]) == 1
    # MCP: the same calls through JSON-RPC tools, with the same keys and isolation.
    def rpc(client, method, params=None, rid=1):
        body = {"jsonrpc": "2.0", "id": rid, "method": method}
        if params is not None:
            body["params"] = params
        return expect(client.post("/v1/mcp", body), 200).json
    init = rpc(acme, "initialize", {"protocolVersion": "2025-03-26", "capabilities": {},
                                    "clientInfo": {"name": "test", "version": "1"}})
    assert init["result"]["serverInfo"]["name"] == "trunx", init
    assert init["result"]["protocolVersion"] == "2025-03-26", init
    r = acme.post("/v1/mcp", {"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert r.status == 202, r
    tools = {t["name"]: t for t in rpc(acme, "tools/list")["result"]["tools"]}
    assert set(tools) == {"create_call", "list_calls", "get_call", "hangup_call",
                          "list_events"}, tools
    assert set(tools["list_events"]["inputSchema"]["properties"]) == \
        {"after", "limit", "types"}, tools["list_events"]
    assert "from" in tools["create_call"]["inputSchema"]["properties"], tools
    res = rpc(acme, "tools/call", {"name": "list_calls", "arguments": {}})["result"]
    assert not res["isError"] and res["structuredContent"]["data"][0]["id"] == call["id"], res
    res = rpc(acme, "tools/call", {"name": "get_call", "arguments": {"id": call["id"]}})
    assert res["result"]["structuredContent"]["tenant"] == "acme", res
    res = rpc(bravo, "tools/call", {"name": "get_call", "arguments": {"id": call["id"]}})
    assert res["result"]["isError"] and \
        res["result"]["structuredContent"]["error"] == "not_found", res
    res = rpc(bravo, "tools/call", {"name": "list_calls"})["result"]
    assert res["structuredContent"]["data"] == [], res
    res = rpc(acme, "tools/call", {"name": "create_call", "arguments": {"from": "12",
                                                                        "to": "+1555"}})
    assert res["result"]["structuredContent"]["error"] == "invalid_value", res
    assert rpc(acme, "nope")["error"]["code"] == -32601
    assert rpc(acme, "tools/call", {"name": "nope"})["error"]["code"] == -32602
    r = acme.post("/v1/mcp", raw=b"{", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.json["error"]["code"] == -32700, r
    expect(a.anon.post("/v1/mcp", {"jsonrpc": "2.0", "id": 1, "method": "ping"}), 401,
           "missing_token")
    # Transfer by a new leg (bridge) routes as API calls do: the number's only trunk
    # (the carrier, no uri) cannot take it, 422 naming the field (REFER and bridge
    # transfers: tests/integration/xfer; the media operations: api_media_test.py).
    r = acme.post("/v1/calls/%s/transfer" % call["id"], {"to": "+15551230000",
                                                         "mode": "bridge"})
    assert r.status == 422 and r.json.get("field") == "to" and \
        r.json["error"] in ("trunks_down", "no_route"), r
    # No [api] media_dir on this server: no file is reachable through the API.
    for op, body in (("play", {"file": "x.wav"}), ("record", {"path": "x.wav"})):
        expect(acme.post("/v1/calls/%s/%s" % (call["id"], op), body), 403,
               "media_files_disabled")
    r = expect(acme.post("/v1/calls/%s/hangup" % call["id"]), 200).json
    assert r["result"] == "hangup", r
    rcs = calls.finish(c, u)
    assert rcs == [0, 0], (rcs, c.describe_failure(), u.describe_failure())
    procs.wait_until(lambda: acme.get("/v1/calls").json["data"] == [], 5, 0.1)
    expect(acme.get("/v1/calls/" + call["id"]), 404, "not_found")
    expect(acme.post("/v1/calls/%s/hangup" % call["id"]), 404, "not_found")
    # The call's events (committed when it ended): acme's SSE stream through the API
    # replays them, bravo's has none; acme's webhook got them as deliveries, which
    # bravo can neither list nor redrive, and bravo cannot delete or rotate the webhook.
    dl = "/v1/webhooks/%s/deliveries" % hook["id"]
    ok = procs.wait_until(lambda: acme.get(dl).json["data"], 15, 0.2)
    assert ok, (acme.get(dl), a.pg.sql("SELECT id, type, tenant_id FROM events"))
    delivery = expect(acme.get(dl), 200).json["data"][0]
    assert delivery["webhook_id"] == hook["id"], delivery
    sse = acme.stream("/v1/events", headers={"Last-Event-ID": "0"}, until="call.hungup",
                      wait=20)
    assert sse.status == 200 and b"event: call.answered" in sse.raw, sse.raw[:2000]
    assert call["id"].encode() in sse.raw or b"+15557770001" in sse.raw, sse.raw[:2000]
    sse = bravo.stream("/v1/events", headers={"Last-Event-ID": "0"}, wait=1.5)
    assert sse.status == 200 and b"+15557770001" not in sse.raw and \
        b"call." not in sse.raw, sse.raw[:2000]
    expect(bravo.stream("/v1/events", headers={"Last-Event-ID": "x"}), 400)
    # MCP list_events: the same events as a page, acme's only, with its filter and
    # cursor; bravo's page is empty; bad arguments are refused.
    def tool(client, args):
        return rpc(client, "tools/call", {"name": "list_events", "arguments": args})
    table = [(int(r[0]), r[1]) for r in a.pg.sql(
        "SELECT id, type FROM events WHERE tenant_id = 'acme' ORDER BY id")]
    assert len(table) >= 4, table
    page = tool(acme, {})["result"]
    assert not page["isError"], page
    got = page["structuredContent"]
    assert [(e["id"], e["type"]) for e in got["data"]] == table, (got, table)
    assert all(e["tenant"] == "acme" for e in got["data"]) and not got["has_more"], got
    assert got["next_after"] == table[-1][0], got
    first = tool(acme, {"limit": 2})["result"]["structuredContent"]
    assert [e["id"] for e in first["data"]] == [i for i, _ in table[:2]], first
    assert first["has_more"] and first["next_after"] == table[1][0], first
    rest = tool(acme, {"after": first["next_after"], "limit": 200})
    rest = rest["result"]["structuredContent"]
    assert [e["id"] for e in rest["data"]] == [i for i, _ in table[2:]], rest
    only = tool(acme, {"types": "call.answered,call.hungup"})["result"]["structuredContent"]
    assert [e["type"] for e in only["data"]] == [t for _, t in table if t in
                                                 ("call.answered", "call.hungup")], only
    fam = tool(acme, {"types": "call.*"})["result"]["structuredContent"]
    assert len(fam["data"]) == len([t for _, t in table if t.startswith("call.")]), fam
    empty = tool(bravo, {})["result"]
    assert not empty["isError"] and empty["structuredContent"]["data"] == [], empty
    assert tool(bravo, {"after": 0, "types": "call.*"})["result"]["structuredContent"][
        "data"] == []
    for args in ({"limit": 0}, {"limit": 201}, {"types": "CALL"}, {"after": -1}):
        r = tool(acme, args)["result"]
        assert r["isError"] and r["structuredContent"]["error"] in (
            "invalid_query", "bad_types"), (args, r)
    for args in ({"colour": 1}, {"limit": "2"}, {"types": 3}):
        assert tool(acme, args)["error"]["code"] == -32602, args
    # A key without events:read cannot list them through MCP either.
    nokey = apimode.create_key(ctx, a.t, "acme-calls", tenant="acme",
                               scopes=["calls:read"])
    r = tool(a.anon.with_token(nokey), {})["result"]
    assert r["isError"] and r["structuredContent"]["error"] == "insufficient_scope", r
    redrive = "/v1/webhook-deliveries/%s/redrive" % delivery["id"]
    expect(bravo.get(dl), 404, "not_found")
    expect(bravo.post(redrive), 404, "not_found")
    expect(bravo.delete("/v1/webhooks/" + hook["id"]), 404, "not_found")
    expect(bravo.post("/v1/webhooks/%s/rotate-secret" % hook["id"]), 404, "not_found")
    r = expect(bravo.get("/v1/webhooks"), 200)
    assert r.json["data"] == [], r
    if delivery["state"] != "dead":
        expect(acme.post(redrive), 409)
    rot = expect(acme.post("/v1/webhooks/%s/rotate-secret" % hook["id"]), 200).json
    assert rot["id"] == hook["id"] and rot["secret"] != hook["secret"], rot
    expect(acme.delete("/v1/webhooks/" + hook["id"]), 204)
    expect(acme.get(dl), 404, "not_found")
    del sipp


def case_faults(ctx):
    """Redis stopped: keys are checked in Postgres and nothing else changes (a second
    node's own key copy is emptied and bypassed until it is subscribed again, or while
    Redis does not answer; revoked on one node, a key it kept is refused at once).
    Postgres
    stopped: 503 unavailable (never a 401 for a good key, never a hang), /v1/health says
    degraded; both back: the API recovers by itself, the cache fills again."""
    a = apimode.start(ctx)
    expect(a.op.post("/v1/tenants", {"id": "acme"}), 201)
    key = expect(a.op.post("/v1/api-keys", {"tenant_id": "acme", "scopes": ["peers:read"]}),
                 201).json["key"]
    acme = a.anon.with_token(key)
    expect(acme.get("/v1/peers"), 200)
    b, kb2 = key_cache_two_nodes(ctx, a)
    a.redis.stop()
    expect(acme.get("/v1/peers"), 200)
    # Node B's own copy: emptied and bypassed while it cannot hear revocations.
    assert procs.wait_until(lambda: metric(b, "trunx_api_key_cache_live") == 0, 10, 0.1)
    assert metric(b, "trunx_api_key_cache_entries") == 0
    bypassed = metric(b, "trunx_api_key_cache_bypassed_total")
    expect(kb2.get("/v1/me"), 200)
    assert metric(b, "trunx_api_key_cache_bypassed_total") >= bypassed + 2
    flushes = metric(b, "trunx_api_key_cache_flushes_total")
    # A revocation while Redis is down: a warning that names the request.
    kid = expect(a.op.post("/v1/api-keys", {"tenant_id": "acme", "scopes": ["peers:read"]}),
                 201).json["id"]
    rid = expect(a.op.delete("/v1/api-keys/" + kid), 204).headers["x-request-id"]
    warned = a.t.wait_events("api.key_revoke", 1, 5)
    assert [x for x in warned if x.get("request_id") == rid], (rid, warned)
    assert expect(a.anon.get("/v1/health"), 200).json["redis"] == "down"
    a.pg.stop()
    t0 = time.monotonic()
    r = acme.get("/v1/peers")
    assert r.status == 503 and r.code == "unavailable", r
    assert time.monotonic() - t0 < 5, "the API waited on a stopped Postgres"
    assert expect(a.anon.get("/v1/health"), 503).json["postgres"] == "down"
    a.pg.start()
    ok = procs.wait_until(lambda: acme.get("/v1/peers").status == 200, 20, 0.25)
    assert ok, acme.get("/v1/peers")
    a.redis.start()
    ok = procs.wait_until(lambda: a.anon.get("/v1/health").json.get("redis") == "up", 20, 0.25)
    assert ok, a.anon.get("/v1/health")
    expect(acme.get("/v1/peers"), 200)
    cached = a.redis.cli("GET", "trunx:apikey:" + hashlib_sha(key)).strip()
    assert cached.startswith("{") and '"acme"' in cached, cached
    # Node B subscribed again (its copy emptied once more): a revocation on A reaches
    # it at once as before.
    assert procs.wait_until(lambda: metric(b, "trunx_api_key_cache_live") == 1, 20, 0.1)
    assert metric(b, "trunx_api_key_cache_flushes_total") > flushes
    revoke_seen_at_once(a, b, "acme")
    # Redis stops answering without closing (paused): B stops using its copy (a PING
    # unanswered), and uses it again, emptied, once Redis answers.
    flushes = metric(b, "trunx_api_key_cache_flushes_total")
    a.redis.cli("CLIENT", "PAUSE", "4000", "ALL")
    assert procs.wait_until(lambda: metric(b, "trunx_api_key_cache_live") == 0, 3.5, 0.05)
    assert procs.wait_until(lambda: metric(b, "trunx_api_key_cache_live") == 1, 20, 0.1)
    assert metric(b, "trunx_api_key_cache_flushes_total") > flushes
    revoke_seen_at_once(a, b, "acme")
    assert_request_ids(a.t)


def _fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def _cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _raw(port, source, send=b"", timeout=5.0):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    if send:
        s.sendall(send)
    return s


def _read_all(s, timeout):
    """Bytes until the server closes (or timeout): (bytes, closed)."""
    s.settimeout(0.2)
    out, end = b"", time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            b = s.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return out, True
        if not b:
            return out, True
        out += b
    return out, False


def _status_of(raw):
    """The status of a raw answer; its reason phrase must be the standard one."""
    if not raw.startswith(b"HTTP/1."):
        return None
    line = raw.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
    check_phrase(int(line[1]), line[2] if len(line) > 2 else "", "raw answer")
    return int(line[1])


def _body_of(raw):
    return json.loads(raw.split(b"\r\n\r\n", 1)[1].decode())


def case_connections(ctx):
    """The API's connections as strangers use them. Every connection's descriptor is
    given back whatever its end (answered, refused by evhttp, closed or reset by the
    client before a byte); one address over max_connections_per_source gets 429
    too_many_connections while others are served; at max_connections accepting pauses
    and resumes when one closes; a sender too slow to finish its request is cut with
    408 at timeout + 2 s; out of descriptors, accepting pauses (no spin, no log storm)
    and recovers."""
    a = apimode.start(ctx, extra={"timeout": 3000, "max_connections": 24,
                                  "max_connections_per_source": 8})
    pid = a.t.proc.pid
    port = a.port
    expect(a.op.get("/v1/me"), 200)
    base = _fds(pid)

    # 1. Descriptors come back: 60 rounds of six kinds of connection.
    for i in range(60):
        expect(a.op.get("/v1/me"), 200)
        expect(a.anon.with_token("tk_live_" + "x" * 40).from_source("127.0.1.%d" % (i + 1))
               .get("/v1/me"), 401)   # one failure per address: no auth_fail_limit
        expect(a.op.get("/v1/nothing-here"), 404)
        s = _raw(port, "127.0.0.1", b"NOT-HTTP\r\n\r\n")
        assert _status_of(_read_all(s, 5)[0]) == 400
        s.close()
        s = _raw(port, "127.0.0.1", b"POST /v1/calls HTTP/1.1\r\nHost: x\r\n"
                 b"Content-Type: application/json\r\nContent-Length: 70000\r\n\r\n" +
                 b" " * 70000)
        raw = _read_all(s, 5)[0]
        assert _status_of(raw) == 413, raw
        s.close()
        s = _raw(port, "127.0.0.1")
        if i % 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()   # before a byte: closed, or reset every other time
    ok = procs.wait_until(lambda: _fds(pid) <= base + 4, 15, 0.2)
    assert ok, "descriptors not given back: %d at start, %d after 360 connections" % (
        base, _fds(pid))

    # 2. One address's share: the 9th connection from 127.0.0.2 is refused, another
    # address is served meanwhile.
    held = [_raw(port, "127.0.0.2") for _ in range(8)]
    time.sleep(0.3)
    s = _raw(port, "127.0.0.2")
    raw, closed = _read_all(s, 5)
    s.close()
    assert _status_of(raw) == 429 and closed, raw
    assert _body_of(raw)["error"] == "too_many_connections", raw
    assert b"Retry-After: 1" in raw, raw
    expect(a.op.from_source("127.0.0.3").get("/v1/me"), 200)
    for h in held:
        h.close()
    assert a.t.wait_events("api.conn_refused", 1, 5), "no api.conn_refused line"

    # 3. The listener's cap: 24 open -> the 25th waits unanswered (accepting paused),
    # and is served once one closes.
    time.sleep(0.5)
    held = [_raw(port, "127.0.0.%d" % (4 + i // 8)) for i in range(24)]
    time.sleep(0.3)
    waiting = _raw(port, "127.0.0.8", b"GET /v1/me HTTP/1.1\r\nHost: x\r\n"
                   b"Authorization: Bearer " + a.op_key.encode() + b"\r\n"
                   b"Connection: close\r\n\r\n")
    raw, closed = _read_all(waiting, 1.0)
    assert raw == b"" and not closed, "answered while 24 connections were open: %r" % raw
    for h in held[:4]:
        h.close()
    raw, closed = _read_all(waiting, 5.0)
    waiting.close()
    assert _status_of(raw) == 200, raw
    for h in held[4:]:
        h.close()
    assert a.t.wait_events("api.conn_full", 1, 5), "no api.conn_full line"

    # 4. A slow sender: a header byte a second keeps the connection active (evhttp's
    # idle timeout, 3 s, never fires) but the request is not whole by 3 + 2 s: 408.
    s = _raw(port, "127.0.0.9", b"GET /v1/me HTTP/1.1\r\n")
    t0 = time.monotonic()
    raw = b""
    while time.monotonic() - t0 < 15:
        try:
            s.sendall(b"X")
        except OSError:
            break
        got, closed = _read_all(s, 1.0)
        raw += got
        if closed:
            break
    took = time.monotonic() - t0
    s.close()
    assert _status_of(raw) == 408, raw
    assert _body_of(raw)["error"] == "request_timeout", raw
    assert 4.0 <= took <= 12.0, took
    assert a.t.wait_events("api.conn_timeout", 1, 5), "no api.conn_timeout line"

    # 5. Out of descriptors: the soft limit lowered under trunxd's feet, 40 connections
    # from five addresses. Accepting pauses a second at a time: no spin, a few lines.
    import resource
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    errs0 = len(a.t.events("api.accept_error"))
    cpu0 = _cpu_s(pid)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (_fds(pid) + 10, hard))
    try:
        held = []
        for i in range(40):
            try:
                held.append(_raw(port, "127.0.0.%d" % (10 + i // 8)))
            except OSError:
                break
        time.sleep(3.0)
        cpu = _cpu_s(pid) - cpu0
        errs = len(a.t.events("api.accept_error")) - errs0
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    for h in held:
        h.close()
    assert errs >= 1, "no accept error seen with the descriptors gone"
    assert errs <= 10, "%d accept_error lines in 3 s" % errs
    assert cpu < 1.5, "trunxd used %.2f s of CPU in 3 s while out of descriptors" % cpu
    libevent = [r for r in a.t.log_records() if r.get("event") == "libevent"]
    assert len(libevent) <= 10, libevent[:5]
    ok = procs.wait_until(lambda: a.op.get("/v1/me").status == 200, 10, 0.3)
    assert ok, "the API did not recover after the descriptors came back"

    m = expect(a.op.get("/metrics"), 200).raw.decode()
    for name, least in (("trunx_api_connections_refused_total", 1),
                        ("trunx_api_connections_timed_out_total", 1),
                        ("trunx_api_accept_paused_total", 1),
                        ("trunx_api_accept_errors_total", 1)):
        line = [x for x in m.splitlines() if x.startswith(name + " ")]
        assert line and int(line[0].split()[1]) >= least, (name, line)
    assert [x for x in m.splitlines() if x.startswith("trunx_api_connections_open ")], m
    assert_request_ids(a.t)


def _rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def _holds(pid, client):
    """True while process pid has a descriptor on the TCP connection whose far end is
    client (ip, port) (IPv4)."""
    ip, port = client
    far = "%08X:%04X" % (int.from_bytes(socket.inet_aton(ip), "little"), port)
    inodes = set()
    with open("/proc/%d/net/tcp" % pid) as f:
        for line in f.readlines()[1:]:
            x = line.split()
            if x[2] == far:
                inodes.add("socket:[%s]" % x[9])
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) in inodes:
                return True
        except OSError:
            pass
    return False


def case_slow_reader(ctx):
    """Clients that send requests and never read the answers (slowhttptest's slow
    read, pipelined): trunxd holds a bounded amount per connection and stops reading
    from them (TCP's flow control pushes back), cuts them within the timeout, and
    serves others meanwhile. Each asks for the OpenAPI document (public, the largest
    answer): it used to be rendered and kept, answer after answer, for as long as the
    client kept sending (hundreds of MB in seconds)."""
    a = apimode.start(ctx, extra={"timeout": 3000})
    pid, port = a.t.proc.pid, a.port
    # AddressSanitizer keeps freed blocks in quarantine (256 MB by default): there RSS
    # counts every answer rendered (the kernel's send buffer takes dozens), not what
    # is held, and is not judged; the cuts below tell in both builds.
    with open(ctx.trunxd_path, "rb") as f:
        rss_max = 1024 if b"__asan_init" in f.read() else 48
    doc = expect(a.anon.get("/v1/openapi.json"), 200).raw
    expect(a.op.get("/v1/me"), 200)
    rss0, fds0 = _rss_mb(pid), _fds(pid)
    req = b"GET /v1/openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"
    socks = []
    for i in range(4):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)   # a small window
        s.bind(("127.0.0.%d" % (20 + i), 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append(s)
    ctx.at_end(lambda: [x.close() for x in socks])
    sent, peak, t0 = [0] * len(socks), rss0, time.monotonic()
    cut = [False] * len(socks)
    # Each is cut once nothing moves, which takes as long as filling the kernel's
    # buffers (~70 answers) takes: a second or two, but 15 s and more where a sanitizer
    # build shares its cores with other tests (100-150 ms a document).
    while time.monotonic() - t0 < 45 and not all(cut):
        for i, s in enumerate(socks):
            if cut[i]:
                continue
            try:
                sent[i] += s.send(req * 64)
            except BlockingIOError:
                pass
            except OSError:
                cut[i] = True   # reset: trunxd closed it
        peak = max(peak, _rss_mb(pid))
        if peak - rss0 > min(256, rss_max) * 2:
            break   # failed already: spare the machine
        time.sleep(0.01)
    took = time.monotonic() - t0
    ctx.log("%d-byte document; sent %s bytes of requests (%d answers' worth), cut %s "
            "after %.1f s; RSS %.1f -> peak %.1f MB", len(doc), sent,
            sum(sent) // len(req), cut, took, rss0, peak)
    assert peak - rss0 < rss_max, "RSS grew by %.1f MB for 4 clients that do not read" % (
        peak - rss0)
    # Each is cut: by the write timeout (3 s) once nothing moves.
    for i, s in enumerate(socks):
        if not cut[i]:
            s.setblocking(True)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            _, closed = _read_all(s, 8)
            cut[i] = closed
    assert all(cut), "slow readers still connected: %s" % cut
    expect(a.op.from_source("127.0.0.30").get("/v1/me"), 200)
    # A slow reader proper (slowhttptest -X): 8 pipelined requests, then 256 bytes of
    # the answers taken every 0.5 s. What waits for it in trunxd (64 KB) does not
    # drain within the timeout (3 s): evhttp's write timeout closes the connection.
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    s.bind(("127.0.0.31", 0))
    s.connect(("127.0.0.1", port))
    ctx.at_end(s.close)
    s.sendall(req * 8)
    me = s.getsockname()
    s.settimeout(0.5)
    t0, got, held = time.monotonic(), 0, True
    while time.monotonic() - t0 < 15 and held:
        try:
            got += len(s.recv(256))
        except (socket.timeout, OSError):
            pass
        held = _holds(pid, me)
        time.sleep(0.5)
    took = time.monotonic() - t0
    ctx.log("slow reader: %d bytes of %d taken; trunxd %s its connection after %.1f s",
            got, 8 * len(doc), "still holds" if held else "gave back", took)
    assert not held and took < 7, "a slow reader kept its connection %.1f s" % took
    assert procs.wait_until(lambda: _fds(pid) <= fds0 + 2, 10, 0.2), (fds0, _fds(pid))
    a.t.check_alive()


def case_framing(ctx):
    """Requests whose body length two HTTP readers could take differently (request
    smuggling shapes) get 400 bad_request and their connection is closed: nothing
    after them on the connection is read as a request. A GET with a Content-Length
    body, HTTP/1.0 and pipelined requests are served as before."""
    a = apimode.start(ctx)
    port, auth = a.port, b"Authorization: Bearer " + a.op_key.encode() + b"\r\n"
    smuggled = b"GET /v1/me HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
    shapes = [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        b"Content-Length: 0\r\nContent-Length: 0\r\n\r\n",
        b"Transfer-Encoding: identity\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
        b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
        b"Content-Length: +0\r\n\r\n",
        b"Content-Length: 0x0\r\n\r\n",
    ]
    for i, tail in enumerate(shapes):
        s = _raw(port, "127.0.0.1", b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n" + auth +
                 b"Content-Type: application/json\r\n" + tail + smuggled)
        raw, closed = _read_all(s, 5)
        s.close()
        ctx.log("shape %d: %r", i, raw[:60])
        assert _status_of(raw) == 400, (i, raw)
        assert raw.count(b"HTTP/1.1 ") == 1, "a second request was read: %r" % raw
        assert _body_of(raw)["error"] in ("bad_request", "invalid_json"), raw
        assert closed, "shape %d: connection kept open" % i
    # Ordinary shapes still work: a GET with a body, two pipelined.
    s = _raw(port, "127.0.0.1", b"GET /v1/me HTTP/1.1\r\nHost: x\r\n" + auth +
             b"Content-Length: 4\r\nConnection: close\r\n\r\nabcd")
    raw, _ = _read_all(s, 5)
    s.close()
    assert _status_of(raw) == 200, raw
    s = _raw(port, "127.0.0.1", smuggled + smuggled.replace(b"\r\n\r\n",
                                                           b"\r\nConnection: close\r\n\r\n"))
    raw, closed = _read_all(s, 5)
    s.close()
    assert raw.count(b"HTTP/1.1 200") == 2 and closed, raw
    a.t.check_alive()


def case_http10(ctx):
    """HTTP/1.0 clients (ApacheBench, monitoring probes) get whole answers and the
    connection closed at once: evhttp sends their answers without Content-Length (the
    body runs to the close), which the connection filter used to hold back as an
    unfinished header (the client saw a header without body, then waited for the
    timeout). Its own errors (HTML made JSON) too."""
    a = apimode.start(ctx, extra={"timeout": 10000})
    port, auth = a.port, b"Authorization: Bearer " + a.op_key.encode() + b"\r\n"
    for req, status, key in (
            (b"GET /v1/me HTTP/1.0\r\n" + auth + b"\r\n", 200, "operator"),
            (b"GET /v1/openapi.json HTTP/1.0\r\n\r\n", 200, "openapi"),
            (b"GET /v1/nothing HTTP/1.0\r\n" + auth + b"\r\n", 404, "error"),
            (b"TRACE /v1/me HTTP/1.0\r\n\r\n", 501, "error"),
            (b"GET /v1/me HTTP/1.0\r\nBad header line\r\n\r\n", 400, "error")):
        t0 = time.monotonic()
        s = _raw(port, "127.0.0.1", req)
        raw, closed = _read_all(s, 8)
        took = time.monotonic() - t0
        s.close()
        ctx.log("%s -> %r... closed %s after %.2f s", req.split(b"\r\n")[0], raw[:40],
                closed, took)
        assert _status_of(raw) == status, raw
        assert key in _body_of(raw), raw
        assert closed and took < 3, "closed %s after %.1f s" % (closed, took)
    a.t.check_alive()


def _exchange(port, send, timeout=8.0, source="127.0.0.1"):
    """Sends send on a new connection; (answer bytes, closed, seconds)."""
    t0 = time.monotonic()
    s = _raw(port, source, send)
    raw, closed = _read_all(s, timeout)
    s.close()
    return raw, closed, time.monotonic() - t0


def _answers(raw):
    return len(re.findall(rb"HTTP/1\.[01] \d{3} ", raw))


def _one_error(raw, status, code=None):
    """raw is exactly one answer: status with a JSON error body (code if given)."""
    assert raw.startswith(b"HTTP/1.1 "), raw[:80]
    assert _status_of(raw) == status, raw[:200]
    assert _answers(raw) == 1, "more than one answer: %r" % raw[:400]
    head, body = raw.split(b"\r\n\r\n", 1)
    assert b"Content-Type: application/json" in head, head
    j = json.loads(body.decode())
    assert j["request_id"].startswith("req_"), j
    if code:
        assert j["error"] == code, j
    return j


def case_edges(ctx):
    """The API's HTTP edge as a scanner meets it: every refusal one JSON error with
    its status, then the connection closed. A request that stops part-way (head or
    body) gets 408 once idle for the timeout; a Content-Length over body_limit gets
    413 at once (with or without Expect: 100-continue, the body never sent); a request
    line whose version is not HTTP/1.0 or 1.1 gets 400 (505 for another major), never
    its version echoed; too many or too large header lines 431, a target over 8 KB
    414, a header line without a colon 400; chunked bodies with a bad size 400, over
    the limit 413; TRACE and CONNECT 501; a bad request pipelined before a good one
    ends the connection, a good one before a bad one is answered first; HTTP/1.0 and
    Expect: 100-continue still work."""
    a = apimode.start(ctx, extra={"timeout": 3000})
    port, auth = a.port, b"Authorization: Bearer " + a.op_key.encode() + b"\r\n"
    js = b"Content-Type: application/json\r\n"
    # 1. Stopped part-way: head, then body. 408 after the timeout (3 s) of silence.
    for i, req in enumerate((b"GET /v1/me HTTP/1.1\r\nHost: x\r\n",
                             b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n" + auth + js +
                             b"Content-Length: 100\r\n\r\n{\"id\":")):
        raw, closed, took = _exchange(port, req, 10)
        ctx.log("part-way %d: %r closed %s after %.2f s", i, raw[:50], closed, took)
        _one_error(raw, 408, "request_timeout")
        assert closed and 2.5 <= took <= 5.5, (closed, took)
    # 2. A Content-Length over body_limit (64 KB): 413 at once, the body never sent.
    for expect_hdr in (b"", b"Expect: 100-continue\r\n"):
        raw, closed, took = _exchange(port, b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n" +
                                      auth + js + expect_hdr +
                                      b"Content-Length: 10000000\r\n\r\n", 8)
        ctx.log("big length %r: %r closed %s after %.2f s", expect_hdr, raw[:50], closed,
                took)
        assert not raw.startswith(b"HTTP/1.1 100"), raw[:80]
        _one_error(raw, 413, "payload_too_large")
        assert closed and took < 2.5, (closed, took)
    # 3. Versions: never echoed; 505 for another major, 400 for anything else.
    for version, status in ((b"HTTP/9.9", 505), (b"HTTP/2.0", 505), (b"HTTP/0.9", 505),
                            (b"HTTP/1.-5", 400), (b"HTTP/1.257", 400), (b"HTTP/-255.1", 400),
                            (b"HTTP/1.1x", 400), (b"http/1.1", 400), (b"HTTP/1", 400),
                            (b"HTTP/01.1", 400), (b"HTTP/1.01", 400)):
        raw, closed, took = _exchange(port, b"GET /v1/openapi.json " + version +
                                      b"\r\nHost: x\r\n\r\n", 8)
        ctx.log("%r: %r closed %s", version, raw[:40], closed)
        _one_error(raw, status)
        assert closed and took < 2.5, (version, closed, took)
    raw, closed, _ = _exchange(port, b"GET /v1/me HTTP/1.0\r\n" + auth + b"\r\n")
    assert raw.startswith(b"HTTP/1.0 200") or raw.startswith(b"HTTP/1.1 200"), raw[:80]
    # 4. Header lines: without a colon, space before the colon, too many, too large;
    # the target too long.
    for req, status in (
            (b"GET /v1/me HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400),
            (b"GET /v1/me HTTP/1.1\r\nHost : x\r\n\r\n", 400),
            (b"GET /v1/me HTTP/1.1\r\nX-A: a\r\n b\r\nHost: x\r\n\r\n", 400),
            (b"GET /v1/me HTTP/1.1\r\nX-A: a\x00b\r\nHost: x\r\n\r\n", 400),
            (b"GET /v1/me HTTP/1.1\r\nX-A: a\rb\r\nHost: x\r\n\r\n", 400),
            (b"GET /v1/me HTTP/1.1\r\n" + auth + b"\r\n", 400),
            (b"GET /v1/me HTTP/1.1\r\nHost: x\r\nHost: y\r\n" + auth + b"\r\n", 400),
            (b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n" + auth + js +
             b"Expect: 200-ok\r\nContent-Length: 2\r\n\r\n", 417),
            (b"GET /v1/me HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-H%d: v\r\n" % i
                                                   for i in range(200)) + b"\r\n", 431),
            (b"GET /v1/me HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 20000 + b"\r\n\r\n",
             431),
            (b"GET /v1/" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414)):
        raw, closed, took = _exchange(port, req, 8)
        ctx.log("%r...: %r closed %s", req[:30], raw[:40], closed)
        _one_error(raw, status)
        assert closed and took < 2.5, (req[:30], closed, took)
    # 5. Chunked bodies: a bad size, sizes over the limit; a good one is read.
    post = b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n" + auth + js
    for body, status in ((b"zz\r\nabc\r\n0\r\n\r\n", 400),
                         (b"-1\r\nabc\r\n0\r\n\r\n", 400),
                         (b"ffffffffffffffffffff\r\n", 400),
                         (b"ffffffffffff\r\n", 413),
                         (b"0x10\r\n" + b" " * 16 + b"\r\n0\r\n\r\n", 400),
                         (b"5;\r\nabcde\r\n0\r\n\r\n", 400),
                         (b"5;=1\r\nabcde\r\n0\r\n\r\n", 400),
                         (b"5;a=\"open\r\nabcde\r\n0\r\n\r\n", 400),
                         (b"5;a=b c\r\nabcde\r\n0\r\n\r\n", 400),
                         (b"5" + b";a" * 200 + b"\r\nabcde\r\n0\r\n\r\n", 400),
                         (b"10000\r\n" + b" " * 0x10000 + b"\r\n1\r\n \r\n0\r\n\r\n",
                          413)):
        raw, closed, took = _exchange(port, post + b"Transfer-Encoding: chunked\r\n\r\n" +
                                      body, 8)
        ctx.log("chunked %r: %r closed %s", body[:12], raw[:40], closed)
        _one_error(raw, status)
        assert closed and took < 2.5, (body[:12], closed, took)
    raw, closed, _ = _exchange(port, post + b"Transfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n"
                               b"c\r\n{\"id\":\"chnk\"\r\n1\r\n}\r\n0\r\n\r\n")
    assert _status_of(raw) == 201, raw[:200]
    # Chunk extensions are ignored (RFC 9112 7.1.1), the chunk size kept.
    raw, closed, _ = _exchange(port, post + b"Transfer-Encoding: chunked\r\n"
                               b"Connection: close\r\n\r\n"
                               b"0c;sig=abc ; q=\"a \\\"b\\\"\"\r\n{\"id\":\"chxt\"\r\n"
                               b"1;x\r\n}\r\n0;end=1\r\n\r\n")
    assert _status_of(raw) == 201, raw[:200]
    # 6. Methods.
    for m in (b"TRACE", b"CONNECT", b"HEAD", b"FOO"):
        target = b"127.0.0.1:22" if m == b"CONNECT" else b"/v1/me"
        raw, closed, _ = _exchange(port, m + b" " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        ctx.log("%r: %r", m, raw[:40])
        _one_error(raw, 501)
        assert closed, m
    # An absolute-form target is served as its path; HTTP/1.0 needs no Host.
    raw, closed, _ = _exchange(port, b"GET http://evil.example/v1/me HTTP/1.1\r\nHost: x\r\n" +
                               auth + b"Connection: close\r\n\r\n")
    assert _status_of(raw) == 200, raw[:100]
    # 7. Paths: encoded NUL, dot segments, bytes outside ASCII.
    for path in (b"/v1/tenants/%00", b"/v1/tenants/a%00b", b"/v1/tenants/..%2F..%2Fmetrics",
                 b"/v1/../metrics", b"/v1/tenants/%2e%2e/x", b"/v1/tenants/%",
                 b"/v1/tenants/%C3%A9"):
        raw, closed, _ = _exchange(port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + auth +
                                   b"Connection: close\r\n\r\n")
        ctx.log("%r: %r", path, raw[:40])
        j = _one_error(raw, 404)
        assert j["error"] in ("route_not_found", "not_found"), j
    raw, closed, _ = _exchange(port, b"GET /v1/tenants/\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n")
    _one_error(raw, 400, "bad_request")
    # 8. Pipelining: bad then good (the good one is not read), good then bad.
    good = b"GET /v1/me HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n"
    raw, closed, _ = _exchange(port, b"GET /v1/me HTTP/9.9\r\n\r\n" + good)
    _one_error(raw, 505)
    assert closed, raw
    raw, closed, _ = _exchange(port, good + b"GET /v1/me HTTP/1.1\r\nHost: x\r\nBad line\r\n\r\n")
    assert raw.startswith(b"HTTP/1.1 200") and _answers(raw) == 2, raw[:400]
    assert b"HTTP/1.1 400 Bad Request" in raw and closed, raw[-300:]
    # 8b. An empty line before a request line (a client's CRLF after a body) is ignored
    # (RFC 9112 2.2), two of them too; a third is a malformed request line.
    raw, closed, _ = _exchange(port, b"\r\n" + good + b"\r\n\n" + good)
    assert _answers(raw) == 2 and raw.count(b"HTTP/1.1 200") == 2, raw[:400]
    raw, closed, _ = _exchange(port, b"\r\n\r\n\r\n" + good)
    _one_error(raw, 400)
    assert closed, raw
    # 9. Expect: 100-continue with a body under the limit.
    s = _raw(port, "127.0.0.1", post + b"Expect: 100-continue\r\nContent-Length: 13\r\n"
             b"Connection: close\r\n\r\n")
    s.settimeout(3)
    first = s.recv(4096)
    assert first.startswith(b"HTTP/1.1 100 Continue"), first
    s.sendall(b'{"id":"cont"}')
    raw, _ = _read_all(s, 5)
    s.close()
    raw = first.split(b"\r\n\r\n", 1)[1] + raw
    assert _status_of(raw) == 201, raw
    expect(a.op.get("/v1/tenants/cont"), 200)
    # 10. An idle keep-alive connection is closed after the timeout without a word.
    s = _raw(port, "127.0.0.1", good)
    raw, closed = _read_all(s, 6)
    s.close()
    assert _answers(raw) == 1 and raw.startswith(b"HTTP/1.1 200") and closed, raw[-200:]
    a.t.check_alive()
    assert_request_ids(a.t)


def case_big_body(ctx):
    """A body_limit over 64 KB is honoured: bodies up to it are read whole, as one
    Content-Length body or one chunk (evhttp takes a body only once all of it is
    buffered, and the connection's input held 64 KB), and one byte over gets 413."""
    a = apimode.start(ctx, extra={"timeout": 3000, "body_limit": 1048576})
    port, auth = a.port, b"Authorization: Bearer " + a.op_key.encode() + b"\r\n"
    post = (b"POST /v1/tenants HTTP/1.1\r\nHost: x\r\n" + auth +
            b"Content-Type: application/json\r\nConnection: close\r\n")
    body = b'{"id":"big","name":"' + b"x" * 200 + b'"}'
    body += b" " * (1048576 - len(body))
    raw, closed, took = _exchange(port, post + b"Content-Length: %d\r\n\r\n" % len(body) +
                                  body, 10)
    ctx.log("1 MB body: %r after %.2f s", raw[:40], took)
    assert _status_of(raw) == 201 and took < 3, (raw[:200], took)
    body = body.replace(b'"big"', b'"bih"')
    raw, closed, took = _exchange(port, post + b"Transfer-Encoding: chunked\r\n\r\n" +
                                  b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n", 10)
    ctx.log("1 MB chunk: %r after %.2f s", raw[:40], took)
    assert _status_of(raw) == 201 and took < 3, (raw[:200], took)
    raw, closed, took = _exchange(port, post + b"Content-Length: %d\r\n\r\n" %
                                  (len(body) + 1) + body + b" ", 10)
    _one_error(raw, 413, "payload_too_large")
    expect(a.op.get("/v1/tenants/bih"), 200)
    a.t.check_alive()


def case_sse_long_stream(ctx):
    """An event stream through the API lives past the listener's idle `timeout`: its
    client sends nothing once it asked (that is what a stream is), which evhttp's read
    timeout took for an idle connection: a stream with nothing written for `timeout`
    was cut, so with the defaults (timeout 10 s, sse_keepalive 15 s) every quiet stream
    ended after 10 s, before its first keep-alive. Here timeout 2 s, keep-alives every
    3 s: a quiet stream gets its keep-alives for 9 s, then an event; a busy one (an
    event every half second) lasts as long and gets them all."""
    a = apimode.start(ctx, extra={"timeout": 2000},
                      configure=lambda c: c.section("events", sse_keepalive=3000))
    auth = b"Authorization: Bearer " + a.op_key.encode() + b"\r\n"
    quiet = _raw(a.port, "127.0.0.1", b"GET /v1/events?types=test.quiet HTTP/1.1\r\n"
                 b"Host: x\r\n" + auth + b"\r\n")
    busy = _raw(a.port, "127.0.0.2", b"GET /v1/events?types=test.busy HTTP/1.1\r\n"
                b"Host: x\r\n" + auth + b"\r\n")
    ctx.at_end(quiet.close)
    ctx.at_end(busy.close)

    def insert(kind, n):
        a.pg.sql("INSERT INTO events (event_id, type, at, node_id, tenant_id, data) "
                 "SELECT gen_random_uuid(), 'test.%s', now(), 'test', NULL, "
                 "jsonb_build_object('n', %d)" % (kind, n))
    got = {quiet: b"", busy: b""}
    closed_at = {}
    t0, n = time.monotonic(), 0
    while time.monotonic() - t0 < 9:
        n += 1
        insert("busy", n)
        for s in (quiet, busy):
            if s not in closed_at:
                b, closed = _read_all(s, 0.25)
                got[s] += b
                if closed:
                    closed_at["quiet" if s is quiet else "busy"] = round(
                        time.monotonic() - t0, 1)
    ctx.log("after 9 s: cut %s; quiet got %d keep-alives, busy %d of %d events", closed_at,
            got[quiet].count(b": keep-alive"), got[busy].count(b"event: test.busy"), n)
    assert not closed_at, "streams cut at %s s (timeout 2 s): %r" % (closed_at, got[quiet][-120:])
    assert got[quiet].count(b": keep-alive") >= 2, got[quiet][-300:]
    insert("quiet", 1)
    b, closed = _read_all(quiet, 3)
    assert b"event: test.quiet" in b and not closed, (b, closed)
    b, _ = _read_all(busy, 2)
    got[busy] += b
    assert got[busy].count(b"event: test.busy") == n, (n, got[busy][-300:])
    a.t.check_alive()

def case_sse_key_revoked(ctx):
    """An event stream ends when the key it was opened with stops opening streams:
    revoked, or its tenant set inactive (or deleted). A stream was authenticated once,
    when it began, and then delivered the tenant's events for as long as its client
    held it, key revoked or not. Streams of other keys and the operator's go on."""
    a = apimode.start(ctx)
    op = a.op
    expect(op.post("/v1/tenants", {"id": "acme"}), 201)
    k1 = expect(op.post("/v1/api-keys", {"tenant_id": "acme", "scopes": ["events:read"]}),
                201).json
    k2 = expect(op.post("/v1/api-keys", {"tenant_id": "acme", "scopes": ["events:read"]}),
                201).json
    streams = {}
    for name, key, src in (("k1", k1["key"], "127.0.0.1"), ("k2", k2["key"], "127.0.0.2"),
                           ("op", a.op_key, "127.0.0.3")):
        s = _raw(a.port, src, b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 b"Bearer " + key.encode() + b"\r\n\r\n")
        ctx.at_end(s.close)
        b, closed = _read_all(s, 0.5)
        assert _status_of(b) == 200 and not closed, (name, b)
        streams[name] = s

    def cut_within(names, seconds):
        left, t0 = set(names), time.monotonic()
        while left and time.monotonic() - t0 < seconds:
            for n in list(left):
                if _read_all(streams[n], 0.1)[1]:
                    left.discard(n)
        return left

    kid = [k for k in expect(op.get("/v1/api-keys?tenant_id=acme"), 200).json["data"]
           if k["prefix"] == k1["key"][:12]][0]["id"]
    expect(op.delete("/v1/api-keys/" + kid), 204)
    left = cut_within(["k1"], 12)
    assert not left, "the stream of a revoked key still open 12 s after the revocation"
    assert cut_within(["k2", "op"], 1) == {"k2", "op"}, "another stream was cut"
    expect(op.patch("/v1/tenants/acme", {"status": "inactive"}), 200)
    assert not cut_within(["k2"], 12), "the stream of an inactive tenant still open"
    assert cut_within(["op"], 1) == {"op"}, "the operator's stream was cut"
    cuts = a.t.events("events.sse_cut")
    assert len(cuts) == 2 and all("revoked" in c["msg"] for c in cuts), cuts
    assert all(c.get("request_id") for c in cuts), cuts
    a.t.check_alive()


def case_sse_many_subscribers(ctx):
    """Forty event streams through the API at once while 120 events of 16 KB are
    written: 20 that read get every event, in order; 10 that never read are cut
    (sse_buffer 256 KB, after 5 s paused) without slowing the readers; 10 reset their connection in
    the middle of the stream. trunxd gives every descriptor back."""
    a = apimode.start(ctx, configure=lambda c: c.section("events", sse_buffer=262144,
                                                         sse_keepalive=2000))
    pid = a.t.proc.pid
    expect(a.op.get("/v1/me"), 200)
    fds0 = _fds(pid)
    req = (b"GET /v1/events?types=test.many HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " +
           a.op_key.encode() + b"\r\n\r\n")
    socks = {"read": [], "stall": [], "reset": []}
    for kind, n in (("read", 20), ("stall", 10), ("reset", 10)):
        for i in range(n):
            s = socket.socket()
            if kind == "stall":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.bind(("127.0.1.%d" % (1 + len(socks[kind]) % 4), 0))
            s.connect(("127.0.0.1", a.port))
            s.sendall(req)
            ctx.at_end(s.close)
            socks[kind].append(s)
    time.sleep(1.0)
    a.pg.sql("INSERT INTO events (event_id, type, at, node_id, tenant_id, data) "
             "SELECT gen_random_uuid(), 'test.many', now(), 'test', NULL, "
             "jsonb_build_object('n', n, 'pad', repeat('x', 16384)) "
             "FROM generate_series(1, 120) AS n")
    got = {id(s): b"" for s in socks["read"] + socks["reset"]}
    t0, reset_done = time.monotonic(), False
    while time.monotonic() - t0 < 30:
        for s in socks["read"] + ([] if reset_done else socks["reset"]):
            s.settimeout(0.01)
            try:
                got[id(s)] += s.recv(1 << 20)
            except (socket.timeout, BlockingIOError):
                pass
        if not reset_done and all(b"\nid: " in got[id(s)] for s in socks["reset"]):
            for s in socks["reset"]:   # mid-stream: a reset, unread bytes and all
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
            reset_done = True
        if all(got[id(s)].count(b"event: test.many") >= 120 for s in socks["read"]):
            break
    counts = [got[id(s)].count(b"event: test.many") for s in socks["read"]]
    ctx.log("readers got %s events in %.1f s; resets done %s", counts,
            time.monotonic() - t0, reset_done)
    assert reset_done and counts == [120] * 20, counts
    for s in socks["read"]:
        ns = [int(x) for x in re.findall(rb'"n": ?(\d+)', got[id(s)])]
        assert ns == list(range(1, 121)), ns[:10]
    cut = procs.wait_until(lambda: (metric(a, "trunx_sse_clients_cut_total") or 0) >= 10, 20,
                           0.5)
    assert cut, metric(a, "trunx_sse_clients_cut_total")
    for s in socks["read"] + socks["stall"]:
        s.close()
    ok = procs.wait_until(lambda: _fds(pid) <= fds0 + 2, 20, 0.3)
    assert ok, "descriptors not given back: %d at start, %d after" % (fds0, _fds(pid))
    a.t.check_alive()


def case_sse_tenant_cap(ctx):
    """One tenant holds at most sse_max_per_tenant (64) event streams on a node: the
    65th gets 429 too_many_streams with Retry-After. A stream lives until its client
    leaves, so without a cap one tenant's key could take every connection of the
    listener (max_connections) from a few addresses and lock everyone out. Another
    tenant and the operator still open theirs; a closed stream frees its place."""
    a = apimode.start(ctx)
    op = a.op
    for t in ("acme", "beta"):
        expect(op.post("/v1/tenants", {"id": t}), 201)
    keys = {t: expect(op.post("/v1/api-keys", {"tenant_id": t, "scopes": ["events:read"]}),
                      201).json["key"] for t in ("acme", "beta")}
    keys["op"] = a.op_key

    def stream(who, src):
        s = _raw(a.port, src, b"GET /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 b"Bearer " + keys[who].encode() + b"\r\n\r\n")
        ctx.at_end(s.close)
        b = b""
        s.settimeout(5)
        while b"\r\n\r\n" not in b:
            x = s.recv(4096)
            if not x:
                break
            b += x
        return s, b
    held = [stream("acme", "127.0.2.%d" % (1 + i % 2))[0] for i in range(64)]
    s, b = stream("acme", "127.0.2.3")
    assert _status_of(b) == 429, b[:200]
    raw, _ = _read_all(s, 2)
    assert b"Retry-After: 5" in b, b
    assert json.loads((b + raw).split(b"\r\n\r\n", 1)[1])["error"] == "too_many_streams", b
    for who in ("beta", "op"):
        _, b = stream(who, "127.0.2.4")
        assert _status_of(b) == 200, (who, b[:200])
    held.pop().close()
    ok = procs.wait_until(lambda: _status_of(stream("acme", "127.0.2.5")[1]) == 200, 10, 0.3)
    assert ok, "a closed stream did not free its place"
    assert metric(a, "trunx_sse_clients_refused_total") >= 1
    assert a.t.events("events.sse_refused"), "no events.sse_refused line"
    a.t.check_alive()


def metric(node, name):
    """A counter or gauge of a node's /metrics (its operator key), or None."""
    for line in expect(node.op.get("/metrics"), 200).raw.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


def revoke_seen_at_once(a, b, tenant):
    """A key of tenant's, cached on node B, revoked through node A: B's next request
    with it is refused (B's copy keeps entries for 60 s: only the publish drops it)."""
    k = expect(a.op.post("/v1/api-keys", {"tenant_id": tenant, "scopes": ["peers:read"]}),
               201).json
    onb = b.anon.with_token(k["key"])
    expect(onb.get("/v1/me"), 200)                 # a miss: Redis, then kept
    hits = metric(b, "trunx_api_key_cache_hits_total")
    for _ in range(5):
        expect(onb.get("/v1/me"), 200)
    # 5 hits, and the operator key of the /metrics request itself.
    assert metric(b, "trunx_api_key_cache_hits_total") >= hits + 5
    inval = metric(b, "trunx_api_key_cache_invalidations_total")
    t0 = time.monotonic()
    expect(a.op.delete("/v1/api-keys/" + k["id"]), 204)
    expect(onb.get("/v1/me"), 401, "revoked_token")
    assert time.monotonic() - t0 < 2.0
    assert metric(b, "trunx_api_key_cache_invalidations_total") >= inval + 1
    assert metric(b, "trunx_api_key_cache_live") == 1


def key_cache_two_nodes(ctx, a):
    """Node B shares A's Postgres and Redis, with a long-lived copy of its own."""
    b = apimode.start(ctx, pg=a.pg, redis=a.redis, name="node_b",
                      extra={"key_local_cache_ms": 60000})
    assert procs.wait_until(lambda: metric(b, "trunx_api_key_cache_live") == 1, 20, 0.1)
    revoke_seen_at_once(a, b, "acme")
    # Revoked on B itself: B's own copy is dropped directly.
    revoke_seen_at_once(b, b, "acme")
    # A key kept on B while Redis goes away (the caller checks the bypass).
    k2 = expect(a.op.post("/v1/api-keys", {"tenant_id": "acme", "scopes": ["peers:read"]}),
                201).json["key"]
    kb2 = b.anon.with_token(k2)
    expect(kb2.get("/v1/me"), 200)
    assert metric(b, "trunx_api_key_cache_entries") >= 2   # B's operator key and k2
    return b, kb2


def sip_invite(dst, src, cid):
    """A new INVITE from src (ip, port) over UDP to a number no DID has."""
    return ("INVITE sip:+15559990000@%s:%d SIP/2.0\r\n"
            "Via: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s;rport\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:+15551230000@%s>;tag=m%s\r\n"
            "To: <sip:+15559990000@%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
            "Contact: <sip:c@%s:%d>\r\nContent-Length: 0\r\n\r\n"
            % (dst[0], dst[1], src[0], src[1], cid, src[0], cid, dst[0], cid, src[0],
               src[1])).encode()


def sip_options(dst, src, cid):
    return ("OPTIONS sip:%s:%d SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bK-%s\r\n"
            "Max-Forwards: 70\r\nFrom: <sip:m@%s>;tag=m%s\r\nTo: <sip:%s>\r\n"
            "Call-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
            % (dst[0], dst[1], src[0], src[1], cid, src[0], cid, dst[0], cid)).encode()


def case_sip_metrics(ctx):
    """The SIP front's counters are in /metrics as trunx_sip_* (trunxctl status's names),
    each with its HELP and TYPE lines and the value trunxctl status gives: after a
    datagram that is not SIP, an OPTIONS from the carrier (answered statelessly), a
    burst of OPTIONS from an unknown source over rate_limit (403s and drops), INVITEs
    from the carrier over max_cps (a 503 in front of the stack, its ACK absorbed), a
    TCP connection from the carrier held open and a TLS handshake from an unknown source
    (refused at its ClientHello), each of those series moved."""
    import ssl
    from harness import sipmsg, tlscerts
    pki = tlscerts.Pki(ctx.path("pki"))
    cert, key, _ = pki.issue("trunx")
    tls_port = ports.free_port("127.0.0.1")

    def conf(c):
        c.sip.update(max_cps=1, overload_delay=0, rate_limit=20, rate_burst=20,
                     transports="udp,tcp,tls", tls_listen="127.0.0.1:%d" % tls_port,
                     tls_cert=cert, tls_key=key, tls_ca=pki.ca)
    a = apimode.start(ctx, configure=conf)
    world(ctx, a, 5999)
    t = a.t
    dst = (t.addr, t.port)
    dbmode.wait_routing(t, lambda m: "1 carriers" in m, timeout=10)
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.2", 0))
    ctx.at_end(u.close)
    src = u.getsockname()
    u.settimeout(0.2)

    def final(cid, timeout=5.0):
        return sipmsg.recv_final(u, cid, timeout)
    u.sendto(b"\x00\x01\x00\x08\x21\x12\xa4\x42" + b"\x00" * 12, dst)   # STUN-shaped
    u.sendto(sip_options(dst, src, "opt-1"), dst)
    m = final("opt-1")
    assert m and m.status == 200, m and m.start
    # An unknown source over rate_limit: 403s, then drops.
    x = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    x.bind(("127.0.0.9", 0))
    ctx.at_end(x.close)
    for i in range(100):
        x.sendto(sip_options(dst, x.getsockname(), "unk-%d" % i), dst)
    # The carrier over max_cps: INVITEs until one is refused in front, then its ACK.
    refused = None
    for i in range(10):
        cid = "inv-%d" % i
        req = sip_invite(dst, src, cid)
        u.sendto(req, dst)
        m = final(cid)
        assert m, "no answer to %s" % cid
        if m.status == 503:
            refused = (req, m)
            break
    assert refused, "no 503 at max_cps 1"
    q = sipmsg.Message(refused[0])
    u.sendto(("ACK %s SIP/2.0\r\nVia: %s\r\nMax-Forwards: 70\r\nFrom: %s\r\nTo: %s\r\n"
              "Call-ID: %s\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
              % (q.start.split(" ")[1], q.header("Via"), q.header("From"),
                 refused[1].header("To"), q.header("Call-ID"))).encode(), dst)
    tc = socket.socket()
    tc.bind(("127.0.0.2", 0))
    tc.connect(dst)
    ctx.at_end(tc.close)
    raw = socket.socket()
    raw.bind(("127.0.0.9", 0))
    raw.settimeout(5)
    raw.connect(("127.0.0.1", tls_port))
    cc = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    cc.check_hostname = False
    cc.verify_mode = ssl.CERT_NONE
    try:
        cc.wrap_socket(raw).close()
        raise AssertionError("an unknown source completed a TLS handshake")
    except ssl.SSLError:
        pass
    raw.close()
    assert procs.wait_until(lambda: t.counter("tcp_open") == 1 and
                            t.counter("acks_absorbed") == 1 and
                            t.counter("tls_refused_stranger") == 1, 5, 0.05)
    st0 = t.status()
    text = expect(a.op.get("/metrics"), 200).raw.decode()
    st1 = t.status()
    lines = text.splitlines()
    vals = {}
    for i, line in enumerate(lines):
        if line.startswith("trunx_sip_") or line.startswith("trunx_log_suppressed"):
            name, v = line.split(" ")
            assert lines[i - 2] == "# HELP %s %s" % (name, lines[i - 2].split(" ", 3)[3]), \
                lines[i - 2:i + 1]
            kind = "gauge" if name == "trunx_sip_tcp_open" else "counter"
            assert lines[i - 1] == "# TYPE %s %s" % (name, kind), lines[i - 2:i + 1]
            vals[name] = int(v)
    ctx.log("/metrics: %s", vals)

    def ctl(st, name):
        for part in ("counters", "dialogs", "tls"):
            if name in st.get(part, {}):
                return st[part][name]
        raise AssertionError("trunxctl status has no %s" % name)
    for name, v in vals.items():
        short = name[len("trunx_sip_"):] if name.startswith("trunx_sip_") else \
            "log_suppressed"
        short = short[:-len("_total")] if short.endswith("_total") else short
        # Read between two trunxctl status: the same counter, so between their values.
        assert ctl(st0, short) <= v <= ctl(st1, short), (name, v, ctl(st0, short),
                                                          ctl(st1, short))
    want = ["rate_limited", "dropped_not_sip", "options_stateless", "malformed_stateless",
            "methods_stateless", "rejected_unknown_source",
            "dropped_unknown_source", "overload_stateless", "overload_resent",
            "overload_forgotten", "acks_absorbed", "shed_overload", "tcp_accepted",
            "tcp_refused_limit", "tcp_refused_unknown", "tcp_refused_no_descriptor",
            "tcp_closed_unknown", "tcp_closed_idle", "tcp_closed_incomplete",
            "in_dialog_refused", "in_dialog_bad",
            "contact_refused", "offer_glare", "tls_refused", "tls_refused_stranger"]
    missing = [n for n in want if "trunx_sip_%s_total" % n not in vals]
    assert not missing and "trunx_sip_tcp_open" in vals and \
        "trunx_log_suppressed_total" in vals, missing
    for n in ("rate_limited", "dropped_not_sip", "options_stateless",
              "rejected_unknown_source", "overload_stateless", "acks_absorbed",
              "tcp_accepted", "tls_refused_stranger"):
        assert vals["trunx_sip_%s_total" % n] >= 1, (n, vals)
    assert vals["trunx_sip_tcp_open"] == 1, vals
    # 100 from one source at rate_burst 20: most dropped, the rest answered 403.
    assert (vals["trunx_sip_rate_limited_total"] + vals["trunx_sip_rejected_unknown_source_total"]
            >= 100), vals
    t.check_alive()


def case_serve(ctx):
    """Not registered: starts the API and waits (for manual experiments)."""
    a = apimode.start(ctx)
    print("PORT", a.port, "KEY", a.op_key, flush=True)
    time.sleep(float(os.environ.get("SERVE_S", "60")))


def hashlib_sha(key):
    import hashlib
    return hashlib.sha256(key.encode()).hexdigest()


if __name__ == "__main__":
    sys.exit(case.main(globals()))
