"""trunxd in database mode with its HTTP API on for a test case: a public listener on a
free loopback port, a service listener on a Unix socket with a service token, the first
operator key made by `trunxd --create-api-key` (the documented bootstrap)."""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import dbmode, ports  # noqa: E402

from apiclient import Client  # noqa: E402

SERVICE_TOKEN = "svc-" + "s3cr3t" * 8


class Api:
    pass


def start(ctx, redis=True, extra=None, uas_port=None, configure=None, pg=None,
          name="trunxd"):
    """pg and redis (a datastore.Redis) given: another node sharing them (named name)."""
    a = Api()
    a.sockdir = tempfile.mkdtemp(prefix="trunx-api-")
    ctx.at_end(lambda: shutil.rmtree(a.sockdir, ignore_errors=True))

    def conf(c):
        a.port = ports.free_port("127.0.0.1")
        a.unix = os.path.join(a.sockdir, "api-%d.sock" % a.port)
        kv = {"listen": "127.0.0.1:%d" % a.port, "service_listen": "unix:" + a.unix,
              "service_token": SERVICE_TOKEN, "auth_fail_limit": 10}
        kv.update(extra or {})
        c.section("api", **kv)
        if configure:
            configure(c)
    r = dbmode.start(ctx, redis=redis, configure=conf, pg=pg, name=name)
    if redis:
        a.pg, a.redis, a.t = r
    else:
        a.pg, a.t = r
        a.redis = None
    a.anon = Client("127.0.0.1", a.port)
    a.service = Client(unix=a.unix, token=SERVICE_TOKEN)
    a.op_key = create_key(ctx, a.t, "ops")
    a.op = a.anon.with_token(a.op_key)
    return a


def create_key(ctx, t, name, tenant=None, scopes=None):
    argv = [ctx.trunxd_path, "--config", t.conf_path, "--create-api-key", name]
    if tenant:
        argv += ["--tenant", tenant]
    if scopes:
        argv += ["--scopes", ",".join(scopes)]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("tk_live_") and len(key) == 48, out.stdout
    return key
