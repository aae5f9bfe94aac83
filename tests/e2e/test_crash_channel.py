"""The crash suite of the channel (isync's run-tests.pl way): count the
crash points each step of a scenario passes; for each N, kill that step at
the Nth point, run it again, finish the scenario, and check that both
sites converged with nothing lost, nothing applied twice and no stray
file left."""

import os

import pytest

from test_channel_lib import Pair, assert_converged

# (site, bundles to make, seconds since the previous step).  Retention and
# resend are short so pruning and resending happen inside the scenario.
SCENARIO = [
    ("a", 2, 1),
    ("b", 1, 1),
    ("a", 1, 1),
    ("b", 0, 1),
    ("a", 0, 30),
    ("b", 1, 30),
    ("a", 0, 30),
]
OPTS = ("--retention", "20", "--resend", "1000", "--ack-interval", "0")


def run_step(pair, i, env=None, check=True):
    site, make, tick = SCENARIO[i]
    return pair.run(site, *OPTS, make=make, tick=tick, env=env, check=check)


def finish(pair, start):
    for i in range(start, len(SCENARIO)):
        run_step(pair, i)
    for _ in range(4):
        for site in "ab":
            pair.run(site, *OPTS, tick=30)


def check_clean(pair):
    assert_converged(pair)
    for site in "ab":
        d = pair.dump(site)
        named = {o[4] for o in d["outgoing"] if o[4]}
        assert set(pair.outbox(site)) == named, (site, pair.outbox(site))
        named = {r[4] for r in d["incoming"] if r[4]}
        assert set(pair.inbox(site)) == named, (site, pair.inbox(site))
    assert not [n for n in pair.spool_names() if n.startswith(".")]


def count_points(tmp_path):
    """Crash points passed by each step of a clean run."""
    pair = Pair(tmp_path / "count")
    counts = []
    for i in range(len(SCENARIO)):
        log = str(tmp_path / ("points-%d" % i))
        run_step(pair, i, env={"FERRY_TEST_CRASH_LOG": log})
        with open(log) if os.path.exists(log) else open(os.devnull) as f:
            counts.append(len(f.read().splitlines()))
    finish(pair, len(SCENARIO))
    check_clean(pair)
    names = set()
    for i in range(len(SCENARIO)):
        log = str(tmp_path / ("points-%d" % i))
        if os.path.exists(log):
            with open(log) as f:
                names |= {line.split()[1] for line in f}
    return counts, names


def test_crash_at_every_point_is_repaired(tmp_path):
    counts, names = count_points(tmp_path)
    # Every boundary of docs/state.md is reached by the scenario.
    for want in ("chan.in.after-fetch", "chan.in.after-commit",
                 "chan.before-commit", "chan.out.after-write",
                 "chan.out.after-put", "chan.out.after-remove",
                 "chan.ack.after-put", "chan.apply.before-commit",
                 "chan.make.after-commit", "chan.prune.after-commit"):
        assert want in names, (want, sorted(names))
    cases = 0
    for i, n in enumerate(counts):
        for at in range(1, n + 1):
            pair = Pair(tmp_path / ("s%d-%d" % (i, at)))
            for j in range(i):
                run_step(pair, j)
            rc, _, err = run_step(pair, i, check=False,
                                  env={"FERRY_TEST_CRASH_AT": str(at)})
            assert rc == -9, (i, at, rc, err)
            run_step(pair, i)
            finish(pair, i + 1)
            try:
                check_clean(pair)
            except AssertionError as e:
                raise AssertionError("step %d, crash point %d: %s" % (
                    i, at, e)) from None
            cases += 1
    print("crash suite: %d steps, %d crash cases, points %s" % (
        len(SCENARIO), cases, counts))
    assert cases == sum(counts) and cases > 30
