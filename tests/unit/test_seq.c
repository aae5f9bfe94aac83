/* test_seq.c: each rule of the sequencing state machine, one at a time. */
#include "ferry/common.h"
#include "ferry/seq.h"
#include "testutil.h"

static struct seq_hash
H(int n)
{
	struct seq_hash h;

	memset(&h, 0, sizeof(h));
	if (n != 0) {
		h.b[0] = (uint8_t)n;
		h.b[31] = 0xaa;
	}
	return h;
}

static struct seq_msg
B(uint64_t seq, int hash, int prev, uint64_t ack)
{
	struct seq_msg m;

	memset(&m, 0, sizeof(m));
	m.bundle = true;
	m.seq = seq;
	m.hash = H(hash);
	m.prev = H(prev);
	m.ack = ack;
	m.time = (int64_t)seq;
	return m;
}

/*
 * A tiny ledger for the tests: live records by seq (hash, prev), as the
 * store would hold them.
 */
struct led {
	bool		 live[16];
	struct seq_msg	 m[16];
};

static enum seq_verdict
in(struct seq_state *st, const struct seq_rules *r, struct led *l,
    const struct seq_msg *m)
{
	struct seq_ledger q;
	enum seq_verdict v;

	memset(&q, 0, sizeof(q));
	q.have = l->live[m->seq];
	q.hash = l->m[m->seq].hash;
	q.seen = q.have && seq_hash_eq(&q.hash, &m->hash);
	q.have_before = m->seq > 1 && l->live[m->seq - 1];
	q.before = l->m[m->seq - 1].hash;
	q.have_after = l->live[m->seq + 1];
	q.after_prev = l->m[m->seq + 1].prev;
	v = seq_in_bundle(st, r, m, &q);
	if (v == SEQ_ACCEPT || v == SEQ_HOLD) {
		l->live[m->seq] = true;
		l->m[m->seq] = *m;
	}
	while (v == SEQ_ACCEPT && l->live[st->in_recv + 1])
		seq_in_advance(st, &l->m[st->in_recv + 1].hash);
	return v;
}

static struct seq_rules R;

static int
setup_rules(void **state)
{
	(void)state;
	seq_rules_default(&R);
	R.resend_after = 60;
	R.ack_interval = 3600;
	return 0;
}

static void
test_seq_out_assigns_one_after_another(void **state)
{
	struct seq_state st;
	struct seq_hash h1 = H(1), h2 = H(2);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_out_next(&st), 1);
	assert_true(seq_hash_zero(seq_out_prev(&st)));
	/* Asking for the next seq does not take it: a crash reuses it. */
	assert_int_equal(seq_out_next(&st), 1);
	seq_out_made(&st, 1, &h1, 0);
	assert_int_equal(seq_out_next(&st), 2);
	assert_true(seq_hash_eq(seq_out_prev(&st), &h1));
	seq_out_made(&st, 2, &h2, 0);
	assert_int_equal(st.out_sent, 2);
}

static void
test_seq_accepts_in_order(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0), m2 = B(2, 2, 1, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_ACCEPT);
	assert_int_equal(st.in_recv, 1);
	assert_true(st.ack_owed);
	assert_int_equal(in(&st, &R, &l, &m2), SEQ_ACCEPT);
	assert_int_equal(st.in_recv, 2);
	assert_true(seq_hash_eq(&st.in_hash, &m2.hash));
}

static void
test_seq_duplicate_same_hash_is_dropped_and_reacked(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_ACCEPT);
	assert_true(seq_ack_due(&st, &R, 100, false));
	seq_ack_sent(&st, 100);
	assert_false(seq_ack_due(&st, &R, 100 + 3600, false));
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_DUPLICATE);
	assert_int_equal(st.in_recv, 1);
	assert_int_equal(st.stop, SEQ_RUNNING);
	/* The peer missed our ack: due again, but once per interval. */
	assert_false(seq_ack_due(&st, &R, 200, false));
	assert_true(seq_ack_due(&st, &R, 100 + 3600, false));
}

static void
test_seq_same_seq_other_hash_is_a_fork(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0), f1 = B(1, 9, 0, 0), m2;

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_ACCEPT);
	assert_int_equal(in(&st, &R, &l, &f1), SEQ_FORK);
	assert_int_equal(st.stop, SEQ_STOP_FORK);
	assert_int_equal(st.stop_seq, 1);
	assert_string_equal(seq_stop_name(st.stop), "fork");
	/* Stopped: nothing more is accepted, nothing goes out. */
	m2 = B(2, 2, 1, 0);
	assert_int_equal(in(&st, &R, &l, &m2), SEQ_STOPPED);
	assert_false(seq_ack_due(&st, &R, 0, false));
	assert_false(seq_out_due(&st, &R, 1, 0, SEQ_NEVER, 0));
}

static void
test_seq_fork_of_a_held_bundle(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m3 = B(3, 3, 2, 0), f3 = B(3, 7, 2, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m3), SEQ_HOLD);
	assert_int_equal(in(&st, &R, &l, &f3), SEQ_FORK);
}

static void
test_seq_gap_holds_until_filled(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0), m2 = B(2, 2, 1, 0),
	    m3 = B(3, 3, 2, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m3), SEQ_HOLD);
	assert_int_equal(in(&st, &R, &l, &m2), SEQ_HOLD);
	assert_int_equal(st.in_recv, 0);
	assert_false(st.ack_owed);
	/* Holding a gap, the peer hears our ack once per interval. */
	assert_true(seq_ack_due(&st, &R, 10, true));
	seq_ack_sent(&st, 10);
	assert_false(seq_ack_due(&st, &R, 20, true));
	assert_true(seq_ack_due(&st, &R, 10 + 3600, true));
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_ACCEPT);
	assert_int_equal(st.in_recv, 3);
	assert_true(seq_hash_eq(&st.in_hash, &m3.hash));
}

static void
test_seq_chain_mismatch_stops_the_connection(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0), bad2 = B(2, 2, 5, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_ACCEPT);
	assert_int_equal(in(&st, &R, &l, &bad2), SEQ_BADCHAIN);
	assert_int_equal(st.in_recv, 1);
	assert_int_equal(st.stop, SEQ_STOP_FORK);
}

static void
test_seq_chain_checked_against_a_held_successor(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m3 = B(3, 3, 2, 0), other2 = B(2, 8, 1, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m3), SEQ_HOLD);
	/* 3 names 2 as hash 2: a bundle 2 with hash 8 is not that one. */
	assert_int_equal(in(&st, &R, &l, &other2), SEQ_BADCHAIN);
	assert_int_equal(st.stop, SEQ_STOP_FORK);
}

static void
test_seq_first_bundle_must_name_no_predecessor(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 4, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(in(&st, &R, &l, &m1), SEQ_BADCHAIN);
}

static void
test_seq_acks_only_move_forward(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);
	int i;

	(void)state;
	seq_init(&st);
	for (i = 1; i <= 5; i++)
		seq_out_made(&st, (uint64_t)i, &h, 0);
	assert_int_equal(seq_on_ack(&st, &R, 3, 10), SEQ_ACK_ADVANCED);
	assert_int_equal(st.out_acked, 3);
	/* Older messages (reordered) with lower acks are stale. */
	assert_int_equal(seq_on_ack(&st, &R, 2, 9), SEQ_ACK_STALE);
	assert_int_equal(seq_on_ack(&st, &R, 3, 10), SEQ_ACK_STALE);
	assert_int_equal(st.out_acked, 3);
	assert_false(seq_out_due(&st, &R, 3, 0, SEQ_NEVER, 0));
	assert_true(seq_out_due(&st, &R, 4, 0, SEQ_NEVER, 0));
	assert_int_equal(seq_on_ack(&st, &R, 5, 11), SEQ_ACK_ADVANCED);
	assert_int_equal(st.stop, SEQ_RUNNING);
}

static void
test_seq_ack_above_sent_is_a_restore(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);

	(void)state;
	seq_init(&st);
	seq_out_made(&st, 1, &h, 0);
	assert_int_equal(seq_on_ack(&st, &R, 2, 1), SEQ_ACK_AHEAD);
	assert_int_equal(st.stop, SEQ_STOP_RESTORE);
	assert_int_equal(st.stop_seq, 2);
}

static void
test_seq_newer_lower_ack_is_a_restore(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);
	int i;

	(void)state;
	seq_init(&st);
	for (i = 1; i <= 3; i++)
		seq_out_made(&st, (uint64_t)i, &h, 0);
	assert_int_equal(seq_on_ack(&st, &R, 3, 10), SEQ_ACK_ADVANCED);
	assert_int_equal(seq_on_ack(&st, &R, 1, 11), SEQ_ACK_BEHIND);
	assert_int_equal(st.stop, SEQ_STOP_RESTORE);
}

/*
 * Finding F6 of the model: A is restored to before it made 1..3, of which
 * only 3 reached B.  B holds 3 behind a gap; A's state shows nothing
 * wrong.  The top of B's gap ack tells A that B holds a seq A never made.
 */
static void
f6_run(const struct seq_rules *r, struct seq_state *a, struct seq_state *b)
{
	struct seq_state backup;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m3 = B(3, 3, 2, 0), ctl;
	struct seq_hash h;
	int i;

	seq_init(a);
	seq_init(b);
	backup = *a;
	for (i = 1; i <= 3; i++) {
		h = H(i);
		seq_out_made(a, (uint64_t)i, &h, i);
	}
	*a = backup;
	assert_int_equal(in(b, r, &l, &m3), SEQ_HOLD);
	assert_int_equal(seq_on_ack(b, r, m3.ack, m3.time), SEQ_ACK_STALE);
	assert_true(seq_ack_due(b, r, 10, true));
	seq_ack_msg(b, r, 3, 10, &ctl);
	seq_ack_sent(b, 10);
	assert_int_equal(ctl.ack, 0);
	assert_int_equal(ctl.top, r->ack_top ? 3 : 0);
	assert_int_equal(seq_on_ack(a, r, ctl.ack, ctl.time), SEQ_ACK_STALE);
	seq_on_top(a, r, ctl.top);
}

static void
test_seq_held_top_above_sent_is_a_restore(void **state)
{
	struct seq_rules r = R;
	struct seq_state a, b;

	(void)state;
	f6_run(&r, &a, &b);
	assert_int_equal(a.stop, SEQ_STOP_RESTORE);
	assert_int_equal(a.stop_seq, 3);
	assert_int_equal(b.stop, SEQ_RUNNING);
	/* Stopped: a later top changes nothing. */
	assert_int_equal(seq_on_top(&a, &r, 9), SEQ_ACK_STALE);
	assert_int_equal(a.stop_seq, 3);
}

static void
test_seq_held_top_goes_unnoticed_without_the_rule(void **state)
{
	struct seq_rules r = R;
	struct seq_state a, b;

	(void)state;
	r.ack_top = false;
	f6_run(&r, &a, &b);
	assert_int_equal(a.stop, SEQ_RUNNING);
	assert_int_equal(b.stop, SEQ_RUNNING);
	/* Even a top that says so is not read. */
	assert_int_equal(seq_on_top(&a, &r, 3), SEQ_ACK_STALE);
	assert_int_equal(a.stop, SEQ_RUNNING);
	/* B asks for 1 at every interval, for ever. */
	assert_true(seq_ack_due(&b, &r, 10 + r.ack_interval, true));
}

static void
test_seq_held_top_within_sent_is_nothing(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);
	int i;

	(void)state;
	seq_init(&st);
	for (i = 1; i <= 3; i++)
		seq_out_made(&st, (uint64_t)i, &h, 0);
	assert_int_equal(seq_on_ack(&st, &R, 1, 5), SEQ_ACK_ADVANCED);
	/* 2 was lost, 3 is held behind the gap: all ours. */
	assert_int_equal(seq_on_top(&st, &R, 3), SEQ_ACK_STALE);
	assert_int_equal(seq_on_top(&st, &R, 0), SEQ_ACK_STALE);
	assert_int_equal(st.stop, SEQ_RUNNING);
}

static void
test_seq_resend_after_the_configured_time(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);

	(void)state;
	seq_init(&st);
	assert_false(seq_out_due(&st, &R, 1, 0, SEQ_NEVER, 0));
	seq_out_made(&st, 1, &h, 0);
	assert_true(seq_out_due(&st, &R, 1, 0, SEQ_NEVER, 0));
	assert_false(seq_out_due(&st, &R, 1, 1, 100, 159));
	assert_true(seq_out_due(&st, &R, 1, 1, 100, 160));
	seq_on_ack(&st, &R, 1, 1);
	assert_false(seq_out_due(&st, &R, 1, 1, 100, 1000));
}

static void
test_seq_ack_rides_on_bundles_and_idle_falls_silent(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0), m2 = B(2, 2, 1, 0), out;
	struct seq_hash h = H(5);

	(void)state;
	seq_init(&st);
	assert_false(seq_ack_due(&st, &R, 0, false));
	in(&st, &R, &l, &m1);
	/* A new bundle goes out: it carries the ack. */
	seq_out_made(&st, 1, &h, 0);
	assert_false(seq_ack_due(&st, &R, 0, false));
	in(&st, &R, &l, &m2);
	assert_true(seq_ack_due(&st, &R, 1, false));
	seq_ack_sent(&st, 1);
	seq_ack_msg(&st, &R, 2, 1, &out);
	assert_false(out.bundle);
	assert_int_equal(out.ack, 2);
	assert_int_equal(out.top, 2);
	assert_int_equal(out.time, 1);
	/* Nothing new: silent for ever. */
	assert_false(seq_ack_due(&st, &R, 1000000, false));
}

static void
test_seq_applied_follows_received(void **state)
{
	struct seq_state st;
	struct led l = { { false }, { { 0 } } };
	struct seq_msg m1 = B(1, 1, 0, 0);

	(void)state;
	seq_init(&st);
	in(&st, &R, &l, &m1);
	seq_in_applied(&st, 1);
	assert_int_equal(st.in_applied, 1);
}

static void
test_seq_prune_after_retention(void **state)
{
	(void)state;
	assert_false(seq_prune_due(SEQ_NEVER, 100, 10));
	assert_false(seq_prune_due(95, 100, 10));
	assert_true(seq_prune_due(90, 100, 10));
}

static void
test_seq_hash_hex_round_trip(void **state)
{
	struct seq_hash h = H(0x5c), g;
	char hex[65];

	(void)state;
	seq_hash_hex(&h, hex);
	assert_int_equal(strlen(hex), 64);
	assert_true(seq_hash_parse(&g, hex));
	assert_true(seq_hash_eq(&g, &h));
	assert_false(seq_hash_parse(&g, "abc"));
	hex[3] = 'g';
	assert_false(seq_hash_parse(&g, hex));
	assert_string_equal(seq_verdict_name(SEQ_BADCHAIN), "badchain");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_seq_out_assigns_one_after_another),
		cmocka_unit_test(test_seq_accepts_in_order),
		cmocka_unit_test(
		    test_seq_duplicate_same_hash_is_dropped_and_reacked),
		cmocka_unit_test(test_seq_same_seq_other_hash_is_a_fork),
		cmocka_unit_test(test_seq_fork_of_a_held_bundle),
		cmocka_unit_test(test_seq_gap_holds_until_filled),
		cmocka_unit_test(test_seq_chain_mismatch_stops_the_connection),
		cmocka_unit_test(
		    test_seq_chain_checked_against_a_held_successor),
		cmocka_unit_test(
		    test_seq_first_bundle_must_name_no_predecessor),
		cmocka_unit_test(test_seq_acks_only_move_forward),
		cmocka_unit_test(test_seq_ack_above_sent_is_a_restore),
		cmocka_unit_test(test_seq_newer_lower_ack_is_a_restore),
		cmocka_unit_test(test_seq_held_top_above_sent_is_a_restore),
		cmocka_unit_test(
		    test_seq_held_top_goes_unnoticed_without_the_rule),
		cmocka_unit_test(test_seq_held_top_within_sent_is_nothing),
		cmocka_unit_test(test_seq_resend_after_the_configured_time),
		cmocka_unit_test(
		    test_seq_ack_rides_on_bundles_and_idle_falls_silent),
		cmocka_unit_test(test_seq_applied_follows_received),
		cmocka_unit_test(test_seq_prune_after_retention),
		cmocka_unit_test(test_seq_hash_hex_round_trip),
	};

	return cmocka_run_group_tests(tests, setup_rules, NULL);
}
