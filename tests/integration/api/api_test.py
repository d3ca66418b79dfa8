#!/usr/bin/env python3
"""The HTTP API end to end (trunxd in database mode with real Postgres and Redis):
bad input answered with exact statuses and error codes, API keys (bootstrap, scopes,
revocation at once, the service token's door, failed attempts limited per source),
resources with cursor pagination and filters, tenant isolation over every operation
of the OpenAPI document, and calls in progress listed, read and hung up by API."""
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import case, dbmode, procs  # noqa: E402

import apimode  # noqa: E402
from apiclient import expect  # noqa: E402


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
    expect(ten.post("/v1/calls/nope/play", {"prompt": "hello"}), 404, "not_found")
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
