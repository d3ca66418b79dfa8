"""Real Postgres and Redis for a test case, created the way tools/run.sh creates the
embedded default (tools/embedded.sh: a private cluster owned by an unprivileged system
user, Unix sockets only), but run in the foreground as processes of the case's registry:
they are stopped by PID when the case ends and die with the driver if it is killed.

    pg = datastore.Postgres(ctx).start()
    pg.url                       # postgresql://trunx@/trunx?host=...
    pg.sql("SELECT 1")           # [("1",)]
    pg.stop(); pg.start()        # an outage
    rd = datastore.Redis(ctx).start()
    rd.url, rd.cli("ZCARD", "k")
"""
import os
import signal
import subprocess
import time

from . import procs

PG_TEST_OPTS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c log_min_messages=warning")


def _embedded(ctx):
    src = ctx.source_dir or os.path.abspath(
        os.path.join(os.path.dirname(__file__), "..", "..", ".."))
    return os.path.join(src, "tools", "embedded.sh")


class DatastoreError(Exception):
    pass


class _Server:
    def __init__(self, ctx, name, what):
        self.ctx = ctx
        self.name = name
        self.what = what
        self.dir = ctx.path(name)
        self.proc = None
        self.tool = _embedded(ctx)
        self.run_dir = None

    def _init(self):
        env = dict(os.environ, TRUNX_PG_NOSYNC="1")
        p = subprocess.run([self.tool, "init", self.dir, self.what], env=env,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise DatastoreError("%s init: %s%s" % (self.name, p.stdout, p.stderr))
        self.run_dir = os.path.realpath(os.path.join(self.dir, "run"))

    def stop(self, sig=signal.SIGINT, timeout=30):
        """Stops the server (SIGINT: Postgres' fast shutdown); returns its exit code."""
        if self.proc is None or not self.proc.alive():
            return None
        rc = self.proc.stop(sig, timeout=timeout)
        self.ctx.log("%s stopped (rc %s)", self.name, rc)
        return rc

    def kill(self):
        if self.proc is not None:
            self.proc.kill()

    def pause(self):
        """SIGSTOP: the server keeps its sockets but answers nothing."""
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)


class Postgres(_Server):
    def __init__(self, ctx, name="pg"):
        super().__init__(ctx, name, "pg")
        self._db_created = False

    @property
    def url(self):
        return "postgresql://trunx@/trunx?host=%s" % self.run_dir

    @property
    def sock(self):
        return os.path.join(self.run_dir, ".s.PGSQL.5432")

    def start(self, timeout=60):
        if self.run_dir is None:
            self._init()
        env = {"TRUNX_PG_OPTS": PG_TEST_OPTS}
        self.proc = self.ctx.reg.start(self.name, [self.tool, "run-pg", self.dir], env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.proc.alive():
                raise DatastoreError("postgres exited: %s" % self.proc.read_stderr()[-2000:])
            if os.path.exists(self.sock) and self._ready():
                break
            time.sleep(0.05)
        else:
            raise DatastoreError("postgres not ready in %d s: %s"
                                 % (timeout, self.proc.read_stderr()[-2000:]))
        if not self._db_created:
            p = subprocess.run([self.tool, "createdb", self.dir], capture_output=True,
                               text=True, timeout=60)
            if p.returncode != 0:
                raise DatastoreError("createdb: %s%s" % (p.stdout, p.stderr))
            self._db_created = True
        self.ctx.log("%s ready (pid %d, %s)", self.name, self.proc.pid, self.url)
        return self

    def _ready(self):
        p = subprocess.run(["psql", "-h", self.run_dir, "-U", "trunx", "-d", "postgres",
                            "-Atqc", "SELECT 1"], capture_output=True, text=True,
                           timeout=30)
        return p.returncode == 0 and p.stdout.strip() == "1"

    def sql(self, statement, db="trunx", check=True, timeout=120):
        """Runs SQL through psql; returns the rows as tuples of strings (NULL -> '')."""
        p = subprocess.run(["psql", "-h", self.run_dir, "-U", "trunx", "-d", db, "-X",
                            "-v", "ON_ERROR_STOP=1", "-AtqF", "\t", "-c", statement],
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise DatastoreError("psql: %s\n%s" % (p.stderr.strip(), statement[:500]))
        if not check and p.returncode != 0:
            return None
        return [tuple(line.split("\t")) for line in p.stdout.splitlines() if line != ""]

    def value(self, statement, **kw):
        rows = self.sql(statement, **kw)
        return rows[0][0] if rows else None

    def wait_value(self, statement, want, timeout=10.0):
        """Polls until the first column of the first row equals want (as a string)."""
        got = procs.wait_until(lambda: self.value(statement) == str(want), timeout, 0.1)
        if not got:
            raise DatastoreError("%r stayed %r, wanted %r" % (statement, self.value(statement),
                                                          want))


class Redis(_Server):
    def __init__(self, ctx, name="redis"):
        super().__init__(ctx, name, "redis")

    @property
    def sock(self):
        return os.path.join(self.run_dir, "redis.sock")

    @property
    def url(self):
        return "unix:%s" % self.sock

    def start(self, timeout=30):
        if self.run_dir is None:
            self._init()
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.proc = self.ctx.reg.start(self.name, [self.tool, "run-redis", self.dir])
        ok = procs.wait_until(lambda: not self.proc.alive() or
                              (os.path.exists(self.sock) and self._ping()), timeout, 0.05)
        if not ok or not self.proc.alive():
            raise DatastoreError("redis not ready: %s" % self.proc.read_stdout()[-2000:])
        self.ctx.log("%s ready (pid %d, %s)", self.name, self.proc.pid, self.url)
        return self

    def _ping(self):
        try:
            return self.cli("PING") == "PONG"
        except DatastoreError:
            return False

    def cli(self, *args, timeout=30):
        p = subprocess.run(["redis-cli", "-s", self.sock] + [str(a) for a in args],
                           capture_output=True, text=True, timeout=timeout)
        if p.returncode != 0:
            raise DatastoreError("redis-cli %s: %s" % (" ".join(map(str, args)), p.stderr))
        return p.stdout.strip()
