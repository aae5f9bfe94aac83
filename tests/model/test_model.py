"""Tests of the two-site model (docs/model.md): the properties over seeded random
scenarios, one test per rule, the findings, the shrinker and the scenario format.

    pytest-3 tests/model                      # FERRY_MODEL_SCENARIOS=N for more (soak)
"""

import multiprocessing
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen  # noqa: E402
import model  # noqa: E402
import run as runner  # noqa: E402
import seqmodel as sq  # noqa: E402
from scenario import (Event, ScenarioError, escape_value, format_scenario,  # noqa: E402
                      parse, parse_line, unescape_value)

N = int(os.environ.get("FERRY_MODEL_SCENARIOS", "10000"))
STEPS = int(os.environ.get("FERRY_MODEL_STEPS", "60"))
JOBS = os.cpu_count() or 1


# ------------------------------------------------------------------ helpers

def seq(text, rules=None, settle=False):
    w = sq.SeqWorld(rules or sq.Rules()).run(parse(text))
    if settle:
        w.settled = sq.settle(w)
    return w


def lines_of(w, event_index):
    """The decision lines printed for the event_index-th event (0-based)."""
    out, n = [], -1
    for line in w.trace:
        if line.startswith("> "):
            n += 1
            continue
        if n == event_index:
            out.append(line)
    return out


def full(text, **rules):
    return model.check(parse(text), sq.Rules(**rules))


def issue(w, site, label):
    return w.resolve_issue(site, label)


def _pool_map(fn, work):
    if JOBS > 1 and len(work) > 50:
        with multiprocessing.get_context("fork").Pool(JOBS) as pool:
            return pool.map(fn, work, chunksize=32)
    return [fn(x) for x in work]


# ------------------------------------------------------------------ properties

def test_random_scenarios_hold_every_property():
    t0 = time.time()
    work = [(s, STEPS, None, False) for s in range(N)]
    res = _pool_map(runner.one, work)
    fails = [r for r in res if r[3]]
    restored = sum(1 for r in res if r[4] and r[4][0])
    detected = sum(1 for r in res if r[4] and r[4][1])
    print("\n%d scenarios of %d events, %d with a restore (%d detected), %.1f s"
          % (len(res), STEPS, restored, detected, time.time() - t0))
    if fails:
        seed, v = fails[0][0], fails[0][3]
        evs = gen.generate(seed, STEPS)
        cat = gen.category(v[0])
        small = gen.shrink(evs, lambda e: any(gen.category(x) == cat for x in model.check(e)[0]),
                           max_tries=1500)
        pytest.fail("%d of %d scenarios fail; seed %d: %s\nshrunk:\n%s"
                    % (len(fails), len(res), seed, v[0], format_scenario(small)))
    assert restored > 0 and detected > 0


def test_random_scenarios_with_restores_hold_every_property():
    n = max(N // 4, 50)
    work = [(s, STEPS, None, False) for s in range(10 ** 6, 10 ** 6 + n)]
    res = _pool_map(_one_restore, work)
    fails = [r for r in res if r[1]]
    assert not fails, "seed %d: %s" % (fails[0][0], fails[0][1][0])


def _one_restore(args):
    seed, steps = args[0], args[1]
    v, _ = model.check(gen.generate(seed, steps, restores=True))
    return seed, v


def test_random_sequencing_scenarios_hold_every_property():
    # every finding's rule on (the defaults, F6 included)
    work = [(s, STEPS, None, True) for s in range(N)]
    res = _pool_map(runner.one, work)
    fails = [r for r in res if r[3]]
    assert not fails, "seed %d: %s" % (fails[0][0], fails[0][3][0])


# ------------------------------------------------------------------ sequencing rules

def test_bundle_is_accepted_applied_and_acknowledged_by_the_next_bundle():
    w = seq("export A\ndeliver A->B\nimport B\nexport B\ndeliver B->A\nimport A\n")
    assert lines_of(w, 0) == ["A send #1 ack=0"]
    assert lines_of(w, 2) == ["B recv A#1 accept ack=1 applied=0", "B apply A#1"]
    assert lines_of(w, 3) == ["B send #1 ack=1"]
    assert lines_of(w, 5) == ["A recv B#1 accept ack=1 applied=0", "A ack 1", "A apply B#1"]


def test_duplicate_bundle_is_acked_and_dropped():
    w = seq("export A\ndup A->B\ndeliver A->B\ndeliver A->B\nimport B\nflush B\n")
    assert lines_of(w, 4) == ["B recv A#1 accept ack=1 applied=0", "B recv A#1 duplicate",
                              "B apply A#1"]
    assert lines_of(w, 5) == ["B send ctl-ack 1"]
    assert w.applied_log["B"] == [1]


def test_duplicate_arriving_after_the_ack_was_sent_is_acknowledged_again():
    w = seq("export A\ndeliver A->B\nimport B\nflush B\ndrop B->A\ntick 8\nflush A\n"
            "deliver A->B\nimport B\nflush B\n")
    assert lines_of(w, 6) == ["A resend #1"]
    assert lines_of(w, 8) == ["B recv A#1 duplicate"]
    assert lines_of(w, 9) == ["B send ctl-ack 1"]


def test_same_seq_with_another_hash_is_a_fork_and_stops_the_connection():
    w = seq("backup-state A b\nexport A\ndeliver A->B\nimport B\nrestore-state A b\n"
            "export A other\ndeliver A->B\nimport B\nexport B\n")
    assert lines_of(w, 7) == ["B recv A#1 fork"]
    assert w.eps["B"].stopped == "fork"
    assert lines_of(w, 8) == []        # a stopped site sends nothing


def test_a_bundle_whose_chain_does_not_match_is_a_fork():
    # A is restored after sending #1 and #2; its new #2 names the same #1 but B holds the
    # old #3, whose prev is the old #2
    w = seq("export A\nbackup-state A b\nexport A\nexport A\ndrop A->B 1\n"
            "deliver A->B\ndeliver A->B\nimport B\nrestore-state A b\nexport A x\n"
            "deliver A->B\nimport B\n")
    assert lines_of(w, 7)[:2] == ["B recv A#1 accept ack=1 applied=0", "B recv A#3 hold gap=2"]
    assert lines_of(w, 11) == ["B recv A#2 fork"]


def test_gap_holds_later_bundles_until_it_is_filled():
    w = seq("export A\nexport A\ndeliver A->B 1\nimport B\ndeliver A->B\nimport B\n")
    assert lines_of(w, 3) == ["B recv A#2 hold gap=1"]
    assert lines_of(w, 5) == ["B recv A#1 accept ack=2 applied=0", "B apply A#1", "B apply A#2"]


def test_acks_only_move_forward_and_an_overtaken_ack_is_ignored():
    w = seq("export A\nexport A\ndeliver A->B\nimport B\nflush B\ndeliver A->B\nimport B\n"
            "tick 5\nflush B\ndeliver B->A 1\nimport A\ndeliver B->A\nimport A\n")
    assert lines_of(w, 10) == ["A ack 2"]
    assert lines_of(w, 12) == []       # the older ack 1 arrives late: nothing
    assert w.eps["A"].peer_ack == 2 and not w.eps["A"].stopped


def test_ack_above_anything_sent_means_a_restore():
    w = seq("backup-state A b\nexport A\ndeliver A->B\nimport B\nflush B\nrestore-state A b\n"
            "deliver B->A\nimport A\n")
    assert lines_of(w, 7) == ["A ack 1 ahead-of-sent restore-detected"]
    assert w.eps["A"].stopped == "restore"


def test_lower_ack_in_a_newer_message_means_the_peer_was_restored():
    w = seq("export A\ndeliver A->B\nbackup-state B b\nimport B\nflush B\ndeliver B->A\n"
            "import A\nrestore-state B b\nexport A\ndeliver A->B\nimport B\nflush B\n"
            "deliver B->A\nimport A\n")
    assert lines_of(w, 10) == ["B recv A#2 hold gap=1"]
    assert lines_of(w, 11) == ["B send ctl-ack 0"]
    assert lines_of(w, 13) == ["A ack 0 behind restore-detected"]


def test_unacked_bundle_is_resent_as_the_same_bytes_after_the_resend_time():
    w = seq("export A\ndrop A->B\nflush A\ntick 8\nflush A\ndeliver A->B\nimport B\n")
    assert lines_of(w, 2) == []        # not yet
    assert lines_of(w, 4) == ["A resend #1"]
    assert lines_of(w, 6) == ["B recv A#1 accept ack=1 applied=0", "B apply A#1"]
    assert w.eps["B"].held[1] == w.eps["A"].last_hash


def test_acknowledged_bundle_is_not_resent():
    w = seq("export A\ndeliver A->B\nimport B\nflush B\ndeliver B->A\nimport A\ntick 20\n"
            "flush A\n")
    assert lines_of(w, 7) == []


def test_control_ack_is_sent_at_most_once_per_interval():
    w = seq("option ack-interval 10\nexport A\ndeliver A->B\nimport B\nflush B\nexport A\n"
            "deliver A->B\nimport B\nflush B\ntick 10\nflush B\n")
    assert lines_of(w, 4) == ["B send ctl-ack 1"]
    assert lines_of(w, 8) == []        # owed, but the interval has not passed
    assert lines_of(w, 10) == ["B send ctl-ack 2"]


def test_control_messages_are_never_acknowledged_so_idle_sites_fall_silent():
    w = seq("export A\nexport B\ndeliver A->B\ndeliver B->A\nrun A\nrun B\n", settle=True)
    assert w.settled is not None and w.settled <= 6
    before = w.chan.sent_count
    for _ in range(5):
        w.run(parse("run A\nrun B\ntick 20\n"))
    assert w.chan.sent_count == before


def test_received_ack_does_not_wait_for_the_operations_to_be_applied():
    w = seq("export A\nexport A\ndeliver A->B\ndeliver A->B\ncrash B during-import 1\nflush B\n")
    assert lines_of(w, 4) == ["B recv A#1 accept ack=1 applied=0",
                              "B recv A#2 accept ack=2 applied=0", "B apply A#1"]
    assert lines_of(w, 5) == ["B send ctl-ack 2"]
    assert w.eps["B"].applied == 1


def test_seqmodel_trace_command_prints_the_trace(tmp_path):
    p = tmp_path / "s.scn"
    p.write_text("# comment\nexport A\ndeliver A->B\nimport B\n")
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "seqmodel.py"), "--trace",
                          str(p)], capture_output=True, text=True, check=True).stdout
    assert out == ("> export A\nA send #1 ack=0\n> deliver A->B\n> import B\n"
                   "B recv A#1 accept ack=1 applied=0\nB apply A#1\n")


# ------------------------------------------------------------------ merge and apply rules

def test_issue_comment_and_attachment_reach_the_other_site():
    v, w = full("create A X1 hello\ncomment A X1 C1 hi\nattach A X1 f.txt data\nrun A\n"
                "deliver A->B\nrun B\n")
    assert v == []
    b = issue(w, "B", "X1")
    assert b.fields["summary"].value == "hello"
    assert [c.body for c in b.comments.values()] == ["hi"]
    assert [(a.name, a.content) for a in b.attachments.values()] == [("f.txt", "data")]


def test_change_is_written_when_mine_equals_the_base():
    v, w = full("create A X1\nrun A\ndeliver A->B\nrun B\nedit A X1 summary new\nrun A\n"
                "deliver A->B\nrun B\n")
    assert v == [] and issue(w, "B", "X1").fields["summary"].value == "new"
    assert all(not w.fs[s].conflicts for s in "AB")


def test_local_change_not_yet_exported_is_never_overwritten_silently():
    v, w = full("create A X1\nrun A\ndeliver A->B\nrun B\nedit A X1 summary early\nrun A\n"
                "deliver A->B\nedit B X1 summary late\nimport B\n")
    assert v == []
    assert issue(w, "B", "X1").fields["summary"].value == "late"
    assert issue(w, "A", "X1").fields["summary"].value == "late"
    assert [c["why"] for c in w.fs["B"].conflicts] == ["both changed; mine later"]
    assert [c["why"] for c in w.fs["A"].conflicts] == [
        "both changed; theirs later (resolved at the peer)"]


def test_conflict_is_resolved_the_same_way_on_both_sides_by_the_later_change():
    v, w = full("create A X1\nrun A\ndeliver A->B\nrun B\nedit B X1 summary b\n"
                "edit A X1 summary a\nrun A\nrun B\ndeliver A->B\ndeliver B->A\nrun A\nrun B\n")
    assert v == []
    assert issue(w, "A", "X1").fields["summary"].value == "a"
    assert issue(w, "B", "X1").fields["summary"].value == "a"
    assert w.fs["A"].conflicts[0]["loser"] == w.fs["B"].conflicts[0]["loser"]


def test_conflict_with_equal_change_times_goes_to_the_higher_site_id():
    # B's Jira runs one behind, so both edits carry the same change time at origin
    v, w = full("clock B -1\ncreate A X1\nrun A\ndeliver A->B\nrun B\nedit A X1 summary a\n"
                "edit B X1 summary b\nrun A\nrun B\ndeliver A->B\ndeliver B->A\nrun A\nrun B\n")
    assert v == []
    a, b = issue(w, "A", "X1"), issue(w, "B", "X1")
    assert a.fields["summary"].value == b.fields["summary"].value == "b"
    lost = {w.edits[c["loser"]]["site"] for s in "AB" for c in w.fs[s].conflicts}
    assert lost == {"A"}


def test_snapshot_stores_what_jira_stored_so_the_change_is_not_echoed():
    v, w = full("create A X1\nrun A\ndeliver A->B\nrun B\nedit A X1 summary trail\\s\\s\n"
                "edit A X1 description l1\\s\\r\\nl2\nrun A\ndeliver A->B\nrun B\n")
    assert v == []
    b = issue(w, "B", "X1")
    assert b.fields["summary"].value == "trail"          # Cloud dropped the spaces
    assert b.fields["description"].value == "l1\nl2"
    assert issue(w, "A", "X1").fields["summary"].value == "trail  "
    assert all(by == "user" for _, by, _ in w.exports)   # nothing ferry wrote went out


def test_what_ferry_applied_is_never_exported_again_even_after_a_crash():
    v, w = full("create A X1\nrun A\nedit A X1 summary s\ndeliver A->B\nrun A\ndeliver A->B\n"
                "crash B during-import 2\nexport B\n")
    assert v == [] and all(by == "user" for _, by, _ in w.exports)


def test_crash_after_a_create_leaves_no_second_issue():
    v, w = full("create A X1\ncomment A X1 C1 c\nrun A\ndeliver A->B\ncrash B during-import 1\n"
                "import B\ncrash B during-import 1\nimport B\n")
    assert v == []
    assert len(w.jira["B"].issues) == 3   # X1's twin and the two probes
    assert len(issue(w, "B", "X1").comments) == 1


def test_crash_then_user_edit_between_the_steps_of_an_import_loses_nothing():
    v, w = full("create A X1\nrun A\ndeliver A->B\ncrash B during-import 1\n"
                "edit B X1 summary mine\nedit A X1 description theirs\nrun A\ndeliver A->B\n"
                "import B\n")
    assert v == []
    b = issue(w, "B", "X1")
    assert (b.fields["summary"].value, b.fields["description"].value) == ("mine", "theirs")


def test_refused_operation_is_parked_and_does_not_hold_the_received_ack_back():
    w = model.World()
    w.run(parse("create A X1\nrun A\ndeliver A->B\nrun B\nrefuse B X1\nedit A X1 summary s\n"
                "run A\ndeliver A->B\nimport B\n"))
    assert any(line.startswith("B park A#2.0 refused by Jira") for line in w.trace)
    assert w.fs["B"].ep.recv_ack == 2 and w.fs["B"].ep.applied == 2
    w.run(parse("allow B X1\nimport B\n"))
    assert "B retry A#2.0 ok" in w.trace
    assert issue(w, "B", "X1").fields["summary"].value == "s"


def test_later_operations_on_a_parked_issue_wait_behind_it_in_order():
    w = model.World()
    w.run(parse("create A X1\nrun A\ndeliver A->B\nrun B\nrefuse B X1\nedit A X1 summary one\n"
                "run A\nedit A X1 summary two\nrun A\ndeliver A->B\ndeliver A->B\nimport B\n"
                "allow B X1\nimport B\n"))
    assert "B wait A#3.0" in w.trace
    assert w.trace.index("B retry A#2.0 ok") < w.trace.index("B retry A#3.0 ok")
    assert issue(w, "B", "X1").fields["summary"].value == "two"


def test_operation_that_needs_an_issue_not_synced_yet_waits_for_it():
    w = model.World()
    w.run(parse("refuse B *\ncreate A X1\ncomment A X1 C1 hello\nrun A\ndeliver A->B\n"
                "import B\n"))
    assert "B park A#1.0 create refused by Jira" in w.trace and "B wait A#1.1" in w.trace
    w.run(parse("allow B *\nimport B\n"))
    assert [c.body for c in issue(w, "B", "X1").comments.values()] == ["hello"]


def test_deleted_issue_marks_its_twin_and_keeps_it():
    v, w = full("create A X1\ncreate A X2\nrun A\ndeliver A->B\nrun B\ndelete A X1\nrun A\n"
                "deliver A->B\nrun B\n")
    assert v == []
    b = issue(w, "B", "X1")
    assert b is not None and b.marked


def test_operations_for_a_deleted_twin_are_parked():
    w = model.World()
    w.run(parse("create A X1\nrun A\ndeliver A->B\nrun B\ndelete B X1\nedit A X1 summary s\n"
                "run A\ndeliver A->B\nimport B\n"))
    assert "B park A#2.0 twin deleted" in w.trace


def test_operations_for_a_twin_moved_out_of_the_project_are_parked_never_written():
    v, w = full("create A X1\ncreate A X2\nrun A\ndeliver A->B\nrun B\nmove B X1\n"
                "edit A X1 summary s\nrun A\ndeliver A->B\nrun B\n")
    assert v == []
    assert any("twin moved out of the project" in line for line in w.trace)
    assert issue(w, "B", "X1").fields["summary"].value == "X1"
    assert sum(1 for i in w.jira["B"].issues.values() if i.stamp == "A:1001") == 1


def test_moving_a_twin_out_breaks_the_rule_if_ops_are_not_parked():
    v, _ = full("create B X1\nrun B\ndeliver B->A\nrun A\nedit A X1 summary done\nmove B X1\n",
                park_moved=False)
    assert any("write outside the project" in x for x in v)


def test_a_forgotten_twin_is_found_by_its_stamp_not_created_again():
    v, w = full("backup-state B b\ncreate A X1\nrun A\ndeliver A->B\nrun B\nrestore-state B b\n",
                detect_state_restore=False)
    assert sum(1 for i in w.jira["B"].issues.values() if i.stamp == "A:1001") == 1


def test_jira_restore_is_detected_before_anything_is_exported():
    v, w = full("create A X1\nrun A\ndeliver A->B\nrun B\nbackup-jira B j\n"
                "edit A X1 summary s\nrun A\ndeliver A->B\nrun B\nrestore-jira B j\nrun B\n")
    assert v == []
    assert w.fs["B"].ep.stopped == "jira-restore"
    assert any("B jira restore-detected" in line for line in w.trace)


def test_jira_restore_is_detected_when_the_id_is_handed_out_again():
    v, w = full("backup-jira B j\ncreate B X1\nrun B\nrestore-jira B j\ncreate B X2\nrun B\n")
    assert v == [] and w.fs["B"].ep.stopped == "jira-restore"


def test_restore_of_the_sending_state_is_detected():
    v, w = full("backup-state A b\ncreate A X1\nrun A\ndeliver A->B\nrun B\ndeliver B->A\n"
                "restore-state A b\ncreate A X2\nrun A\ndeliver A->B\nrun B\n")
    assert v == [] and any(w.fs[s].ep.stopped for s in "AB")


def test_no_false_detection_without_a_restore():
    for seed in range(300):
        evs = gen.generate(seed, 80, restores=False)
        _, w = model.check(evs)
        assert not any(w.fs[s].ep.stopped for s in "AB"), seed


# ------------------------------------------------------------------ findings

F1 = "export A\ndeliver A->B\nimport B\nflush B\ndrop B->A\n"
F2 = ("export A\ndeliver A->B\nbackup-state B before\nimport B\nflush B\ndeliver B->A\n"
      "import A\nrestore-state B before\n")
F3 = ("create B X1\nrun B\ndeliver B->A\nimport A\nedit A X1 summary blue\n"
      "edit B X1 summary fix\nrun B\n")
F4 = ("create B X1\nexport B\ndeliver B->A\nimport A\nedit A X1 summary fix\n"
      "edit B X1 summary x\nrun B\nbackup-state A before\ndeliver B->A\nimport A\n"
      "restore-state A before\n")


def _seq_verdict(text, rules):
    w = sq.SeqWorld(rules).run(parse(text))
    n1 = sq.settle(w)
    w.run(parse("export A\nexport B\n"))
    n2 = sq.settle(w)
    return runner.seq_properties(w, n1 if n2 is not None else None), w


def test_finding_f1_a_duplicate_that_is_not_acked_again_is_resent_forever():
    v, _ = _seq_verdict(F1, sq.Rules(reack_duplicates=False))
    assert v == ["sites did not fall silent"]
    v, _ = _seq_verdict(F1, sq.Rules())
    assert v == []


def test_finding_f2_a_restored_receiver_stalls_unless_gaps_are_acked_and_lower_acks_seen():
    v, w = _seq_verdict(F2, sq.Rules(gap_ack=False, ack_behind=False))
    assert v and not any(e.stopped for e in w.eps.values())
    v, w = _seq_verdict(F2, sq.Rules())
    assert v == [] and w.eps["A"].stopped == "restore"


def test_finding_f3_crossing_edits_diverge_under_the_plain_three_way_merge():
    v, _ = full(F3, stamp_merge=False)
    assert any("differs" in x for x in v)
    v, w = full(F3)
    assert v == [] and w.fs["A"].conflicts and w.fs["B"].conflicts


def test_finding_f4_a_healed_state_restore_loses_a_conflict_record_unless_detected():
    v, _ = full(F4, detect_state_restore=False)
    assert any("lost without a conflict record" in x for x in v)
    v, w = full(F4)
    assert v == [] and w.fs["A"].ep.stopped == "restore"


F5 = ("create A X1\ncreate A X2\nrun A\ndeliver A->B\nrun B\nedit A X1 summary a1\n"
      "edit A X2 summary a2\nrun A\ndeliver A->B\npause B during-import 1\n"
      "edit B X2 summary mine\n")


def test_finding_f5_a_user_edit_after_the_bulk_read_is_overwritten_unless_reread():
    v, _ = full(F5, reread_before_write=False)
    assert any("lost without a conflict record" in x for x in v)
    v, w = full(F5)
    assert v == []
    assert issue(w, "A", "X2").fields["summary"].value == "mine"
    assert any(c["why"] == "both changed; mine later" for c in w.fs["B"].conflicts)


def test_user_edit_between_a_write_and_its_read_back_is_not_taken_for_ferrys():
    v, w = full("create A X1\nexport A\ndeliver A->B\npause B during-import 1\n"
                "edit B X1 summary fix\nedit A X1 summary x\n")
    assert v == []
    assert issue(w, "B", "X1").fields["summary"].value == issue(w, "A", "X1").fields["summary"].value


def test_pause_runs_the_following_user_events_inside_the_import():
    w = model.World().run(parse("create A X1\ncreate A X2\nrun A\ndeliver A->B\n"
                                "pause B during-import 1\nedit B X1 summary s\nexport B\n"))
    t = w.trace
    assert t.index("> pause B during-import 1") < t.index("> edit B X1 summary s") \
        < t.index("B apply A#1") < t.index("> export B")


F6 = ("backup-state A empty\nexport A\nexport A\nexport A\ndrop A->B\ndrop A->B\n"
      "restore-state A empty\ndeliver A->B\nimport B\n")


def test_finding_f6_a_bundle_above_anything_the_restored_sender_sent_needs_the_held_top():
    v, w = _seq_verdict(F6, sq.Rules(ack_top=False))
    assert "sites did not fall silent" in v and not any(e.stopped for e in w.eps.values())
    v, w = _seq_verdict(F6, sq.Rules())
    assert v == [] and w.eps["A"].stopped == "restore"
    assert "A held 3 ahead-of-sent restore-detected" in w.trace


def test_residual_r1_a_restored_comment_edit_edited_again_is_not_detectable():
    text = ("create A X1\ncomment A X1 C1 red\nrun A\ndeliver A->B\nimport B\n"
            "backup-jira B j\nedit-comment B X1 C1 wait\nrun B\nrestore-jira B j\n"
            "edit-comment B X1 C1 green\n")
    v, w = full(text)
    assert v == [] and not any(w.fs[s].ep.stopped for s in "AB")
    assert [c.body for c in issue(w, "A", "X1").comments.values()] == ["green"]


# ------------------------------------------------------------------ shrinker

def _shrunk_failure(rules, limit, seeds=range(400), steps=40):
    for seed in seeds:
        evs = gen.generate(seed, steps)
        v, _ = model.check(evs, rules)
        if v:
            cat = gen.category(v[0])
            small = gen.shrink(evs, lambda e: any(gen.category(x) == cat
                                                  for x in model.check(e, rules)[0]))
            assert len(small) <= limit, format_scenario(small)
            assert any(gen.category(x) == cat for x in model.check(small, rules)[0])
            return small, cat
    pytest.fail("the broken rule was never caught")


def test_shrinker_reduces_a_missing_stamp_lookup_to_a_crash_during_create():
    small, cat = _shrunk_failure(sq.Rules(lookup_stamp=False), 5)
    assert "twice" in cat
    assert any(e.op == "crash" for e in small)


def test_shrinker_reduces_a_missing_read_back_to_an_echo():
    small, cat = _shrunk_failure(sq.Rules(read_back=False), 6)
    assert cat.startswith("echo")


def test_shrinker_reduces_the_plain_merge_to_crossing_edits():
    small, cat = _shrunk_failure(sq.Rules(stamp_merge=False), 8)
    assert sum(1 for e in small if e.op == "edit") >= 2


def test_shrinker_keeps_a_scenario_that_cannot_shrink():
    evs = parse("create A X1\n")
    assert gen.shrink(evs, lambda e: len(e) == 1) == evs


# ------------------------------------------------------------------ scenario format

def test_generated_scenarios_survive_print_and_parse():
    for seed in range(300):
        evs = gen.generate(seed, 60, restores=seed % 2 == 0)
        text = format_scenario(evs)
        assert parse(text) == evs
        assert format_scenario(parse(text)) == text


def test_values_with_spaces_line_breaks_and_backslashes_round_trip():
    for v in ["", " ", "a b", " lead", "trail  ", "x\r\ny", "back\\slash", "\\s", "tab\tx",
              "\\e"]:
        ev = Event("edit", "A", "X1", "summary", v)
        line = format_scenario([ev])
        assert not line.rstrip("\n").endswith(" ")
        assert parse(line) == [ev], line
        assert unescape_value(escape_value(v)) == v


def test_optional_arguments_print_only_when_present():
    text = "deliver A->B\ndeliver B->A 2\ncrash A\ncrash B during-import 3\nexport A\nexport B x\n"
    evs = parse(text)
    assert evs[0] == Event("deliver", "A->B", None)
    assert evs[3] == Event("crash", "B", 3)
    assert format_scenario(evs) == text


def test_comments_blank_lines_and_crlf_are_ignored():
    assert parse("# hello\n\r\n  \nexport A\r\n") == [Event("export", "A", None)]


@pytest.mark.parametrize("line", ["frobnicate A", "export C", "deliver A->A", "tick x",
                                  "edit A X1 summary", "crash A during 2", "create A X/1",
                                  "flush A extra", "edit A X1 summary bad\\q"])
def test_malformed_lines_are_rejected_with_the_line_number(line):
    with pytest.raises(ScenarioError) as e:
        parse_line(line, 7)
    assert "7" in str(e.value)


def test_runner_prints_a_summary():
    out = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "run.py"), "--seeds", "20",
                          "--steps", "30", "--jobs", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "scenarios run:      20" in out.stdout and "property failures:  0" in out.stdout


# ------------------------------------------------------------------ scenario files

SCENARIOS = os.path.join(HERE, "scenarios")


def _headers(text):
    h = {"layer": "full", "expect": None, "broken-by": [], "fixed-by": []}
    for line in text.splitlines():
        if line.startswith("# layer:"):
            h["layer"] = line.split(":", 1)[1].strip()
        elif line.startswith("# expect:"):
            h["expect"] = line.split(":", 1)[1].strip()
        elif line.startswith("# fixed-by:"):
            spec, _, want = line.split(":", 1)[1].strip().partition(" ")
            h["fixed-by"].append((dict(kv.split("=") for kv in spec.split(",")), want.strip()))
        elif line.startswith("# broken-by:"):
            spec, _, want = line.split(":", 1)[1].strip().partition(" ")
            rules = dict(kv.split("=") for kv in spec.split(","))
            h["broken-by"].append((rules, want.strip().strip('"')))
    return h


def _verdict(text, layer, rules):
    if layer == "seq":
        v, w = _seq_verdict(text, rules)
        return v, any(e.stopped for e in w.eps.values())
    v, w = model.check(parse(text), rules)
    return v, any(w.fs[s].ep.stopped for s in "AB")


@pytest.mark.parametrize("name", sorted(f for f in os.listdir(SCENARIOS) if f.endswith(".scn")))
def test_scenario_file_ends_as_its_header_says(name):
    with open(os.path.join(SCENARIOS, name), encoding="utf-8") as f:
        text = f.read()
    h = _headers(text)
    v, detected = _verdict(text, h["layer"], sq.Rules())
    if h["expect"].startswith("fails"):
        want = h["expect"].split(" ", 1)[1].strip('"')
        assert any(want in x for x in v), v
    else:
        assert h["expect"] in ("ok", "detected")
        assert v == [] and detected == (h["expect"] == "detected"), v
    for rules, want in h["fixed-by"]:
        r = sq.Rules()
        for k, val in rules.items():
            r.option(k, val)
        v, detected = _verdict(text, h["layer"], r)
        assert v == [] and detected == (want == "detected"), (rules, v)
    for rules, want in h["broken-by"]:
        r = sq.Rules()
        for k, val in rules.items():
            r.option(k, val)
        v, _ = _verdict(text, h["layer"], r)
        assert any(want in x for x in v), (rules, v)
