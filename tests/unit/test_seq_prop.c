/*
 * test_seq_prop.c: the sequencing state machine between two simulated
 * sites over a seeded random channel that drops, duplicates, reorders and
 * delays messages.
 *
 * Each seed runs an active phase (both sites make bundles at random) and
 * a quiet phase (no new bundles) long enough for resends to heal every
 * loss.  Properties, checked for every seed:
 *  - each bundle is applied exactly once, in seq order, with the bytes
 *    (hash) its sender made;
 *  - at the end every bundle is acknowledged;
 *  - the last SILENCE steps carry no message at all (idle sites fall
 *    silent: control messages are never acknowledged);
 *  - no connection ever stops without a restore.
 * Restore seeds copy one site's whole state at a random instant and put it
 * back later, as a backup restore would; if the restored site forgot
 * anything its peer knows, one side must stop; if neither stops, the sites
 * must still agree on every bundle and heal.
 */
#include "ferry/common.h"
#include "ferry/seq.h"
#include "testutil.h"

#define MAXB		1024
#define MAXMSG		4096
#define ACTIVE		2000
#define QUIET		2500
#define SILENCE		300
#define RESEND		40
#define INTERVAL	15
#define MAXDELAY	30

struct rng {
	uint64_t s;
};

static uint64_t
rnd(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * UINT64_C(2685821657736338717);
}

static bool
chance(struct rng *r, unsigned pct)
{
	return rnd(r) % 100 < pct;
}

enum { IN_NONE, IN_HELD, IN_RECEIVED };

struct site {
	struct seq_state st;
	struct {
		struct seq_msg	 m;	/* the bytes as sent */
		uint32_t	 sends;
		int64_t		 last;
	} out[MAXB + 1];
	struct {
		int		 state;
		struct seq_msg	 m;
		bool		 quar;
		struct seq_hash	 qhash;
	} in[MAXB + 1];
	int	 applied[MAXB + 1];
};

struct flight {
	int		 to;
	int64_t		 at;
	struct seq_msg	 m;
};

struct world {
	struct rng	 r;
	struct site	 s[2];
	struct flight	 fl[MAXMSG];
	int		 nfl;
	int64_t		 now;
	long		 sent;		/* messages put on the channel */
	int64_t		 last_sent;
	unsigned	 drop, dup;
	bool		 restored;
	bool		 nomake[2];	/* this site makes no bundles now */
};

static void
chan_send(struct world *w, int to, const struct seq_msg *m)
{
	int copies = 1, i;

	w->sent++;
	w->last_sent = w->now;
	if (chance(&w->r, w->drop))
		return;
	if (chance(&w->r, w->dup))
		copies = 2;
	for (i = 0; i < copies && w->nfl < MAXMSG; i++) {
		w->fl[w->nfl].to = to;
		w->fl[w->nfl].at = w->now + (int64_t)(rnd(&w->r) % MAXDELAY);
		w->fl[w->nfl].m = *m;
		w->nfl++;
	}
}

static struct seq_rules R;

static void
receive_bundle(struct site *x, const struct seq_msg *m)
{
	struct seq_ledger l;
	enum seq_verdict v;
	uint64_t n = m->seq;

	assert_true(n + 1 <= MAXB);
	memset(&l, 0, sizeof(l));
	l.have = x->in[n].state != IN_NONE;
	l.hash = x->in[n].m.hash;
	l.seen = (l.have && seq_hash_eq(&l.hash, &m->hash)) ||
	    (x->in[n].quar && seq_hash_eq(&x->in[n].qhash, &m->hash));
	l.have_before = n > 1 && x->in[n - 1].state != IN_NONE;
	l.before = x->in[n - 1].m.hash;
	l.have_after = x->in[n + 1].state != IN_NONE;
	l.after_prev = x->in[n + 1].m.prev;
	v = seq_in_bundle(&x->st, &R, m, &l);
	switch (v) {
	case SEQ_ACCEPT:
	case SEQ_HOLD:
		x->in[n].state = v == SEQ_ACCEPT ? IN_RECEIVED : IN_HELD;
		x->in[n].m = *m;
		break;
	case SEQ_FORK:
	case SEQ_BADCHAIN:
		x->in[n].quar = true;
		x->in[n].qhash = m->hash;
		break;
	default:
		break;
	}
	/* Held bundles that now follow the received ack. */
	while (v == SEQ_ACCEPT && x->st.in_recv < MAXB &&
	    x->in[x->st.in_recv + 1].state == IN_HELD) {
		x->in[x->st.in_recv + 1].state = IN_RECEIVED;
		seq_in_advance(&x->st, &x->in[x->st.in_recv + 1].m.hash);
	}
	if (v == SEQ_ACCEPT || v == SEQ_HOLD || v == SEQ_DUPLICATE)
		seq_on_ack(&x->st, &R, m->ack, m->time);
}

static bool
has_gap(const struct site *x)
{
	uint64_t n;

	for (n = x->st.in_recv + 1; n <= MAXB; n++)
		if (x->in[n].state == IN_HELD)
			return true;
	return false;
}

/* The highest seq held or received, 0 if none (store_in_top()). */
static uint64_t
held_top(const struct site *x)
{
	uint64_t n;

	for (n = MAXB; n > 0; n--)
		if (x->in[n].state != IN_NONE)
			return n;
	return 0;
}

/* One run of site i: receive what arrived, apply, make, send. */
static void
run(struct world *w, int i, bool make)
{
	struct site *x = &w->s[i], *peer = &w->s[1 - i];
	struct seq_msg m;
	uint64_t n;
	int k;

	for (k = 0; k < w->nfl; ) {
		if (w->fl[k].to != i || w->fl[k].at > w->now) {
			k++;
			continue;
		}
		m = w->fl[k].m;
		w->fl[k] = w->fl[--w->nfl];
		if (m.bundle) {
			receive_bundle(x, &m);
		} else {
			seq_on_ack(&x->st, &R, m.ack, m.time);
			seq_on_top(&x->st, &R, m.top);
		}
	}
	while (x->st.stop == SEQ_RUNNING &&
	    x->st.in_applied < x->st.in_recv) {
		n = x->st.in_applied + 1;
		x->applied[n]++;
		if (!w->restored) {
			assert_int_equal(x->applied[n], 1);
			assert_true(seq_hash_eq(&x->in[n].m.hash,
			    &peer->out[n].m.hash));
		}
		seq_in_applied(&x->st, n);
	}
	if (x->st.stop != SEQ_RUNNING)
		return;
	if (make && x->st.out_sent < MAXB - 1) {
		memset(&m, 0, sizeof(m));
		m.bundle = true;
		m.seq = seq_out_next(&x->st);
		m.prev = *seq_out_prev(&x->st);
		for (k = 0; k < SEQ_HASH_LEN; k += 8) {
			uint64_t v = rnd(&w->r);

			memcpy(m.hash.b + k, &v, 8);
		}
		m.ack = x->st.in_recv;
		m.time = w->now;
		x->out[m.seq].m = m;
		x->out[m.seq].sends = 0;
		x->out[m.seq].last = SEQ_NEVER;
		seq_out_made(&x->st, m.seq, &m.hash, w->now);
	}
	for (n = x->st.out_acked + 1; n <= x->st.out_sent; n++) {
		if (!seq_out_due(&x->st, &R, n, x->out[n].sends,
		    x->out[n].last, w->now))
			continue;
		chan_send(w, 1 - i, &x->out[n].m);
		x->out[n].sends++;
		x->out[n].last = w->now;
	}
	if (seq_ack_due(&x->st, &R, w->now, has_gap(x))) {
		seq_ack_msg(&x->st, &R, held_top(x), w->now, &m);
		chan_send(w, 1 - i, &m);
		seq_ack_sent(&x->st, w->now);
	}
}

static void
step(struct world *w, bool active)
{
	int i;

	w->now++;
	for (i = 0; i < 2; i++)
		if (chance(&w->r, 30))
			run(w, i, active && !w->nomake[i] &&
			    chance(&w->r, 25));
}

static long total_steps, total_bundles, total_msgs;

static void
run_seed(uint64_t seed)
{
	struct world *w = xcalloc(1, sizeof(*w));
	int i;
	uint64_t n;

	w->r.s = seed * UINT64_C(0x9E3779B97F4A7C15) + 1;
	w->drop = (unsigned)(rnd(&w->r) % 40);
	w->dup = (unsigned)(rnd(&w->r) % 30);
	for (i = 0; i < 2; i++)
		seq_init(&w->s[i].st);
	for (i = 0; i < ACTIVE; i++)
		step(w, true);
	for (i = 0; i < QUIET; i++)
		step(w, false);
	total_steps += ACTIVE + QUIET;
	total_msgs += w->sent;
	for (i = 0; i < 2; i++) {
		struct site *x = &w->s[i], *peer = &w->s[1 - i];

		if (x->st.stop != SEQ_RUNNING)
			fail_msg("seed %" PRIu64 ": site %d stopped (%s at %"
			    PRIu64 ") without a restore", seed, i,
			    seq_stop_name(x->st.stop), x->st.stop_seq);
		total_bundles += (long)x->st.out_sent;
		/* Every bundle acknowledged, received and applied once. */
		if (x->st.out_acked != x->st.out_sent)
			fail_msg("seed %" PRIu64 ": site %d: %" PRIu64
			    " of %" PRIu64 " acked", seed, i,
			    x->st.out_acked, x->st.out_sent);
		assert_int_equal(peer->st.in_recv, x->st.out_sent);
		assert_int_equal(peer->st.in_applied, x->st.out_sent);
		for (n = 1; n <= x->st.out_sent; n++)
			assert_int_equal(peer->applied[n], 1);
	}
	if (w->now - w->last_sent < SILENCE)
		fail_msg("seed %" PRIu64 ": still talking at step %" PRId64
		    " (last message at %" PRId64 ")", seed, w->now,
		    w->last_sent);
	free(w);
}

static long restores, detected;

static void
run_restore_seed(uint64_t seed)
{
	struct world *w = xcalloc(1, sizeof(*w));
	struct site *backup = xcalloc(1, sizeof(*backup));
	int i, victim, t1, t2;
	bool must = false, stopped, idle;
	uint64_t n;

	w->r.s = seed * UINT64_C(0xD1B54A32D192ED03) + 7;
	w->drop = (unsigned)(rnd(&w->r) % 30);
	w->dup = (unsigned)(rnd(&w->r) % 30);
	victim = (int)(rnd(&w->r) % 2);
	t1 = 1 + (int)(rnd(&w->r) % (ACTIVE / 2));
	t2 = t1 + (int)(rnd(&w->r) % (ACTIVE / 2));
	/*
	 * Half the seeds: the victim only receives between backup and
	 * restore, so what it forgets is what it acknowledged.
	 */
	idle = chance(&w->r, 50);
	for (i = 0; i < 2; i++)
		seq_init(&w->s[i].st);
	for (i = 0; i < ACTIVE * 2; i++) {
		if (i == t1) {
			*backup = w->s[victim];
			w->nomake[victim] = idle;
		}
		if (i == t2 && t2 > t1) {
			struct site *peer = &w->s[1 - victim];

			w->s[victim] = *backup;
			w->restored = true;
			w->nomake[victim] = false;
			restores++;
			/* Did the victim forget anything the peer knows? */
			must = peer->st.in_recv > backup->st.out_sent ||
			    peer->st.out_acked > backup->st.in_recv;
		}
		step(w, true);
	}
	for (i = 0; i < QUIET; i++)
		step(w, false);
	stopped = w->s[0].st.stop != SEQ_RUNNING ||
	    w->s[1].st.stop != SEQ_RUNNING;
	if (stopped)
		detected++;
	if (must && !stopped)
		fail_msg("restore seed %" PRIu64 ": site %d restored from step "
		    "%d at step %d, not detected", seed, victim, t1, t2);
	if (!stopped) {
		/* Undetected: then nothing was lost and all agree. */
		for (i = 0; i < 2; i++) {
			struct site *x = &w->s[i], *peer = &w->s[1 - i];

			assert_int_equal(x->st.out_acked, x->st.out_sent);
			assert_int_equal(peer->st.in_recv, x->st.out_sent);
			for (n = 1; n <= x->st.out_sent; n++)
				assert_true(seq_hash_eq(&peer->in[n].m.hash,
				    &x->out[n].m.hash));
		}
	}
	free(backup);
	free(w);
}

static int
nseeds(void)
{
	const char *e = getenv("FERRY_SEQ_SEEDS");

	if (e != NULL && *e != '\0')
		return (int)strtol(e, NULL, 10);
	return getenv("FERRY_UNDER_VALGRIND") != NULL ? 8 : 200;
}

static void
test_seq_random_channel_delivers_exactly_once_and_falls_silent(void **state)
{
	int seed, n = nseeds();

	(void)state;
	seq_rules_default(&R);
	R.resend_after = RESEND;
	R.ack_interval = INTERVAL;
	for (seed = 1; seed <= n; seed++)
		run_seed((uint64_t)seed);
	fprintf(stderr, "seq property: %d seeds, %ld steps, %ld bundles, "
	    "%ld messages\n", n, total_steps, total_bundles, total_msgs);
}

static void
test_seq_restore_of_either_side_is_detected(void **state)
{
	int seed, n = nseeds();

	(void)state;
	seq_rules_default(&R);
	R.resend_after = RESEND;
	R.ack_interval = INTERVAL;
	for (seed = 1; seed <= n; seed++)
		run_restore_seed((uint64_t)seed);
	fprintf(stderr, "seq restore: %ld restores, %ld detected\n",
	    restores, detected);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
	    test_seq_random_channel_delivers_exactly_once_and_falls_silent),
		cmocka_unit_test(test_seq_restore_of_either_side_is_detected),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
