"""Pairing two sites: ferry invite, accept and run (docs/pairing.md).

Each test makes its own sites (a config file, a state directory, a Jira secret
file) around one spool folder, with real GnuPG keys, and stops every gpg-agent
it started.  Clock differences come from faketime (Debian's faketime package),
which reaches gpg and gpg-agent too, since they inherit its LD_PRELOAD.
"""
import fcntl
import hashlib
import io
import json
import os
import pty
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time

import msgpack

import pytest

SRCDIR = os.environ.get("FERRY_SRCDIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FERRY = os.environ.get("FERRY_BIN") or os.path.join(SRCDIR, "build", "ferry")
FAKETIME = shutil.which("faketime")

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def code_decode(code):
    """The 25 bytes of an invitation code (no checksum check)."""
    v = 0
    for c in code.replace("-", ""):
        v = v << 5 | CROCKFORD.index(c)
    return v.to_bytes(25, "big")


def code_encode(b23):
    """A code for 23 bytes, with a correct checksum."""
    b = b23 + hashlib.sha256(b23).digest()[:2]
    v = int.from_bytes(b, "big")
    syms = [CROCKFORD[(v >> (5 * (39 - i))) & 31] for i in range(40)]
    return "-".join("".join(syms[i:i + 5]) for i in range(0, 40, 5))


class Site:
    """One site: config file, state directory, secret file."""

    def __init__(self, root, name, spool, project="DEMO", user="ferry"):
        self.root = os.path.join(root, name)
        self.name = name
        self.spool = spool
        self.state = os.path.join(self.root, "state")
        self.conf = os.path.join(self.root, "ferry.conf")
        os.makedirs(self.root)
        self.secret = self.secret_file("secret", "jira-secret")
        self.write_config(project=project, user=user)

    def secret_file(self, name, text):
        path = os.path.join(self.root, name)
        with open(path, "w") as f:
            f.write(text + "\n")
        os.chmod(path, 0o600)
        return path

    def write_config(self, project="DEMO", user="ferry",
                     url="https://jira.example.com", secret=None,
                     extra=""):
        with open(self.conf, "w") as f:
            f.write(f"""[site]
name = {self.name}
state_dir = {self.state}
[jira]
url = {url}
user = {user}
secret_file = {secret or self.secret}
[connection link]
project = {project}
transport = spool
outbox = {self.spool}
inbox = {self.spool}
require_mount = no
{extra}""")

    def ferry(self, *args, input=None, fake=None, check=None):
        cmd = [FERRY, "-c", self.conf] + list(args)
        if fake is not None:
            cmd = [FAKETIME, "-f", fake] + cmd
        p = subprocess.run(cmd, input=input, capture_output=True,
                           text=True, timeout=60)
        if check is not None:
            assert p.returncode == check, (p.returncode, p.stdout,
                                           p.stderr)
        return p

    def init(self, fake=None):
        self.ferry("init", fake=fake, check=0)

    def run(self, fake=None, check=0):
        p = self.ferry("--json", "run", fake=fake, check=check)
        return json.loads(p.stdout)["connections"][0], p

    def invite(self):
        p = self.ferry("invite", "--connection", "link", "--json", check=0)
        return json.loads(p.stdout)

    def accept(self, code, fake=None, check=0):
        return self.ferry("accept", "--connection", "link", input=code + "\n",
                          fake=fake, check=check)

    def db(self):
        return sqlite3.connect(os.path.join(self.state, "ferry.db"))

    def stop_agent(self):
        home = os.path.join(self.state, "gnupg")
        if os.path.isdir(home):
            subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"],
                           capture_output=True)


@pytest.fixture
def sites():
    """A factory of sites sharing one spool folder."""
    root = tempfile.mkdtemp(prefix="ferry-pair-")
    spool = os.path.join(root, "spool")
    os.makedirs(spool)
    made = []

    def make(name, **kw):
        s = Site(root, name, spool, **kw)
        made.append(s)
        return s

    make.spool = spool
    yield make
    for s in made:
        s.stop_agent()
    shutil.rmtree(root, ignore_errors=True)


def spool_files(spool):
    return sorted(f for f in os.listdir(spool) if not f.startswith("."))


def pair(a, b):
    a.init()
    b.init()
    inv = a.invite()
    b.accept(inv["code"])
    ra, _ = a.run()
    rb, _ = b.run()
    return inv, ra, rb


def test_two_sites_pair_end_to_end_then_fall_silent(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    inv = a.invite()
    assert inv["site_id"] == inv["fingerprint"][:20].lower()
    codefile = os.path.join(b.root, "code.txt")
    with open(codefile, "w") as f:
        f.write("\n  " + inv["code"].lower() + "  \n")
    p = b.ferry("accept", "--connection", "link", "--code-file", codefile,
                "--json", check=0)
    acc = json.loads(p.stdout)
    assert acc["connection_id"] == inv["connection_id"]
    assert acc["peer_site"] == inv["site_id"]
    assert acc["hello_sent"] is True
    [hello] = spool_files(sites.spool)
    assert hello.startswith("ferry_%s_" % inv["connection_id"])
    assert hello.endswith("_hello.fbz")

    ra, _ = a.run()
    assert ra["state"] == "paired" and ra["pinned_now"]
    assert ra["hello_sent"]
    rb, _ = b.run()
    assert rb["state"] == "paired" and rb["pinned_now"]
    assert rb["peer_fingerprint"] == inv["fingerprint"]
    assert rb["peer_site"] == inv["site_id"]
    assert rb["removed"] == 1          # its hello, answered

    # Both keys pinned; a further run on each changes nothing.
    with a.db() as d:
        a_row = d.execute("SELECT peer_site, peer_fpr FROM conn").fetchone()
    assert a_row == (ra["peer_site"], ra["peer_fingerprint"])
    kept = spool_files(sites.spool)
    # The design keeps the latest control message of each direction: here
    # the inviter's reply, until its next control message replaces it.
    assert len(kept) == 1 and inv["site_id"] in kept[0].split("_")[2]
    for s in (a, b, a, b):
        r, p = s.run()
        assert r["state"] == "paired" and not r["pinned_now"]
        for k in ("fetched", "acks_in", "acks_out", "sent", "resent",
                  "removed", "pruned", "hellos_refused"):
            assert r[k] == 0, (k, r)
    assert spool_files(sites.spool) == kept
    p = a.ferry("run", check=0)
    assert "carries pairing, acknowledgements and resends" in p.stdout
    assert "paired with site %s" % ra["peer_site"] in p.stdout


def test_code_is_read_from_standard_input(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    inv = a.invite()
    p = b.accept(inv["code"])
    assert "accepted the invitation" in p.stdout
    ra, _ = a.run()
    assert ra["pinned_now"]


def on_terminal(args, prompt, answer):
    """Run ferry with a terminal (pty); answer its prompt; the output."""
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(FERRY, [FERRY] + args)
    out = b""
    deadline = time.time() + 30
    while prompt not in out and time.time() < deadline:
        out += os.read(fd, 1024)
    os.write(fd, (answer + "\n").encode())
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out


def test_code_is_read_from_the_terminal(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    inv = a.invite()
    status, out = on_terminal(["-c", b.conf, "accept", "--connection",
                               "link"], b"Invitation code:", inv["code"])
    assert status == 0, out
    assert b"accepted the invitation" in out
    ra, _ = a.run()
    assert ra["pinned_now"]


def test_code_as_an_argument_is_refused(sites):
    b = sites("beta")
    b.init()
    code = "07RYN-8PNYW-Q8GB6-A5TP3-AW4GQ-7MEF1-0BKDW-1EKXP"
    for args in (["accept", "--connection", "link", code],
                 ["accept", "--connection", "link", "--code=" + code],
                 ["accept", "--connection", "link", "--code"]):
        p = b.ferry(*args, check=64)
        assert "never given as an argument" in p.stderr
        assert "holds a secret" in p.stderr


def test_mistyped_code_is_caught_before_anything_is_sent(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    code = a.invite()["code"]
    i = 7 if code[7] != "Z" else 8
    typo = code[:i] + ("Z" if code[i] != "Z" else "Y") + code[i + 1:]
    p = b.accept(typo, check=65)
    assert "invitation code refused" in p.stderr
    assert "mistyped" in p.stderr
    assert spool_files(sites.spool) == []
    # Nothing was recorded: the right code still works.
    b.accept(code)


def test_wrong_secret_fails_hello_authentication(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    raw = code_decode(a.invite()["code"])
    forged = code_encode(raw[:15] + bytes(x ^ 0x5a for x in raw[15:23]))
    b.accept(forged)
    r, p = a.run(check=65)
    assert "hello authentication failed" in p.stderr
    assert r["state"] == "waiting-for-hello" and r["hellos_refused"] == 1
    # Judged once: the next run is quiet about it.
    r, p = a.run(check=0)
    assert r["hellos_refused"] == 0 and r["state"] == "waiting-for-hello"
    rb, _ = b.run()
    assert rb["state"] == "waiting-for-reply"


def test_expired_code_is_refused(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    b.accept(a.invite()["code"])
    r, p = a.run(fake="+8d", check=65)
    assert "invitation expired" in p.stderr
    assert "ferry invite --connection link" in p.stderr
    assert r["state"] == "waiting-for-hello"


def test_used_code_is_refused_for_a_second_site(sites):
    a, b, c = sites("alpha"), sites("beta"), sites("gamma")
    c.init()
    inv, ra, rb = pair(a, b)
    assert ra["pinned_now"] and rb["pinned_now"]
    c.accept(inv["code"])
    r, p = a.run(check=65)
    assert "invitation already used" in p.stderr
    assert rb["peer_site"] in p.stderr or ra["peer_site"] in p.stderr
    assert r["peer_site"] == ra["peer_site"]     # still paired with beta


def test_fingerprint_mismatch_is_refused(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    b.accept(a.invite()["code"])
    # The code named another key than the one that replies.
    with b.db() as d:
        d.execute("UPDATE pairing SET expect_fpr = '0123456789abcdef0123'")
    ra, _ = a.run()
    assert ra["pinned_now"]
    rb, p = b.run(check=65)
    assert "fingerprint mismatch" in p.stderr
    assert "0123456789abcdef0123" in p.stderr
    assert rb["state"] == "waiting-for-reply"
    with b.db() as d:
        assert d.execute("SELECT peer_fpr FROM conn").fetchone() == (None,)


def test_accept_twice_is_refused(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    code = a.invite()["code"]
    b.accept(code)
    p = b.accept(code, check=1)
    assert "already accepted an invitation" in p.stderr
    assert len(spool_files(sites.spool)) == 1


def test_invite_for_an_unknown_connection_is_refused(sites):
    a = sites("alpha")
    a.init()
    p = a.ferry("invite", "--connection", "nosuch", check=78)
    assert "unknown connection 'nosuch'" in p.stderr


def test_run_and_invite_before_init_are_refused(sites):
    a = sites("alpha")
    for args in (["run"], ["invite", "--connection", "link"],
                 ["accept", "--connection", "link"]):
        p = a.ferry(*args, input="", check=78)
        assert "run 'ferry init' first" in p.stderr


def test_a_second_run_exits_75_and_is_quiet_under_q(sites):
    a = sites("alpha")
    a.init()
    with open(os.path.join(a.state, "ferry.lock"), "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        p = a.ferry("run", check=75)
        assert "ferry:" in p.stderr
        p = a.ferry("-q", "run", check=75)
        assert p.stderr == ""


def test_paired_project_and_sync_user_cannot_change(sites):
    a, b = sites("alpha"), sites("beta")
    pair(a, b)
    a.write_config(project="OTHER")
    p = a.ferry("run", check=78)
    assert "'DEMO'" in p.stderr and "OTHER" in p.stderr
    assert "cannot change" in p.stderr
    p = a.ferry("invite", "--connection", "link", check=78)
    assert "cannot change" in p.stderr
    a.write_config(user="someone")
    p = a.ferry("run", check=78)
    assert "'ferry'" in p.stderr and "someone" in p.stderr
    # The base URL and the credentials may change.
    other = a.secret_file("secret2", "new-secret")
    a.write_config(url="https://jira2.example.com/ctx", secret=other)
    a.run()
    b.write_config(url="https://elsewhere.example.com")
    b.run()


def test_unpaired_connection_follows_its_section(sites):
    a = sites("alpha")
    a.init()
    a.invite()
    a.write_config(project="OTHER")
    a.run()
    with a.db() as d:
        assert d.execute("SELECT project FROM conn").fetchone() == ("OTHER",)


@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed")
def test_two_hour_clock_difference_is_named_and_heals(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init(fake="+2h")
    inv = a.invite()
    b.accept(inv["code"], fake="+2h")
    r, p = a.run(check=75)
    assert "clocks differ by about 2 h" in p.stderr
    assert "future" in p.stderr
    assert r["state"] == "waiting-for-hello" and r["hellos_refused"] == 0
    # Once the inviter's clock agrees, the kept hello pins.
    r, _ = a.run(fake="+2h")
    assert r["pinned_now"]
    r, _ = b.run(fake="+2h")
    assert r["pinned_now"] and r["peer_fingerprint"] == inv["fingerprint"]


def test_pairing_by_key_files(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    ka = os.path.join(a.root, "alpha.asc")
    kb = os.path.join(b.root, "beta.asc")
    pa = a.ferry("invite", "--connection", "link", "--export-key", ka,
                 "--json", check=0)
    fa = json.loads(pa.stdout)["fingerprint"]
    pb = b.ferry("invite", "--connection", "link", "--export-key", kb,
                 "--json", check=0)
    fb = json.loads(pb.stdout)["fingerprint"]
    # No terminal and no --yes: nothing is pinned.
    p = a.ferry("accept", "--connection", "link", "--peer-key", kb,
                input="", check=64)
    assert "--yes" in p.stderr and fb in p.stderr
    p = a.ferry("accept", "--connection", "link", "--peer-key", kb, "--yes",
                "--json", check=0)
    ja = json.loads(p.stdout)
    assert fb in p.stderr            # shown for a person to compare
    p = b.ferry("accept", "--connection", "link", "--peer-key", ka, "--yes",
                "--json", check=0)
    jb = json.loads(p.stdout)
    assert ja["connection_id"] == jb["connection_id"]
    assert ja["peer_fingerprint"] == fb and jb["peer_fingerprint"] == fa
    for s in (a, b):
        r, _ = s.run()
        assert r["state"] == "paired"
    assert spool_files(sites.spool) == []


@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed")
def test_key_file_from_the_future_names_the_clock_difference(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init(fake="+2h")
    kb = os.path.join(b.root, "beta.asc")
    b.ferry("invite", "--connection", "link", "--export-key", kb,
            fake="+2h", check=0)
    p = a.ferry("accept", "--connection", "link", "--peer-key", kb, "--yes",
                check=65)
    assert "clocks differ by about 2 h" in p.stderr


def test_refused_pairing_is_retried_with_a_new_code_and_replace(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    raw = code_decode(a.invite()["code"])
    b.accept(code_encode(raw[:15] + bytes(8)))
    a.run(check=65)
    inv = a.invite()
    assert inv["connection_id"] == raw[1:5].hex()
    p = b.accept(inv["code"], check=1)
    assert "--replace" in p.stderr
    old = spool_files(sites.spool)
    p = b.ferry("accept", "--connection", "link", "--replace",
                input=inv["code"] + "\n", check=0)
    new = spool_files(sites.spool)
    assert len(new) == 1 and new != old      # the old hello left
    ra, _ = a.run()
    assert ra["pinned_now"]
    rb, _ = b.run()
    assert rb["pinned_now"] and rb["peer_fingerprint"] == inv["fingerprint"]


def test_hello_waits_while_the_spool_is_away(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    inv = a.invite()
    away = sites.spool + ".away"
    os.rename(sites.spool, away)
    p = b.ferry("accept", "--connection", "link", "--json",
                input=inv["code"] + "\n", check=0)
    acc = json.loads(p.stdout)
    assert acc["hello_sent"] is False
    assert "unavailable" in acc["hello_waits_because"]
    r, p = b.run(check=75)
    assert r["unavailable"]
    os.rename(away, sites.spool)
    r, _ = b.run()
    assert r["hello_sent"] and r["state"] == "waiting-for-reply"
    ra, _ = a.run()
    assert ra["pinned_now"]
    rb, _ = b.run()
    assert rb["pinned_now"]


@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed")
def test_inviter_two_hours_ahead_is_named_by_the_acceptor(sites):
    a, b = sites("alpha"), sites("beta")
    a.init(fake="+2h")
    b.init()
    p = a.ferry("invite", "--connection", "link", "--json", fake="+2h",
                check=0)
    inv = json.loads(p.stdout)
    b.accept(inv["code"])
    r, _ = a.run(fake="+2h")
    assert r["pinned_now"]
    r, p = b.run(check=75)
    assert "clocks differ by about 2 h" in p.stderr
    assert r["state"] == "waiting-for-reply"
    r, _ = b.run(fake="+2h")
    assert r["pinned_now"] and r["peer_fingerprint"] == inv["fingerprint"]


def data_bundle(sender, receiver, conn, seq, path, tweak=None):
    """A data bundle as the sender's ferry would seal it (docs recipe)."""
    ops = msgpack.packb({"t": "comment.add", "issue": 10000,
                         "key": "DEMO-1", "at": 1700000000000,
                         "comment": 5, "body": "hello"}, use_bin_type=True)
    manifest = {
        "format": 1, "reads": [1], "kind": "data", "conn": conn,
        "from": sender["site_id"], "to": receiver["site_id"], "seq": seq,
        "prev": None, "peer_last": None, "ack": 0,
        "jira_time": 1700000000000, "created": int(time.time() * 1000),
        "ops": 1, "members": [{"name": "ops.msgpack", "size": len(ops),
                               "sha256": hashlib.sha256(ops).digest()}]}
    if tweak:
        tweak(manifest)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in (("manifest.msgpack",
                            msgpack.packb(manifest, use_bin_type=True)),
                           ("ops.msgpack", ops)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    plain = path + ".tar.zst"
    subprocess.run(["zstd", "-q", "-f", "-o", plain], input=raw.getvalue(),
                   check=True)
    subprocess.run(["gpg", "--homedir", sender["home"], "--batch", "-q",
                    "--trust-model", "always", "--compress-algo", "none",
                    "-u", sender["fpr"], "-r", receiver["fpr"],
                    "-r", sender["fpr"], "--sign", "--encrypt", "-o", path,
                    plain], check=True, capture_output=True)
    os.unlink(plain)


def ident(site):
    with site.db() as d:
        sid, fpr = d.execute("SELECT site_id, key_fpr FROM site").fetchone()
    return {"site_id": sid, "fpr": fpr,
            "home": os.path.join(site.state, "gnupg")}


def test_paired_channel_takes_a_bundle_and_acks_it(sites):
    a, b = sites("alpha"), sites("beta")
    inv, ra, rb = pair(a, b)
    conn = inv["connection_id"]
    ia, ib = ident(a), ident(b)
    name = "ferry_%s_%s_%s_%012d.fbz" % (conn, ib["site_id"], ia["site_id"],
                                         1)
    data_bundle(ib, ia, conn, 1, os.path.join(sites.spool, name))
    r, _ = a.run()
    assert r["fetched"] == 1 and r["quarantined"] == 0
    assert r["acks_out"] == 1
    with a.db() as d:
        assert d.execute("SELECT in_recv FROM chan").fetchone() == (1,)
    acks = [f for f in spool_files(sites.spool) if f.endswith("_ack.fbz")]
    assert len(acks) == 1 and acks[0].split("_")[2] == ia["site_id"]
    # The ack opens with the peer's keyring and says seq 1.
    out = subprocess.run(["gpg", "--homedir", ib["home"], "--batch", "-q",
                          "--decrypt", os.path.join(sites.spool, acks[0])],
                         capture_output=True, check=True).stdout
    member = subprocess.run(["zstd", "-dc"], input=out, capture_output=True,
                            check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(member)) as t:
        m = msgpack.unpackb(t.extractfile("manifest.msgpack").read(),
                            raw=False)
    assert m["kind"] == "ack" and m["ack"] == 1 and m["to"] == ib["site_id"]
    # The inviter's reply hello made way for the newer control message.
    assert not [f for f in spool_files(sites.spool)
                if f.split("_")[2] == ia["site_id"] and "hello" in f]
    # Still on the spool until its sender sees the ack: a duplicate now.
    r, _ = a.run()
    assert (r["acks_out"], r["quarantined"]) == (0, 0)
    with a.db() as d:
        assert d.execute("SELECT in_recv FROM chan").fetchone() == (1,)


def test_paired_channel_quarantines_a_bundle_not_signed_by_the_peer(sites):
    a, b, c = sites("alpha"), sites("beta"), sites("gamma")
    inv, ra, rb = pair(a, b)
    c.init()
    c.ferry("run", check=0)                # gives gamma its site row
    conn = inv["connection_id"]
    ia, ib, ic = ident(a), ident(b), ident(c)
    subprocess.run("gpg --homedir '%s' --batch -q --export %s | "
                   "gpg --homedir '%s' --batch -q --import"
                   % (ia["home"], ia["fpr"], ic["home"]), shell=True,
                   check=True, capture_output=True)
    forged = dict(ic, site_id=ib["site_id"])
    name = "ferry_%s_%s_%s_%012d.fbz" % (conn, ib["site_id"], ia["site_id"],
                                         1)
    data_bundle(forged, ia, conn, 1, os.path.join(sites.spool, name))
    r, p = a.run()
    assert r["fetched"] == 1 and r["quarantined"] == 1
    with a.db() as d:
        reason, = d.execute("SELECT reason FROM incoming").fetchone()
        assert d.execute("SELECT in_recv FROM chan").fetchone() == (0,)
    assert "not in the keyring" in reason or "signer" in reason


def test_key_file_is_pinned_after_a_confirmation_on_the_terminal(sites):
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    kb = os.path.join(b.root, "beta.asc")
    fb = json.loads(b.ferry("invite", "--connection", "link", "--export-key",
                            kb, "--json", check=0).stdout)["fingerprint"]
    args = ["-c", a.conf, "accept", "--connection", "link", "--peer-key", kb]
    status, out = on_terminal(args, b"[y/N]", "n")
    assert status == 1 and b"not confirmed" in out
    assert fb.encode() in out
    status, out = on_terminal(args, b"[y/N]", "y")
    assert status == 0, out
    assert b"is paired with site" in out


def crash_points(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [line.strip() for line in f if line.strip()]


def test_pairing_survives_a_kill_at_every_crash_point(sites):
    """Kill each step of the handshake at each crash point it reaches
    (docs/state.md's crash suite), recover as an operator would, and the
    two sites still pair: both keys pinned, nothing left that no row names.
    """
    root = tempfile.mkdtemp(prefix="ferry-pair-crash-")
    try:
        # Count the points each step reaches in an undisturbed handshake.
        counts = {}
        n = [0]

        def fresh():
            n[0] += 1
            spool = os.path.join(root, "spool%d" % n[0])
            os.makedirs(spool)
            a = Site(root, "alpha%d" % n[0], spool)
            b = Site(root, "beta%d" % n[0], spool)
            made.extend([a, b])
            a.init()
            b.init()
            return a, b

        made = []

        def step(a, b, name, code, env):
            cmd = {"accept": (b, ["accept", "--connection", "link"]),
                   "run-a": (a, ["run"]), "run-b": (b, ["run"])}[name]
            site, args = cmd
            return subprocess.run([FERRY, "-c", site.conf] + args,
                                  input=code + "\n", capture_output=True,
                                  text=True, timeout=60,
                                  env=dict(os.environ, **env))

        steps = ["accept", "run-a", "run-b"]
        a, b = fresh()
        code = a.invite()["code"]
        for name in steps:
            log = os.path.join(root, "log-" + name)
            p = step(a, b, name, code, {"FERRY_TEST_CRASH_LOG": log})
            assert p.returncode == 0, p.stderr
            counts[name] = len(crash_points(log))
        assert counts["accept"] >= 2 and counts["run-a"] >= 3
        for i, name in enumerate(steps):
            for at in range(1, counts[name] + 1):
                a, b = fresh()
                code = a.invite()["code"]
                for before in steps[:i]:
                    assert step(a, b, before, code, {}).returncode == 0
                p = step(a, b, name, code, {"FERRY_TEST_CRASH_AT": str(at)})
                assert p.returncode == -9, (name, at, p.stderr)
                # Recover: accept again (refused once it committed), then
                # the runs the handshake needs.
                if name == "accept":
                    step(a, b, "accept", code, {})
                for again in ("run-b", "run-a", "run-b"):
                    p = step(a, b, again, code, {})
                    assert p.returncode == 0, (name, at, again, p.stderr)
                for s in (a, b):
                    with s.db() as d:
                        fpr, = d.execute("SELECT peer_fpr FROM conn"
                                         ).fetchone()
                    assert fpr is not None, (name, at, s.name)
                    left = os.listdir(os.path.join(s.state, "pairing"))
                    assert left == [], (name, at, left)
                for s in (a, b):
                    s.stop_agent()
    finally:
        for s in made:
            s.stop_agent()
        shutil.rmtree(root, ignore_errors=True)


@pytest.mark.skipif(FAKETIME is None, reason="faketime is not installed")
def test_hello_made_by_a_clock_two_hours_ahead_is_named(sites):
    # The key is older than both clocks; only the hello comes from ahead.
    a, b = sites("alpha"), sites("beta")
    a.init()
    b.init()
    b.accept(a.invite()["code"], fake="+2h")
    r, p = a.run(check=75)
    assert "clocks differ by about 2 h" in p.stderr
    assert "signature from the future" in p.stderr
    r, _ = a.run(fake="+2h")
    assert r["pinned_now"]
