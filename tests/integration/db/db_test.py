#!/usr/bin/env python3
"""The data plane's foundations against real servers: the Postgres client's C tests,
tools/embedded.sh (the embedded default of tools/run.sh), the migrations trunxd applies
at start-up, and what --check says about a file's mode."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from harness import calls, case, datastore, ports, procs, sipp, trunxd  # noqa: E402


def case_client(ctx):
    """src/db/db.c against a real Postgres (test_db_client.c)."""
    pg = datastore.Postgres(ctx).start()
    binary = os.environ["TRUNX_TEST_DB_CLIENT"]
    p = ctx.reg.start("test_db_client", [binary], env={"TRUNX_TEST_PG": pg.url})
    rc = p.wait(150)
    out = p.read_stdout() + p.read_stderr()
    ctx.log("test_db_client rc %s\n%s", rc, out[-4000:])
    assert rc == 0, "test_db_client failed"


def case_embedded_script(ctx):
    """tools/embedded.sh start / status / stop: a cluster owned by the unprivileged user,
    reachable by its URL, a Redis on its socket, both gone after stop."""
    tool = os.path.join(ctx.source_dir, "tools", "embedded.sh")
    d = ctx.path("var")
    env = dict(os.environ, TRUNX_PG_NOSYNC="1")
    try:
        p = subprocess.run([tool, "start", d], capture_output=True, text=True, timeout=120,
                           env=env)
        assert p.returncode == 0, p.stderr
        urls = dict(line.split("=", 1) for line in p.stdout.split())
        ctx.log("urls: %s", urls)
        assert urls["postgres"].startswith("postgresql://trunx@/trunx?host=")
        assert urls["redis"].startswith("unix:")
        st = os.stat(os.path.join(d, "pg", "data"))
        import pwd
        assert pwd.getpwuid(st.st_uid).pw_name == "trunx", "var/pg not owned by trunx"
        host = urls["postgres"].split("host=", 1)[1]
        q = subprocess.run(["psql", "-h", host, "-U", "trunx", "-d", "trunx", "-Atc",
                            "SELECT current_user"], capture_output=True, text=True,
                           timeout=30)
        assert q.stdout.strip() == "trunx", q.stderr
        r = subprocess.run(["redis-cli", "-s", urls["redis"][5:], "PING"],
                           capture_output=True, text=True, timeout=30)
        assert r.stdout.strip() == "PONG", r.stderr
        # start again: nothing to create, same answer
        p2 = subprocess.run([tool, "start", d], capture_output=True, text=True, timeout=120)
        assert p2.returncode == 0 and p2.stdout == p.stdout, p2.stderr
        s = subprocess.run([tool, "status", d], capture_output=True, text=True, timeout=30)
        assert "postgres: running" in s.stdout and "redis: running" in s.stdout, s.stdout
    finally:
        subprocess.run([tool, "stop", d], capture_output=True, text=True, timeout=120)
    s = subprocess.run([tool, "status", d], capture_output=True, text=True, timeout=30)
    assert "postgres: stopped" in s.stdout and "redis: stopped" in s.stdout, s.stdout


def case_migrate_at_start(ctx):
    """trunxd in database mode applies the migrations before it is ready; a second node
    (or a restart) finds nothing to do; without Postgres it gives up with a clear error."""
    pg = datastore.Postgres(ctx).start()

    def db_mode(c):
        c.section("data", postgres=pg.url, journal_dir=ctx.path("journal"),
                  startup_timeout=5)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=db_mode).start()
    v = pg.value("SELECT max(version) FROM schema_migrations")
    assert v and int(v) >= 1, v
    tables = {r[0] for r in pg.sql("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    for want in ("tenants", "carrier_trunks", "customer_peers", "did_numbers",
                 "outbound_routes", "calls", "events", "channel_pools", "settings"):
        assert want in tables, "table %s missing: %s" % (want, sorted(tables))
    recs = t.events("db.migrate")
    assert recs, "no db.migrate record"
    t.stop()
    t2 = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=db_mode, name="trunxd2").start()
    assert not t2.events("db.migrate"), "migrations applied twice"
    t2.stop()
    pg.stop()
    t3 = trunxd.Trunxd(ctx, ctx.trunxd_path, configure=db_mode, name="trunxd3")
    t3._expect_exit = True
    try:
        t3.start(ready_timeout=20)
        raise AssertionError("trunxd started without its database")
    except trunxd.TrunxdError:
        pass
    err = t3.proc.read_stderr()
    assert "cannot connect to Postgres" in err, err[-2000:]
    assert t3.proc.wait(5) == 1, "exit code %s" % t3.proc.popen.returncode


def case_check_modes(ctx):
    """--check names the mode: the file's trunks and routes (file mode) or the database
    (with or without Redis), and masks passwords."""
    port = ports.free_port("127.0.0.1")
    conf = trunxd.Config(port, (20000, 20099), "/tmp/unused-check.sock", uas_port=5999)
    path = ctx.path("f.conf")
    with open(path, "w") as f:
        f.write(conf.text())
    p = subprocess.run([ctx.trunxd_path, "--config", path, "--check"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "mode: file (2 trunks and 1 route" in p.stdout, p.stdout
    assert "postgres: -" in p.stdout and "redis: -" in p.stdout, p.stdout
    p = subprocess.run([ctx.trunxd_path, "--config", path, "--postgres",
                        "postgresql://u:secret@db.example/trunx", "--redis",
                        "redis://:pw@127.0.0.1:6379/0", "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "mode: database" in p.stdout and "shared through Redis" in p.stdout, p.stdout
    assert "secret" not in p.stdout and "pw@" not in p.stdout, p.stdout
    assert "not used" in p.stdout, p.stdout
    p = subprocess.run([ctx.trunxd_path, "--config", path, "--redis", "http://x", "--check"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode != 0 and "redis" in p.stderr, p.stderr


def case_readme_run(ctx):
    """tools/run.sh with a file that names no database: it creates and starts a private
    Postgres (owned by the unprivileged user) and Redis under its var directory, puts
    the file's trunks and routes into the database, and trunxd routes the sample call
    from it; SIGTERM stops trunxd, then both servers."""
    u = calls.uas(ctx, "uas_basic.xml", timeout=120)
    port = ports.free_port("127.0.0.1")
    rng = ports.free_range(200, "127.0.0.1", avoid=(port,))
    conf = trunxd.Config(port, rng, ctx.path("run.ctl"), uas_port=u.port)
    path = ctx.path("run.conf")
    with open(path, "w") as f:
        f.write(conf.text().replace("[general]", "[data]\njournal_dir = %s\n\n[general]"
                                    % ctx.path("journal"), 1))
    var = ctx.path("var")
    tool = os.path.join(ctx.source_dir, "tools", "embedded.sh")
    ctx.at_end(lambda: subprocess.run([tool, "stop", var], capture_output=True, timeout=120))
    env = {"TRUNX_VAR_DIR": var, "TRUNX_RUN_BINARY": ctx.trunxd_path, "TRUNX_PG_NOSYNC": "1"}
    run = ctx.reg.start("run.sh", [os.path.join(ctx.source_dir, "tools", "run.sh"), path],
                        env=env, cwd=ctx.source_dir)
    t = trunxd.Trunxd(ctx, ctx.trunxd_path)
    t.port, t.proc = port, run
    if not t.wait_ready(90):
        raise AssertionError("run.sh did not bring trunxd up:\n%s" % run.read_stderr()[-3000:])
    import pwd
    st = os.stat(os.path.join(var, "pg", "data"))
    assert pwd.getpwuid(st.st_uid).pw_name == "trunx", "var/pg is not owned by trunx"
    err = run.read_stderr()
    assert "2 trunks and 1 route added to the database" in err, err[-2000:]
    assert "routing loaded: 2 carriers" in err, err[-2000:]
    # A second run.sh on the same var directory refuses at once and leaves the first
    # one's servers alone (its exit used to stop the Postgres and Redis in use).
    second = subprocess.run([os.path.join(ctx.source_dir, "tools", "run.sh"), path],
                            env=dict(os.environ, **env), cwd=ctx.source_dir,
                            capture_output=True, text=True, timeout=60)
    assert second.returncode != 0 and "another tools/run.sh" in second.stderr, \
        (second.returncode, second.stderr[-2000:])
    s = subprocess.run([tool, "status", var], capture_output=True, text=True, timeout=30)
    assert "postgres: running" in s.stdout and "redis: running" in s.stdout, s.stdout
    c = calls.uac(ctx, "uac_basic.xml", "127.0.0.1:%d" % port, duration_ms=300)
    calls.finish(c, u)
    sipp.expect_ok(c)
    rc = run.stop(timeout=60)
    assert rc == 0, "run.sh exit code %s" % rc
    s = subprocess.run([tool, "status", var], capture_output=True, text=True, timeout=30)
    assert "postgres: stopped" in s.stdout and "redis: stopped" in s.stdout, s.stdout


if __name__ == "__main__":
    sys.exit(case.main(globals()))
