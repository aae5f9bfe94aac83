"""Helpers for the channel tests (no tests here): two state directories and a spool folder,
driven by build/tools/chan (tests/tools/chan.c)."""

import json
import os
import shutil
import subprocess

TOOLS = os.environ.get("FERRY_TOOLS") or os.path.join(
    os.environ.get("FERRY_SRCDIR", os.getcwd()), "build", "tools")
CHAN = os.path.join(TOOLS, "chan")


def chan(*args, env=None, check=True):
    """Run chan; return (returncode, parsed JSON stdout or None, stderr)."""
    e = dict(os.environ)
    e.pop("FERRY_TEST_CRASH_AT", None)
    e.pop("FERRY_TEST_CRASH_LOG", None)
    if env:
        e.update(env)
    p = subprocess.run([CHAN] + [str(a) for a in args], capture_output=True,
                       text=True, env=e, timeout=60)
    out = None
    if p.stdout.strip():
        out = json.loads(p.stdout.strip().splitlines()[-1])
    if check and p.returncode != 0:
        raise AssertionError("chan %s: exit %d: %s" % (
            " ".join(map(str, args)), p.returncode, p.stderr))
    return p.returncode, out, p.stderr


class Pair:
    """Sites a and b of connection c1 over one spool folder."""

    def __init__(self, root, spool=None):
        self.root = str(root)
        self.a = os.path.join(self.root, "a")
        self.b = os.path.join(self.root, "b")
        self.spool = spool or os.path.join(self.root, "spool")
        os.makedirs(self.spool, exist_ok=True)
        chan("init", self.a, "sa", "sb")
        chan("init", self.b, "sb", "sa")
        self.now = 1_800_000_000

    def dir(self, site):
        return self.a if site == "a" else self.b

    def run(self, site, *extra, make=0, check=True, env=None, tick=1):
        self.now += tick
        return chan("run", self.dir(site), "--spool", self.spool,
                    "--make", make, "--now", self.now, *extra,
                    check=check, env=env)

    def dump(self, site):
        return chan("dump", self.dir(site))[1]

    def settle(self, rounds=6, **kw):
        for _ in range(rounds):
            self.run("a", **kw)
            self.run("b", **kw)

    def spool_names(self):
        return sorted(os.listdir(self.spool))

    def outbox(self, site):
        return sorted(os.listdir(os.path.join(self.dir(site), "outbox")))

    def inbox(self, site):
        return sorted(os.listdir(os.path.join(self.dir(site), "inbox")))

    def backup(self, site, to):
        shutil.copytree(self.dir(site), to)

    def restore(self, site, frm):
        shutil.rmtree(self.dir(site))
        shutil.copytree(frm, self.dir(site))


def assert_converged(pair):
    """Each site applied exactly the other's bundles, in order, and all is
    acknowledged."""
    da, db = pair.dump("a"), pair.dump("b")
    for me, peer in ((da, db), (db, da)):
        assert me["stop"] == "running" and me["conn_state"] == "running"
        sent = [[o[0], o[1]] for o in peer["outgoing"]]
        assert me["applied"] == sent, (me["applied"], sent)
        assert me["in_recv"] == me["in_applied"] == peer["out_sent"]
        assert peer["out_acked"] == peer["out_sent"]
        assert all(o[3] for o in peer["outgoing"])
    return da, db
