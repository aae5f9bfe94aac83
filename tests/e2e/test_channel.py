"""Two state directories exchanging opaque bundles through a real spool
folder, with the real store, sequencing, lock and spool transport
(build/tools/chan)."""

import fcntl
import os
import shutil
import subprocess

import pytest

from test_channel_lib import Pair, assert_converged, chan


@pytest.fixture
def pair(tmp_path):
    return Pair(tmp_path)


def test_two_sites_exchange_bundles_and_converge(pair):
    _, out, _ = pair.run("a", make=3)
    assert out["sent"] == 3
    _, out, _ = pair.run("b", make=2)
    assert out["accepted"] == 3 and out["applied"] == 3 and out["sent"] == 2
    pair.settle()
    da, db = assert_converged(pair)
    assert [x[0] for x in db["applied"]] == [1, 2, 3]
    assert [x[0] for x in da["applied"]] == [1, 2]
    # Acknowledged data files are gone from the spool: their senders
    # removed them; at most each side's newest ack message remains.
    assert all("_c" in n for n in pair.spool_names()), pair.spool_names()


def test_idle_sites_fall_silent(pair):
    pair.run("a", make=2)
    pair.run("b", make=1)
    pair.settle()
    assert_converged(pair)
    before = pair.spool_names()
    for _ in range(5):
        for site in "ab":
            _, out, _ = pair.run(site, tick=7200)
            assert out["sent"] == out["resent"] == out["acks_out"] == 0
            assert out["accepted"] == out["applied"] == 0
    assert pair.spool_names() == before


def test_files_of_others_are_never_touched(pair):
    others = {
        "ferry_c2_sa_sb_000000000001.fbz": b"another connection",
        "ferry_c1_sa_sc_000000000001.fbz": b"another addressee",
        "ferry_c1_sc_sb_000000000001.fbz": b"another sender",
        "ferry_c1_sb_sc_000000000001.fbz": b"b to a third site",
        "notes.txt": b"a person's notes",
        ".ferry_c1_sc_sb_000000000002.fbz.tmp": b"someone writing",
    }
    stat = {}
    for name, data in others.items():
        p = os.path.join(pair.spool, name)
        with open(p, "wb") as f:
            f.write(data)
        os.utime(p, (1_000_000_000, 1_000_000_000))
        stat[name] = os.stat(p)
    pair.run("a", make=2)
    pair.run("b", make=2)
    pair.settle()
    assert_converged(pair)
    for name, data in others.items():
        p = os.path.join(pair.spool, name)
        with open(p, "rb") as f:
            assert f.read() == data
        st = os.stat(p)
        assert (st.st_mtime, st.st_ino) == (stat[name].st_mtime,
                                             stat[name].st_ino)


def test_unavailable_spool_keeps_the_bundle_and_the_next_run_delivers(pair):
    shutil.rmtree(pair.spool)
    rc, out, err = pair.run("a", make=1, check=False)
    assert rc == 75, err
    assert "transport unavailable" in err
    assert out["unavailable"] is True
    assert pair.outbox("a") == ["ferry_c1_sa_sb_000000000001.fbz"]
    assert pair.dump("a")["out_sent"] == 1
    os.makedirs(pair.spool)
    _, out, _ = pair.run("a")
    assert out["sent"] == 1
    pair.settle()
    assert_converged(pair)


def test_unmounted_mount_point_is_unavailable(pair, tmp_path):
    mnt = tmp_path / "usb"
    mnt.mkdir()
    args = ("--require-mount",)
    pair.spool = str(mnt)
    rc, _, err = pair.run("a", *args, make=1, check=False)
    assert rc == 75 and "not mounted" in err, err
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs",
                       str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        _, out, _ = pair.run("a", *args)
        assert out["sent"] == 1
        for _ in range(3):
            pair.run("b", *args)
            pair.run("a", *args)
        assert_converged(pair)
    finally:
        subprocess.run(["umount", str(mnt)])


def test_duplicate_bundle_is_dropped(pair):
    pair.run("a", make=2)
    keep = os.path.join(str(pair.root), "copy")
    shutil.copy(os.path.join(pair.spool, "ferry_c1_sa_sb_000000000001.fbz"),
                keep)
    pair.settle()
    assert_converged(pair)
    shutil.copy(keep, os.path.join(pair.spool,
                                   "ferry_c1_sa_sb_000000000001.fbz"))
    _, out, _ = pair.run("b")
    assert out["duplicates"] == 1 and out["applied"] == 0
    assert_converged(pair)
    assert len(pair.dump("b")["applied"]) == 2


def test_lost_bundle_is_resent_as_the_same_bytes(pair):
    pair.run("a", make=3)
    lost = os.path.join(pair.spool, "ferry_c1_sa_sb_000000000002.fbz")
    with open(lost, "rb") as f:
        data = f.read()
    os.unlink(lost)
    _, out, _ = pair.run("b")
    assert out["accepted"] == 1 and out["held"] == 1
    assert pair.dump("b")["in_recv"] == 1
    # Not yet due: nothing is resent.
    _, out, _ = pair.run("a", "--resend", "3600")
    assert out["resent"] == 0
    _, out, _ = pair.run("a", "--resend", "3600", tick=3600)
    assert out["resent"] == 2
    with open(lost, "rb") as f:
        assert f.read() == data
    _, out, _ = pair.run("b")
    assert out["applied"] == 2
    pair.settle()
    assert_converged(pair)


def test_gap_holds_later_bundles_until_filled(pair):
    pair.run("a", make=3)
    hold = os.path.join(str(pair.root), "hold")
    os.makedirs(hold)
    for n in (1, 2):
        name = "ferry_c1_sa_sb_%012d.fbz" % n
        shutil.move(os.path.join(pair.spool, name), hold)
    _, out, _ = pair.run("b")
    assert out["held"] == 1 and out["applied"] == 0
    for name in os.listdir(hold):
        shutil.move(os.path.join(hold, name), pair.spool)
    _, out, _ = pair.run("b")
    assert out["accepted"] == 3 and out["applied"] == 3
    pair.settle()
    assert_converged(pair)


def test_corrupt_bundle_is_quarantined_and_never_applied(pair):
    pair.run("a", make=1)
    p = os.path.join(pair.spool, "ferry_c1_sa_sb_000000000001.fbz")
    with open(p, "rb") as f:
        good = f.read()
    with open(p, "wb") as f:
        f.write(good.replace(b"CHAN1\n", b"CHAN1\ncorrupt=1\n", 1))
    _, out, _ = pair.run("b")
    assert out["quarantined"] == 1 and out["applied"] == 0
    db = pair.dump("b")
    assert db["in_recv"] == 0
    assert db["incoming"][0][2] == "quarantined"
    assert "bad signature" in db["incoming"][0][3]
    # The same bad file again is not quarantined twice.
    _, out, _ = pair.run("b")
    assert out["quarantined"] == 0 and out["duplicates"] == 1
    # The sender's resend of the good bytes heals.
    os.unlink(p)
    pair.run("a", "--resend", "10", tick=20)
    _, out, _ = pair.run("b")
    assert out["applied"] == 1
    pair.settle()
    assert_converged(pair)


def test_restored_sender_is_a_fork_and_stops_the_connection(pair, tmp_path):
    pair.run("a", make=1)
    pair.settle()
    pair.backup("a", str(tmp_path / "backup"))
    pair.run("a", make=2)
    pair.settle()
    pair.restore("a", str(tmp_path / "backup"))
    # The restored site makes seq 2 again, with other bytes.
    rc, out, err = pair.run("a", make=1, check=False)
    rc, out, err = pair.run("b", check=False)
    detected = [pair.dump(s) for s in "ab"]
    assert any(d["stop"] != "running" for d in detected), detected
    db = pair.dump("b")
    da = pair.dump("a")
    # a sees b's ack above anything it sent, or b sees the fork.
    assert db["stop"] in ("fork", "restore") or da["stop"] == "restore"
    stopped = db if db["stop"] != "running" else da
    assert stopped["conn_state"] == "stopped"
    assert "restored" in stopped["reason"] or "fork" in stopped["reason"]
    # Nothing more is applied on a stopped connection.
    applied = len(stopped["applied"])
    pair.settle(check=False)
    for s in "ab":
        d = pair.dump(s)
        if d["stop"] != "running":
            assert len(d["applied"]) == len(
                (db if s == "b" else da)["applied"])
    assert applied == len(stopped["applied"])


def test_restored_receiver_is_detected_by_its_peer(pair, tmp_path):
    pair.run("a", make=1)
    pair.settle()
    pair.backup("b", str(tmp_path / "backup"))
    pair.run("a", make=2)
    pair.settle()
    pair.restore("b", str(tmp_path / "backup"))
    # b holds only bundle 1: a's next bundle leaves a gap, b repeats its
    # ack (1), newer than the ack (3) it gave before: a sees b forgot.
    pair.run("a", make=1)
    _, out, _ = pair.run("b")
    assert out["held"] == 1
    rc, out, err = pair.run("a", check=False)
    assert rc == 65, err
    da = pair.dump("a")
    assert da["stop"] == "restore"
    assert "restored from a backup" in da["reason"]


def test_restored_idle_sender_is_detected_by_the_top_of_the_peers_ack(
        pair, tmp_path):
    # Finding F6: a is restored to before it made 1..3; only 3 reached b.
    pair.backup("a", str(tmp_path / "backup"))
    pair.run("a", make=3)
    for n in (1, 2):
        os.unlink(os.path.join(pair.spool, "ferry_c1_sa_sb_%012d.fbz" % n))
    pair.restore("a", str(tmp_path / "backup"))
    # b holds 3 behind a gap; its gap ack names 3 as the top it holds.
    _, out, _ = pair.run("b")
    assert out["held"] == 1 and out["applied"] == 0
    rc, out, err = pair.run("a", check=False)
    assert rc == 65, err
    da = pair.dump("a")
    assert da["stop"] == "restore"
    assert "holds a bundle above any" in da["reason"]
    assert "restored from a backup" in da["reason"]
    assert pair.dump("b")["stop"] == "running"


def test_second_run_is_refused_naming_the_holder(pair):
    lock = os.path.join(pair.a, "ferry.lock")
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"host=elsewhere\nboot_id=x\npid=4242\nstarted=1700000000"
                 b"\nticks=1\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        rc, out, err = pair.run("a", make=1, check=False)
        assert rc == 75
        assert "pid 4242 on host elsewhere" in err
        assert "2023-11-14 22:13:20 UTC" in err
    finally:
        os.close(fd)
    # The holder died: its record is taken over.
    rc, out, err = pair.run("a", make=1)
    assert out["sent"] == 1


def test_full_local_disk_while_writing_a_bundle_keeps_the_state(pair):
    st = os.path.join(str(pair.root), "small")
    os.makedirs(st)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", st],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        pair.a = os.path.join(st, "a")
        chan("init", pair.a, "sa", "sb")
        pair.run("a", make=1)
        before = pair.dump("a")
        rc, out, err = pair.run("a", "--size", str(4 << 20), make=1,
                                check=False)
        assert rc == 1
        assert "No space left on device" in err or "full" in err, err
        after = pair.dump("a")
        assert after["out_sent"] == before["out_sent"] == 1
        assert pair.outbox("a") == ["ferry_c1_sa_sb_000000000001.fbz"]
        subprocess.run(["mount", "-o", "remount,size=16m", st], check=True)
        _, out, _ = pair.run("a", "--size", str(4 << 20), make=1)
        assert out["sent"] == 1
        pair.settle()
        assert_converged(pair)
    finally:
        subprocess.run(["umount", st])
