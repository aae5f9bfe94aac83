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
	return m;
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
test_seq_accepts_in_order_and_checks_chain(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0), m2 = B(2, 2, 1, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(st.in_recv, 1);
	assert_int_equal(seq_in_bundle(&st, &m2, NULL, false), SEQ_ACCEPT);
	assert_int_equal(st.in_recv, 2);
	assert_true(seq_hash_eq(&st.in_hash, &m2.hash));
}

static void
test_seq_duplicate_same_hash_is_dropped_and_reacked(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_true(seq_ack_due(&st, 100, 3600, false));
	seq_ack_sent(&st, 100);
	assert_false(seq_ack_due(&st, 100 + 3600, 3600, false));
	assert_int_equal(seq_in_bundle(&st, &m1, &m1.hash, true),
	    SEQ_DUPLICATE);
	assert_int_equal(st.in_recv, 1);
	assert_int_equal(st.stop, SEQ_RUNNING);
	/* The peer missed our ack: due again, but once per interval. */
	assert_false(seq_ack_due(&st, 200, 3600, false));
	assert_true(seq_ack_due(&st, 100 + 3600, 3600, false));
}

static void
test_seq_same_seq_other_hash_is_a_fork(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0), f1 = B(1, 9, 0, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(seq_in_bundle(&st, &f1, &m1.hash, false), SEQ_FORK);
	assert_int_equal(st.stop, SEQ_STOP_FORK);
	assert_int_equal(st.stop_seq, 1);
	assert_string_equal(seq_stop_name(st.stop), "fork");
	/* Stopped: nothing more is accepted, nothing goes out. */
	m1 = B(2, 2, 1, 0);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_STOPPED);
	assert_false(seq_ack_due(&st, 0, 0, false));
	assert_false(seq_out_due(&st, 1, 0, SEQ_NEVER, 0, 0));
}

static void
test_seq_fork_of_a_held_bundle(void **state)
{
	struct seq_state st;
	struct seq_msg m3 = B(3, 3, 2, 0), f3 = B(3, 7, 2, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m3, NULL, false), SEQ_HOLD);
	assert_int_equal(seq_in_bundle(&st, &f3, &m3.hash, false), SEQ_FORK);
}

static void
test_seq_gap_holds_until_filled(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0), m2 = B(2, 2, 1, 0),
	    m3 = B(3, 3, 2, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m3, NULL, false), SEQ_HOLD);
	assert_int_equal(seq_in_bundle(&st, &m2, NULL, false), SEQ_HOLD);
	assert_int_equal(st.in_recv, 0);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(seq_in_promote(&st, &m2), SEQ_ACCEPT);
	assert_int_equal(seq_in_promote(&st, &m3), SEQ_ACCEPT);
	assert_int_equal(st.in_recv, 3);
}

static void
test_seq_chain_mismatch_is_quarantined(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0), bad2 = B(2, 2, 5, 0),
	    good2 = B(2, 3, 1, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(seq_in_bundle(&st, &bad2, NULL, false),
	    SEQ_BADCHAIN);
	assert_int_equal(st.in_recv, 1);
	assert_int_equal(st.stop, SEQ_RUNNING);
	/* The quarantined copy again is a duplicate of what we saw. */
	assert_int_equal(seq_in_bundle(&st, &bad2, NULL, true),
	    SEQ_DUPLICATE);
	assert_int_equal(seq_in_bundle(&st, &good2, NULL, false), SEQ_ACCEPT);
	/* A held bundle that does not chain is quarantined on promotion. */
	bad2 = B(3, 4, 9, 0);
	assert_int_equal(seq_in_promote(&st, &bad2), SEQ_BADCHAIN);
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
	assert_int_equal(seq_on_ack(&st, 3, 0), SEQ_ACK_ADVANCED);
	assert_int_equal(st.out_acked, 3);
	assert_int_equal(seq_on_ack(&st, 2, 0), SEQ_ACK_STALE);
	assert_int_equal(seq_on_ack(&st, 3, 0), SEQ_ACK_STALE);
	assert_int_equal(st.out_acked, 3);
	assert_false(seq_out_due(&st, 3, 0, SEQ_NEVER, 0, 10));
	assert_true(seq_out_due(&st, 4, 0, SEQ_NEVER, 0, 10));
	assert_int_equal(seq_on_ack(&st, 5, 0), SEQ_ACK_ADVANCED);
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
	assert_int_equal(seq_on_ack(&st, 2, 0), SEQ_ACK_RESTORE);
	assert_int_equal(st.stop, SEQ_STOP_RESTORE);
	assert_int_equal(st.stop_seq, 2);
}

static void
test_seq_echo_above_received_is_a_restore(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(seq_on_ack(&st, 0, 1), SEQ_ACK_STALE);
	assert_int_equal(seq_on_ack(&st, 0, 2), SEQ_ACK_RESTORE);
	assert_int_equal(st.stop, SEQ_STOP_RESTORE);
}

static void
test_seq_carried_ack_going_back_is_a_restore(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);
	struct seq_msg m1 = B(1, 1, 0, 3), m2 = B(2, 2, 1, 2);
	int i;

	(void)state;
	seq_init(&st);
	for (i = 1; i <= 3; i++)
		seq_out_made(&st, (uint64_t)i, &h, 0);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(seq_in_bundle(&st, &m2, NULL, false), SEQ_RESTORE);
	assert_int_equal(st.stop, SEQ_STOP_RESTORE);
}

static void
test_seq_missing_ledger_below_ack_is_a_fork(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0);

	(void)state;
	seq_init(&st);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_ACCEPT);
	assert_int_equal(seq_in_bundle(&st, &m1, NULL, false), SEQ_FORK);
}

static void
test_seq_resend_after_the_configured_time(void **state)
{
	struct seq_state st;
	struct seq_hash h = H(1);

	(void)state;
	seq_init(&st);
	assert_false(seq_out_due(&st, 1, 0, SEQ_NEVER, 0, 60));
	seq_out_made(&st, 1, &h, 0);
	assert_true(seq_out_due(&st, 1, 0, SEQ_NEVER, 0, 60));
	assert_false(seq_out_due(&st, 1, 1, 100, 159, 60));
	assert_true(seq_out_due(&st, 1, 1, 100, 160, 60));
	seq_on_ack(&st, 1, 0);
	assert_false(seq_out_due(&st, 1, 1, 100, 1000, 60));
}

static void
test_seq_ack_rides_on_bundles_and_idle_falls_silent(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0), m2 = B(2, 2, 1, 0), out;
	struct seq_hash h = H(5);

	(void)state;
	seq_init(&st);
	assert_false(seq_ack_due(&st, 0, 10, false));
	seq_in_bundle(&st, &m1, NULL, false);
	/* A new bundle goes out: it carries the ack. */
	assert_false(seq_ack_due(&st, 0, 10, true));
	seq_out_made(&st, 1, &h, st.in_recv);
	assert_false(seq_ack_due(&st, 0, 10, false));
	seq_in_bundle(&st, &m2, NULL, false);
	assert_true(seq_ack_due(&st, 1, 10, false));
	seq_ack_sent(&st, 1);
	seq_ack_msg(&st, &out);
	assert_false(out.bundle);
	assert_int_equal(out.ack, 2);
	/* Nothing new: silent for ever. */
	assert_false(seq_ack_due(&st, 1000000, 10, false));
}

static void
test_seq_applied_follows_received(void **state)
{
	struct seq_state st;
	struct seq_msg m1 = B(1, 1, 0, 0);

	(void)state;
	seq_init(&st);
	seq_in_bundle(&st, &m1, NULL, false);
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
		cmocka_unit_test(test_seq_accepts_in_order_and_checks_chain),
		cmocka_unit_test(
		    test_seq_duplicate_same_hash_is_dropped_and_reacked),
		cmocka_unit_test(test_seq_same_seq_other_hash_is_a_fork),
		cmocka_unit_test(test_seq_fork_of_a_held_bundle),
		cmocka_unit_test(test_seq_gap_holds_until_filled),
		cmocka_unit_test(test_seq_chain_mismatch_is_quarantined),
		cmocka_unit_test(test_seq_acks_only_move_forward),
		cmocka_unit_test(test_seq_ack_above_sent_is_a_restore),
		cmocka_unit_test(test_seq_echo_above_received_is_a_restore),
		cmocka_unit_test(test_seq_carried_ack_going_back_is_a_restore),
		cmocka_unit_test(test_seq_missing_ledger_below_ack_is_a_fork),
		cmocka_unit_test(test_seq_resend_after_the_configured_time),
		cmocka_unit_test(
		    test_seq_ack_rides_on_bundles_and_idle_falls_silent),
		cmocka_unit_test(test_seq_applied_follows_received),
		cmocka_unit_test(test_seq_prune_after_retention),
		cmocka_unit_test(test_seq_hash_hex_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
