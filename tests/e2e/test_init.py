"""ferry init: the private state directory, the keyring and the site key.

Every test runs in its own temporary state directory; the gpg-agent that
gpgme starts for a keyring is killed at the end (gpgconf --kill all).
"""
import json
import os
import stat
import subprocess

import pytest

FERRY = os.environ.get("FERRY_BIN", os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "ferry"))


def write_config(dirpath, name="alpha", extra=""):
    secret = dirpath / "secret"
    secret.write_text("s3cret\n")
    secret.chmod(0o600)
    conf = dirpath / ("%s.conf" % name)
    conf.write_text(
        "[site]\nname = %s\nstate_dir = %s\n%s"
        "[jira]\nurl = http://127.0.0.1:9/\nuser = ferry\nsecret_file = %s\n"
        % (name, dirpath / ("state-" + name), extra, secret))
    return conf


def ferry(*args):
    return subprocess.run([FERRY, *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def site(tmp_path):
    """A configured, not yet initialised site; agents killed afterwards."""
    made = []

    def make(name="alpha", extra=""):
        conf = write_config(tmp_path, name, extra)
        made.append(tmp_path / ("state-" + name) / "gnupg")
        return conf, tmp_path / ("state-" + name)
    yield make
    for home in made:
        if home.exists():
            subprocess.run(["gpgconf", "--homedir", str(home), "--kill",
                            "all"], capture_output=True)


def test_init_creates_private_state_keyring_and_key(site):
    conf, state = site()
    r = ferry("-c", str(conf), "init")
    assert r.returncode == 0, r.stderr
    assert "created the site key for 'alpha'" in r.stdout
    fpr = [l.split()[-1] for l in r.stdout.splitlines()
           if l.startswith("fingerprint:")][0]
    assert len(fpr) == 40
    assert stat.S_IMODE(os.stat(state).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(state / "gnupg").st_mode) == 0o700
    pub = (state / "site-key.asc").read_text()
    assert "BEGIN PGP PUBLIC KEY BLOCK" in pub
    listing = subprocess.run(
        ["gpg", "--homedir", str(state / "gnupg"), "--batch",
         "--with-colons", "--list-secret-keys"],
        capture_output=True, text=True).stdout
    assert fpr in listing
    # Ed25519 primary (algo 22) with a Curve25519 encryption subkey (18).
    sec = [l.split(":") for l in listing.splitlines()
           if l.startswith(("sec:", "ssb:"))]
    assert sec[0][3] == "22" and sec[1][3] == "18"
    assert "e" in sec[1][11]
    # An explicit expiry, 730 days by default.
    assert sec[0][6] != "" and int(sec[0][6]) - int(sec[0][5]) == 730 * 86400
    # The database exists, migrated, with this site's row: the site id is
    # the start of the key fingerprint.
    import sqlite3
    db = sqlite3.connect(str(state / "ferry.db"))
    try:
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
        names = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "site" in names
        row = db.execute("SELECT * FROM site").fetchall()
        assert len(row) == 1 and fpr[:20].lower() in [str(v).lower() for v in row[0]]
    finally:
        db.close()


def test_init_again_keeps_the_key(site):
    conf, _ = site()
    first = ferry("-c", str(conf), "--json", "init")
    assert first.returncode == 0, first.stderr
    again = ferry("-c", str(conf), "--json", "init")
    assert again.returncode == 0, again.stderr
    a, b = json.loads(first.stdout), json.loads(again.stdout)
    assert a["key_created"] is True and b["key_created"] is False
    assert a["fingerprint"] == b["fingerprint"]
    assert a["algorithm"] == "ed25519"
    assert a["site"] == "alpha"
    text = ferry("-c", str(conf), "init")
    assert "already initialised" in text.stdout


def test_init_rsa3072_when_configured(site):
    conf, _ = site("rsa", "key_algorithm = rsa3072\nkey_expiry = 30d\n")
    r = ferry("-c", str(conf), "--json", "init")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["algorithm"] == "rsa3072"


def test_init_refuses_state_dir_open_to_others(site):
    conf, state = site()
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    r = ferry("-c", str(conf), "init")
    assert r.returncode == 78, r.stderr
    assert "chmod 700" in r.stderr
    assert not (state / "gnupg").exists()


def test_init_usage_error_for_arguments(site):
    conf, _ = site()
    r = ferry("-c", str(conf), "init", "extra")
    assert r.returncode == 64
