"""Test-case runner shared by the integration drivers.

A driver defines functions named case_<name>(ctx) and ends with
`sys.exit(case.main(globals()))` (its exit status is the verdict). ctest runs one
case per test:

    python3 driver.py --trunxd PATH [--trunxctl PATH] --sipp-dir DIR --workdir DIR NAME

Every case gets a fresh work directory and a process registry; whatever it started is
killed by PID when it ends, passed or failed. Checks registered with ctx.at_end() (e.g.
trunxd's exit code and sanitizer report) run after the case body and fail the case too.
"""
import argparse
import os
import shutil
import signal
import sys
import time
import traceback

from . import procs


class CaseTimeout(Exception):
    pass


class Context:
    def __init__(self, args, name):
        self.args = args
        self.name = name
        self.workdir = os.path.abspath(os.path.join(args.workdir, name))
        if os.path.isdir(self.workdir):
            shutil.rmtree(self.workdir)
        os.makedirs(self.workdir)
        self.reg = procs.Registry(self.workdir)
        self.sipp_dir = os.path.abspath(args.sipp_dir)
        # TRUNX_TEST_TRUNXD runs the case against another build of trunxd (the
        # ThreadSanitizer stage of tools/test.sh) with everything else unchanged.
        trunxd_bin = os.environ.get("TRUNX_TEST_TRUNXD") or args.trunxd
        self.trunxd_path = os.path.abspath(trunxd_bin) if trunxd_bin else None
        self.trunxctl_path = os.path.abspath(args.trunxctl) if args.trunxctl else None
        self.source_dir = args.source_dir
        self._end_checks = []
        self.t0 = time.monotonic()

    def log(self, fmt, *a):
        msg = fmt % a if a else fmt
        print("[%7.2fs] %s" % (time.monotonic() - self.t0, msg), flush=True)

    def scenario(self, name):
        """Path of a SIPp scenario in conf/sipp/."""
        p = name if os.path.isabs(name) else os.path.join(self.sipp_dir, name)
        if not os.path.exists(p):
            raise FileNotFoundError(p)
        return p

    def path(self, name):
        return os.path.join(self.workdir, name)

    def at_end(self, fn):
        """Registers a check run after the case body (in reverse order)."""
        self._end_checks.append(fn)

    def run_end_checks(self):
        errors = []
        while self._end_checks:
            fn = self._end_checks.pop()
            try:
                fn()
            except Exception as e:   # collect all, report all
                errors.append(e)
        return errors


def _alarm(signum, frame):
    raise CaseTimeout("case exceeded its time limit")


def main(namespace, argv=None):
    cases = {k[5:]: v for k, v in namespace.items() if k.startswith("case_") and callable(v)}
    ap = argparse.ArgumentParser()
    ap.add_argument("--trunxd", default=os.environ.get("TRUNXD"))
    ap.add_argument("--trunxctl", default=os.environ.get("TRUNXCTL"))
    ap.add_argument("--sipp-dir", required=True)
    ap.add_argument("--source-dir", default=None)
    ap.add_argument("--workdir", default=os.path.join(os.getcwd(), "itest-work"))
    ap.add_argument("--deadline", type=int, default=0,
                    help="seconds after which the case fails (and cleans up)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("case", nargs="?")
    args = ap.parse_args(argv)
    if args.list or not args.case:
        print("\n".join(sorted(cases)))
        return 0 if args.list else 2
    if args.case not in cases:
        print("unknown case %r; known: %s" % (args.case, ", ".join(sorted(cases))))
        return 2
    ctx = Context(args, args.case)
    signal.signal(signal.SIGTERM, lambda s, f: (_ for _ in ()).throw(CaseTimeout("SIGTERM")))
    if args.deadline:
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(args.deadline)
    ok = True
    try:
        cases[args.case](ctx)
    except BaseException as e:
        ok = False
        ctx.log("FAIL: %s", e)
        traceback.print_exc()
    finally:
        signal.alarm(0)
        errors = ctx.run_end_checks()
        ctx.reg.cleanup()
    for e in errors:
        ok = False
        ctx.log("FAIL (at end): %s", e)
    ctx.log("%s %s (work dir %s)", "PASS" if ok else "FAIL", args.case, ctx.workdir)
    return 0 if ok else 1
