"""ferry inspect, and the bundle format as docs/bundle-format.md gives it.

The bundles here are made with standard tools only (python3-msgpack,
tarfile in pax format, the zstd and gpg programs), as an administrator
could: if ferry accepts them, the format is what the document says.  The
same tools open them again.  Two sites, alpha and beta, are initialised
with `ferry init` and exchange their public key files.
"""
import hashlib
import io
import json
import os
import subprocess
import tarfile
import time

import msgpack
import pytest

FERRY = os.environ.get("FERRY_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "ferry"))


def ferry(*args):
    return subprocess.run([FERRY, *args], capture_output=True, text=True,
                          timeout=120)


class Site:
    def __init__(self, tmp, name):
        self.name = name
        self.state = tmp / ("state-" + name)
        self.home = self.state / "gnupg"
        secret = tmp / "secret"
        secret.write_text("s3cret\n")
        secret.chmod(0o600)
        self.conf = tmp / ("%s.conf" % name)
        self.conf.write_text(
            "[site]\nname = %s\nstate_dir = %s\n"
            "[jira]\nurl = http://127.0.0.1:9/\nuser = ferry\n"
            "secret_file = %s\n" % (name, self.state, secret))
        r = ferry("-c", str(self.conf), "--json", "init")
        assert r.returncode == 0, r.stderr
        self.fpr = json.loads(r.stdout)["fingerprint"]
        self.pubkey = self.state / "site-key.asc"

    def gpg(self, *args, check=True):
        return subprocess.run(["gpg", "--homedir", str(self.home), "--batch",
                               "--yes", *args], capture_output=True,
                              check=check)

    def inspect(self, path, *args):
        return ferry("-c", str(self.conf), "inspect", *args, str(path))


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sites")
    alpha, beta, gamma = Site(tmp, "alpha"), Site(tmp, "beta"), \
        Site(tmp, "gamma")
    # alpha encrypts to beta (pairing by key files); gamma is unknown.
    alpha.gpg("--import", str(beta.pubkey))
    gamma.gpg("--import", str(beta.pubkey))
    yield alpha, beta, gamma
    for s in (alpha, beta, gamma):
        subprocess.run(["gpgconf", "--homedir", str(s.home), "--kill", "all"],
                       capture_output=True)


def sha(b):
    return hashlib.sha256(b).digest()


def sample_ops(n):
    return [{"t": "issue.update", "issue": 10000 + i, "key": "DEMO-%d" % i,
             "at": 1700000000000 + i, "by": "Ada",
             "fields": [{"n": "summary", "v": "Printer %d" % i,
                         "b": "Printer"},
                        {"n": "priority", "v": "high", "b": "medium"}]}
            for i in range(n)] + [
            {"t": "comment.add", "issue": 10000, "key": "DEMO-0",
             "at": 1700000000999, "comment": 5, "body": "hello"}]


def plain_bundle(tmp, frm="alpha", to="beta", conn="demo", seq=1, ops=None,
                 blobs=(), manifest_tweak=None, extra_members=()):
    """The tar.zst a bundle carries, made with tarfile and zstd."""
    ops = sample_ops(3) if ops is None else ops
    ops_bytes = b"".join(msgpack.packb(o, use_bin_type=True) for o in ops)
    members = [("ops.msgpack", ops_bytes)]
    members += [("blobs/" + sha(b).hex(), b) for b in blobs]
    manifest = {
        "format": 1, "reads": [1], "kind": "data", "conn": conn,
        "from": frm, "to": to, "seq": seq, "prev": None, "peer_last": None,
        "ack": 0, "jira_time": 1700000000000,
        "created": int(time.time() * 1000), "ops": len(ops),
        "members": [{"name": n, "size": len(b), "sha256": sha(b)}
                    for n, b in members],
    }
    if manifest_tweak:
        manifest_tweak(manifest)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in [("manifest.msgpack",
                            msgpack.packb(manifest, use_bin_type=True))] \
                + members + list(extra_members):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            t.addfile(info, io.BytesIO(data))
    tar = tmp / "plain.tar"
    tar.write_bytes(raw.getvalue())
    subprocess.run(["zstd", "-q", "-f", "-o", str(tmp / "plain.tar.zst"),
                    str(tar)], check=True)
    return tmp / "plain.tar.zst"


def seal(site, peer, plain, out, encrypt=True):
    """What ferry does with gpgme, as one gpg command line."""
    args = ["--trust-model", "always", "--compress-algo", "none",
            "-u", site.fpr, "-o", str(out)]
    if encrypt:
        args += ["-r", peer.fpr, "-r", site.fpr, "--sign", "--encrypt"]
    else:
        args += ["--sign"]
    site.gpg(*args, str(plain))
    return out


def bundle_name(frm="alpha", to="beta", conn="demo", seq=1):
    return "ferry_%s_%s_%s_%012d.fbz" % (conn, frm, to, seq)


def test_inspect_verifies_a_bundle_made_with_standard_tools(sites, tmp_path):
    alpha, beta, _ = sites
    plain = plain_bundle(tmp_path, blobs=[b"attachment bytes"])
    path = seal(alpha, beta, plain, tmp_path / bundle_name())
    r = beta.inspect(path, "--json", "--peer-key", str(alpha.pubkey))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["signer"] == alpha.fpr
    assert doc["encrypted"] is True
    assert doc["sent_by_this_site"] is False
    m = doc["manifest"]
    assert (m["format"], m["kind"], m["conn"], m["from"], m["to"],
            m["seq"]) == (1, "data", "demo", "alpha", "beta", 1)
    assert [x["name"] for x in m["members"]][0] == "ops.msgpack"
    assert doc["op_types"] == {"issue.update": 3, "comment.add": 1}
    assert doc["operations"][0]["key"] == "DEMO-0"
    assert doc["operations"][0]["fields"] == ["summary", "priority"]
    # The bundle hash is the SHA-256 of the manifest as carried.
    raw = subprocess.run(["zstd", "-d", "-q", "-c", str(plain)],
                         capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(raw)) as t:
        man = t.extractfile("manifest.msgpack").read()
    assert doc["hash"] == hashlib.sha256(man).hexdigest()
    text = beta.inspect(path)
    assert text.returncode == 0, text.stderr
    assert "direction:  alpha -> beta" in text.stdout
    assert "issue.update         3" in text.stdout


def test_inspect_shows_an_acks_top(sites, tmp_path):
    alpha, beta, _ = sites
    manifest = {
        "format": 1, "reads": [1], "kind": "ack", "conn": "demo",
        "from": "alpha", "to": "beta", "seq": 0, "prev": None,
        "peer_last": None, "ack": 4, "jira_time": 1700000000000,
        "created": int(time.time() * 1000), "ops": 0, "members": [],
        "control": {"top": 7},
    }
    raw = io.BytesIO()
    data = msgpack.packb(manifest, use_bin_type=True)
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        info = tarfile.TarInfo("manifest.msgpack")
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    (tmp_path / "ack.tar").write_bytes(raw.getvalue())
    subprocess.run(["zstd", "-q", "-f", "-o", str(tmp_path / "ack.tar.zst"),
                    str(tmp_path / "ack.tar")], check=True)
    path = seal(alpha, beta, tmp_path / "ack.tar.zst", tmp_path /
                "ferry_demo_alpha_beta_c20261125T102000abcd_ack.fbz")
    r = beta.inspect(path, "--json", "--peer-key", str(alpha.pubkey))
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)["manifest"]
    assert (m["kind"], m["ack"], m["control"]["top"]) == ("ack", 4, 7)
    text = beta.inspect(path, "--peer-key", str(alpha.pubkey))
    assert text.returncode == 0, text.stderr
    assert "top:        7" in text.stdout


def test_inspect_a_bundle_this_site_sent(sites, tmp_path):
    alpha, beta, _ = sites
    path = seal(alpha, beta, plain_bundle(tmp_path),
                tmp_path / bundle_name())
    # Named as sent by alpha: checked against alpha's own key.
    r = alpha.inspect(path, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["sent_by_this_site"] is True


def test_inspect_accepts_an_unencrypted_bundle(sites, tmp_path):
    alpha, beta, _ = sites
    path = seal(alpha, beta, plain_bundle(tmp_path),
                tmp_path / bundle_name(), encrypt=False)
    r = beta.inspect(path, "--json", "--peer", alpha.fpr)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["encrypted"] is False


def reject(site, path, reason, *args):
    r = site.inspect(path, *args)
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert "rejected (%s)" % reason in r.stderr, r.stderr
    assert path.name in r.stderr
    return r


def test_inspect_rejects_and_says_why(sites, tmp_path):
    alpha, beta, gamma = sites
    peer = ("--peer", alpha.fpr)
    # Signed by a key beta does not know.
    path = seal(gamma, beta, plain_bundle(tmp_path, frm="gamma"),
                tmp_path / bundle_name(frm="gamma"))
    reject(beta, path, "unknown-signer", *peer)
    # Addressed to another site.
    path = seal(alpha, beta, plain_bundle(tmp_path, to="gamma"),
                tmp_path / bundle_name(to="gamma"))
    reject(beta, path, "wrong-addressee", *peer)
    # A member named with "..".
    path = seal(alpha, beta, plain_bundle(
        tmp_path, extra_members=[("../../x", b"x")]),
        tmp_path / bundle_name())
    reject(beta, path, "bad-member-name", *peer)
    # A newer format: the message names both versions.
    def newer(m):
        m["format"] = 7
    path = seal(alpha, beta, plain_bundle(tmp_path, manifest_tweak=newer),
                tmp_path / bundle_name())
    r = reject(beta, path, "unknown-version", *peer)
    assert "formats 1 to 1, the bundle is format 7" in r.stderr
    # Not a bundle at all, and empty.
    junk = tmp_path / bundle_name(seq=9)
    junk.write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00")
    reject(beta, junk, "not-openpgp", *peer)
    junk.write_bytes(b"")
    reject(beta, junk, "empty", *peer)
    # A flipped bit in the encrypted data.
    path = seal(alpha, beta, plain_bundle(tmp_path), tmp_path / "flip.fbz")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    r = beta.inspect(path, *peer)
    assert r.returncode == 65 and "rejected (" in r.stderr


def test_docs_recipe_opens_a_bundle_with_standard_tools(sites, tmp_path):
    """gpg --decrypt | tar --zstd -x, then any msgpack decoder."""
    alpha, beta, _ = sites
    path = seal(alpha, beta, plain_bundle(tmp_path, blobs=[b"blob!"]),
                tmp_path / bundle_name())
    out = tmp_path / "open"
    out.mkdir()
    subprocess.run("gpg --homedir '%s' --batch -q --decrypt '%s' 2>/dev/null "
                   "| tar --zstd -x -C '%s'" % (beta.home, path, out),
                   shell=True, check=True)
    man = msgpack.unpackb((out / "manifest.msgpack").read_bytes(), raw=False)
    assert man["seq"] == 1
    ops = list(msgpack.Unpacker(open(out / "ops.msgpack", "rb"), raw=False))
    assert len(ops) == man["ops"]
    blob = out / "blobs" / sha(b"blob!").hex()
    assert blob.read_bytes() == b"blob!"
