"""trunxd in database mode for a test case: a Postgres (and optionally a Redis) of the
case's own, a trunxd whose [data] section points at them, and small SQL helpers that
write the rows an operator would (tenants, carrier trunks, customer peers, DIDs,
outbound routes).

    pg, t = dbmode.start(ctx)                       # Postgres + trunxd (schema migrated)
    dbmode.tenant(pg, "acme")
    dbmode.peer(pg, "acme", "acme-pbx", host="127.0.0.1", port=uas.port)
    dbmode.carrier(pg, "carrier1", ips=["127.0.0.2/32"])
    dbmode.did(pg, "+15557770001", trunk="carrier1", tenant="acme", peer="acme-pbx")
"""
import json
import time

from . import datastore, procs, trunxd


def _q(v):
    """A SQL literal."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (list, tuple)):
        return "ARRAY[%s]::text[]" % ", ".join(_q(x) for x in v) if v else "'{}'"
    if isinstance(v, dict):
        return _q(json.dumps(v)) + "::jsonb"
    return "'" + str(v).replace("'", "''") + "'"


def configure_db(pg, redis=None, journal_dir=None, extra=None, log_level="info"):
    """A Config hook: database mode, no [trunk]/[route] sections."""
    def hook(c):
        c.remove("trunk carrier")
        c.remove("trunk pbx")
        c.remove("route did")
        c.general["log_level"] = log_level
        kv = {"postgres": pg.url, "startup_timeout": 20}
        if redis is not None:
            kv["redis"] = redis.url
        if journal_dir:
            kv["journal_dir"] = journal_dir
        kv.update(extra or {})
        c.section("data", **kv)
    return hook


def start(ctx, redis=False, name="trunxd", pg=None, extra=None, configure=None,
          log_level="info"):
    """A Postgres (unless given) and a trunxd in database mode; returns (pg, trunxd) or
    (pg, redis, trunxd) when redis is asked for (True, or a datastore.Redis)."""
    pg = pg or datastore.Postgres(ctx).start()
    rd = None
    if redis is True:
        rd = datastore.Redis(ctx).start()
    elif redis:
        rd = redis
    hook = configure_db(pg, rd, ctx.path(name + "-journal"), extra, log_level)

    def both(c):
        hook(c)
        if configure:
            configure(c)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=both, name=name).start()
    return (pg, rd, t) if redis else (pg, t)


def tenant(pg, tid, configured=True, status="active", max_calls=None, default_did=None):
    cfg = {"contract_version": 1} if configured else None
    pg.sql("INSERT INTO tenants (id, name, status, runtime_config, max_calls, default_did) "
           "VALUES (%s, %s, %s, %s, %s, %s)" % (_q(tid), _q(tid.title()), _q(status),
                                                _q(cfg), _q(max_calls), _q(default_did)))


def carrier_sql(name, ips=(), host=None, port=5060, **cols):
    """The INSERT of a carrier trunk (RETURNING id), for use inside bigger statements."""
    c = {"name": name, "provider": cols.pop("provider", "test"),
         "identify_match_ips": None, "endpoint_host": host, "endpoint_port": port}
    c.update(cols)
    names = list(c)
    vals = [_q(c[k]) for k in names]
    vals[names.index("identify_match_ips")] = "%s::cidr[]" % _q(list(ips))
    return ("INSERT INTO carrier_trunks (%s) VALUES (%s) RETURNING id"
            % (", ".join(names), ", ".join(vals)))


def carrier(pg, name, ips=(), host=None, port=5060, **cols):
    return pg.value(carrier_sql(name, ips, host, port, **cols))


def peer(pg, tenant_id, name, host=None, port=5060, ips=(), **cols):
    c = {"tenant_id": tenant_id, "name": name, "host": host, "port": port}
    c.update(cols)
    names = list(c)
    vals = [_q(c[k]) for k in names]
    return pg.value("INSERT INTO customer_peers (%s, identify_match_ips) VALUES (%s, %s::cidr[]) "
                    "RETURNING id" % (", ".join(names), ", ".join(vals), _q(list(ips))))


def did_sql(number, trunk=None, tenant=None, peer=None, dest="peer", uri=None,
            announcement=None, status="active"):
    return ("INSERT INTO did_numbers (number, trunk_id, tenant_id, destination_type, peer_id, "
            "destination_uri, announcement, status) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            % (_q(number),
               "(SELECT id FROM carrier_trunks WHERE name = %s)" % _q(trunk) if trunk else "NULL",
               _q(tenant), _q(dest),
               "(SELECT id FROM customer_peers WHERE name = %s)" % _q(peer) if peer else "NULL",
               _q(uri), _q(announcement), _q(status)))


def did(pg, number, **kw):
    pg.sql(did_sql(number, **kw))


def outbound_route(pg, trunk, prefix="", tenant=None, priority=100, weight=1):
    pg.sql("INSERT INTO outbound_routes (tenant_id, prefix, priority, weight, trunk_id) "
           "VALUES (%s, %s, %d, %d, (SELECT id FROM carrier_trunks WHERE name = %s))"
           % (_q(tenant), _q(prefix), priority, weight, _q(trunk)))


def setting(pg, key, value):
    settings(pg, **{key: value})


def settings(pg, **kv):
    """Several settings in one transaction: trunxd sees them in one routing load."""
    pg.sql("; ".join("UPDATE settings SET value = %s WHERE key = %s" % (_q(str(v)), _q(k))
                     for k, v in kv.items()))


def loads(t):
    """The routing.load records trunxd wrote so far."""
    return t.events("routing.load")


def live_bound(ctx):
    """How soon a database change must reach routing: 1 s; 3 s in a sanitizer build,
    which shares its cores with other tests and runs several times slower."""
    return 3.0 if trunxd.sanitized(ctx.trunxd_path) else 1.0


def wait_load(t, after, timeout=10.0):
    """Waits for a routing.load record beyond the first `after` ones; returns it."""
    got = procs.wait_until(lambda: len(loads(t)) > after, timeout, 0.02)
    if not got:
        raise trunxd.TrunxdError("no routing load within %.1f s (have %d)"
                                 % (timeout, len(loads(t))))
    return loads(t)[after]


def wait_routing(t, pred, timeout=10.0):
    """Waits until a routing.load record's msg satisfies pred; returns the time taken."""
    t0 = time.monotonic()
    ok = procs.wait_until(lambda: any(pred(r.get("msg", "")) for r in loads(t)), timeout, 0.01)
    if not ok:
        raise trunxd.TrunxdError("routing never matched within %.1f s: %s"
                                 % (timeout, [r.get("msg") for r in loads(t)][-3:]))
    return time.monotonic() - t0
