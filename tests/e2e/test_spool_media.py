"""The spool on real FAT and exFAT file systems: an image made and mounted
by scripts/mkfs-test-media (a kernel loop mount where the machine allows
it, otherwise FUSE: fusefat on the image, exfat-fuse on a losetup device;
each test prints which ran), with the medium filling up and being
remounted read-only in the middle of the exchange."""

import os
import subprocess

import pytest

from test_channel_lib import Pair, assert_converged, chan

SRCDIR = os.environ.get("FERRY_SRCDIR", os.getcwd())
MKFS = os.path.join(SRCDIR, "scripts", "mkfs-test-media")


@pytest.fixture(params=["fat", "exfat"])
def medium(request, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting test media needs root")
    mp = str(tmp_path / "usb")
    p = subprocess.run([MKFS, request.param, str(tmp_path / "img"), mp,
                        "16"], capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip("cannot mount %s here: %s" % (request.param, p.stderr))
    how = p.stdout.strip().splitlines()[-1]
    print("%s medium mounted with %s" % (request.param, how))
    try:
        yield mp, how
    finally:
        subprocess.run([MKFS, "umount", mp], capture_output=True)


def spool_of(mp):
    d = os.path.join(mp, "ferry")
    os.makedirs(d, exist_ok=True)
    return d


def test_exchange_on_the_medium_converges(tmp_path, medium):
    mp, how = medium
    pair = Pair(tmp_path / "sites", spool=spool_of(mp))
    pair.run("a", "--size", "20000", make=3)
    pair.run("b", "--size", "20000", make=2)
    pair.settle()
    assert_converged(pair)
    assert all("_c" in n for n in pair.spool_names()), pair.spool_names()


def fill(mp):
    """Fill the medium as another writer would; return the filler's path."""
    path = os.path.join(mp, "filler.bin")
    chunk = b"\0" * 65536
    with open(path, "wb") as f:
        try:
            while True:
                f.write(chunk)
                f.flush()
        except OSError:
            pass
        try:
            os.fsync(f.fileno())
        except OSError:
            pass
    return path


def test_full_medium_mid_run_keeps_the_bundle(tmp_path, medium):
    mp, how = medium
    pair = Pair(tmp_path / "sites", spool=spool_of(mp))
    pair.run("a", make=1)
    pair.settle()
    filler = fill(mp)
    try:
        rc, out, err = pair.run("a", "--size", "200000", make=1, check=False)
        assert rc == 75, (how, err)
        assert "transport unavailable" in err and "full" in err, err
        assert out["unavailable"] is True
    finally:
        os.unlink(filler)
    # Nothing half-written is left on the medium; the bundle waited.
    assert not [n for n in os.listdir(pair.spool) if n.startswith(".")]
    assert "ferry_c1_sa_sb_000000000002.fbz" in pair.outbox("a")
    _, out, _ = pair.run("a")
    assert out["sent"] == 1
    pair.settle()
    assert_converged(pair)


def test_read_only_remount_mid_run_keeps_the_bundle(tmp_path, medium):
    mp, how = medium
    img = str(tmp_path / "img")
    pair = Pair(tmp_path / "sites", spool=spool_of(mp))
    pair.run("a", make=1)
    subprocess.run([MKFS, "ro", img, mp], check=True, capture_output=True)
    try:
        rc, out, err = pair.run("a", make=1, check=False)
        assert rc == 75, (how, err)
        assert "read-only" in err, err
        # Reading still works: b takes bundle 1 from the read-only medium.
        rc, out, err = pair.run("b", check=False)
        assert out["applied"] == 1, err
    finally:
        subprocess.run([MKFS, "rw", img, mp], check=True,
                       capture_output=True)
    pair.settle()
    assert_converged(pair)


def test_empty_folder_on_a_fresh_medium_is_used(tmp_path, medium):
    mp, how = medium
    pair = Pair(tmp_path / "sites", spool=spool_of(mp))
    assert os.listdir(pair.spool) == []
    _, out, _ = pair.run("a", "--require-mount", make=1)
    assert out["sent"] == 1
    _, out, _ = pair.run("b", "--require-mount")
    assert out["applied"] == 1


def test_unmounted_medium_is_unavailable(tmp_path, medium):
    mp, how = medium
    pair = Pair(tmp_path / "sites", spool=mp)
    pair.run("a", "--require-mount", make=1)
    subprocess.run([MKFS, "umount", mp], check=True)
    rc, out, err = pair.run("a", "--require-mount", make=1, check=False)
    assert rc == 75 and "not mounted" in err, err
    assert len(pair.outbox("a")) == 2


def test_fat_file_size_limit_is_unavailable(tmp_path, medium):
    mp, how = medium
    big = str(tmp_path / "big")
    with open(big, "wb") as f:
        f.truncate(4 << 30)		# sparse: 4 GiB, one over FAT's limit
    rc, _, err = chan("put", mp, big, "ferry_c1_sa_sb_000000000001.fbz",
                      check=False)
    if "exfat" in how:
        # exFAT takes files over 4 GiB: only the 16 MiB medium is full.
        assert rc == 75 and "full" in err, err
    else:
        assert rc == 75 and "size limit" in err, err
    assert not os.listdir(mp) or all(
        not n.startswith(".") for n in os.listdir(mp))
