/* seq.c: the sequencing state machine (see seq.h and docs/state.md). */
#include "ferry/common.h"
#include "ferry/hex.h"
#include "ferry/seq.h"

void
seq_rules_default(struct seq_rules *r)
{
	r->resend_after = 86400;
	r->ack_interval = 3600;
	r->reack_duplicates = true;
	r->gap_ack = true;
	r->ack_behind = true;
	r->ack_top = true;
}

void
seq_init(struct seq_state *st)
{
	memset(st, 0, sizeof(*st));
	st->out_ack_time = SEQ_NEVER;
	st->told_at = SEQ_NEVER;
	st->ctl_at = SEQ_NEVER;
	st->stop = SEQ_RUNNING;
}

uint64_t
seq_out_next(const struct seq_state *st)
{
	return st->out_sent + 1;
}

const struct seq_hash *
seq_out_prev(const struct seq_state *st)
{
	return &st->out_hash;
}

void
seq_out_made(struct seq_state *st, uint64_t seq, const struct seq_hash *h,
    int64_t now)
{
	assert(seq == st->out_sent + 1);
	st->out_sent = seq;
	st->out_hash = *h;
	/* The ack rides on the bundle; resends deliver it if it is lost. */
	st->ack_owed = false;
	st->ack_told = st->in_recv;
	st->told_at = now;
}

bool
seq_out_due(const struct seq_state *st, const struct seq_rules *r,
    uint64_t seq, uint32_t sends, int64_t last_send, int64_t now)
{
	if (st->stop != SEQ_RUNNING || seq <= st->out_acked ||
	    seq > st->out_sent)
		return false;
	if (sends == 0 || last_send == SEQ_NEVER)
		return true;
	return now - last_send >= r->resend_after;
}

enum seq_ack
seq_on_ack(struct seq_state *st, const struct seq_rules *r, uint64_t ack,
    int64_t time)
{
	if (st->stop != SEQ_RUNNING)
		return SEQ_ACK_STALE;
	/* The peer holds bundles this site has no memory of making. */
	if (ack > st->out_sent) {
		seq_stop(st, SEQ_STOP_RESTORE, ack);
		return SEQ_ACK_AHEAD;
	}
	if (ack > st->out_acked) {
		st->out_acked = ack;
		if (time > st->out_ack_time)
			st->out_ack_time = time;
		return SEQ_ACK_ADVANCED;
	}
	/*
	 * The peer's received ack never goes back, so a message it made
	 * later than one that carried a higher ack means it forgot what it
	 * had received: it was restored from backup.
	 */
	if (ack < st->out_acked && time > st->out_ack_time && r->ack_behind) {
		seq_stop(st, SEQ_STOP_RESTORE, ack);
		return SEQ_ACK_BEHIND;
	}
	if (ack == st->out_acked && time > st->out_ack_time)
		st->out_ack_time = time;
	return SEQ_ACK_STALE;
}

enum seq_ack
seq_on_top(struct seq_state *st, const struct seq_rules *r, uint64_t top)
{
	if (st->stop != SEQ_RUNNING || !r->ack_top)
		return SEQ_ACK_STALE;
	/*
	 * The peer holds a bundle above anything we made.  Its ack shows
	 * that only once every seq below it arrived; when some were lost,
	 * the bundle waits behind a gap that nothing this site sends will
	 * fill, and only the top tells (finding F6 of the model).
	 */
	if (top > st->out_sent) {
		seq_stop(st, SEQ_STOP_RESTORE, top);
		return SEQ_ACK_TOP_AHEAD;
	}
	return SEQ_ACK_STALE;
}

enum seq_verdict
seq_in_bundle(struct seq_state *st, const struct seq_rules *r,
    const struct seq_msg *m, const struct seq_ledger *l)
{
	static const struct seq_hash genesis;
	const struct seq_hash *before;

	assert(m->bundle && m->seq > 0);
	if (st->stop != SEQ_RUNNING)
		return SEQ_STOPPED;
	if ((l->have && seq_hash_eq(&l->hash, &m->hash)) ||
	    (!l->have && l->seen)) {
		/*
		 * The peer sent a bundle we hold again: it has not heard
		 * our ack.  Owe it again (still once per interval).
		 */
		if (r->reack_duplicates)
			st->ack_owed = true;
		return SEQ_DUPLICATE;
	}
	/*
	 * Below the received ack the ledger holds every seq; no record is
	 * as bad as a different one: nothing proves this bundle is ours.
	 */
	if (l->have || m->seq <= st->in_recv) {
		seq_stop(st, SEQ_STOP_FORK, m->seq);
		return SEQ_FORK;
	}
	/* Each bundle names its predecessor: check both neighbours held. */
	before = m->seq == 1 ? &genesis : l->have_before ? &l->before : NULL;
	if ((before != NULL && !seq_hash_eq(before, &m->prev)) ||
	    (l->have_after && !seq_hash_eq(&l->after_prev, &m->hash))) {
		seq_stop(st, SEQ_STOP_FORK, m->seq);
		return SEQ_BADCHAIN;
	}
	if (m->seq > st->in_recv + 1)
		return SEQ_HOLD;
	seq_in_advance(st, &m->hash);
	return SEQ_ACCEPT;
}

void
seq_in_advance(struct seq_state *st, const struct seq_hash *h)
{
	st->in_recv++;
	st->in_hash = *h;
	st->ack_owed = true;
}

void
seq_in_applied(struct seq_state *st, uint64_t seq)
{
	assert(seq == st->in_applied + 1 && seq <= st->in_recv);
	st->in_applied = seq;
}

bool
seq_ack_due(const struct seq_state *st, const struct seq_rules *r,
    int64_t now, bool gap)
{
	bool gap_due;

	if (st->stop != SEQ_RUNNING)
		return false;
	/* Holding a gap: our ack tells the peer what to resend. */
	gap_due = r->gap_ack && gap && (st->told_at == SEQ_NEVER ||
	    now - st->told_at >= r->ack_interval);
	if (!st->ack_owed && !gap_due)
		return false;
	return st->ctl_at == SEQ_NEVER || now - st->ctl_at >= r->ack_interval;
}

void
seq_ack_sent(struct seq_state *st, int64_t now)
{
	st->ack_owed = false;
	st->ack_told = st->in_recv;
	st->ctl_at = now;
	st->told_at = now;
}

void
seq_ack_msg(const struct seq_state *st, const struct seq_rules *r,
    uint64_t held_top, int64_t now, struct seq_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->bundle = false;
	m->ack = st->in_recv;
	m->time = now;
	/* Every seq up to in_recv is held: the top is never below it. */
	m->top = r->ack_top && held_top > st->in_recv ? held_top :
	    st->in_recv;
}

bool
seq_prune_due(int64_t done, int64_t now, int64_t retention)
{
	return done != SEQ_NEVER && now - done >= retention;
}

void
seq_stop(struct seq_state *st, enum seq_stop why, uint64_t at)
{
	if (st->stop != SEQ_RUNNING)
		return;
	st->stop = why;
	st->stop_seq = at;
}

const char *
seq_verdict_name(enum seq_verdict v)
{
	static const char *const names[] = {
		"accept", "hold", "duplicate", "fork", "badchain", "stopped",
	};

	return (size_t)v < FERRY_ARRAY_SIZE(names) ? names[v] : "?";
}

const char *
seq_stop_name(enum seq_stop s)
{
	switch (s) {
	case SEQ_RUNNING:
		return "running";
	case SEQ_STOP_FORK:
		return "fork";
	case SEQ_STOP_RESTORE:
		return "restore";
	}
	return "?";
}

bool
seq_hash_eq(const struct seq_hash *a, const struct seq_hash *b)
{
	return memcmp(a->b, b->b, SEQ_HASH_LEN) == 0;
}

bool
seq_hash_zero(const struct seq_hash *h)
{
	static const struct seq_hash zero;

	return seq_hash_eq(h, &zero);
}

void
seq_hash_hex(const struct seq_hash *h, char out[2 * SEQ_HASH_LEN + 1])
{
	hex_encode(h->b, SEQ_HASH_LEN, out);
}

bool
seq_hash_parse(struct seq_hash *h, const char *s)
{
	return hex_decode(s, h->b, SEQ_HASH_LEN);
}
