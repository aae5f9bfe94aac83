/* seq.c: the sequencing state machine (see seq.h and docs/state.md). */
#include "ferry/common.h"
#include "ferry/seq.h"

void
seq_init(struct seq_state *st)
{
	memset(st, 0, sizeof(*st));
	st->ack_at = SEQ_NEVER;
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
    uint64_t ack)
{
	assert(seq == st->out_sent + 1);
	st->out_sent = seq;
	st->out_hash = *h;
	/* The bundle carries the ack; resends will deliver it. */
	if (ack > st->ack_told)
		st->ack_told = ack;
}

bool
seq_out_due(const struct seq_state *st, uint64_t seq, uint32_t sends,
    int64_t last_send, int64_t now, int64_t resend_after)
{
	if (st->stop != SEQ_RUNNING || seq <= st->out_acked ||
	    seq > st->out_sent)
		return false;
	if (sends == 0 || last_send == SEQ_NEVER)
		return true;
	return now - last_send >= resend_after;
}

enum seq_ack
seq_on_ack(struct seq_state *st, uint64_t ack, uint64_t echo)
{
	if (st->stop != SEQ_RUNNING)
		return SEQ_ACK_STALE;
	/* The peer holds bundles this site has no memory of making. */
	if (ack > st->out_sent) {
		seq_stop(st, SEQ_STOP_RESTORE, ack);
		return SEQ_ACK_RESTORE;
	}
	/* The peer heard us acknowledge bundles we no longer hold. */
	if (echo > st->in_recv) {
		seq_stop(st, SEQ_STOP_RESTORE, echo);
		return SEQ_ACK_RESTORE;
	}
	if (ack <= st->out_acked)
		return SEQ_ACK_STALE;
	st->out_acked = ack;
	return SEQ_ACK_ADVANCED;
}

/* m->seq == in_recv + 1 and not seen: check the chain, then accept. */
static enum seq_verdict
accept_next(struct seq_state *st, const struct seq_msg *m)
{
	assert(m->seq == st->in_recv + 1);
	if (!seq_hash_eq(&m->prev, &st->in_hash))
		return SEQ_BADCHAIN;
	/*
	 * Bundles are accepted in seq order and the peer's received ack
	 * never goes back, so the ack each carries never goes back either,
	 * unless the peer was restored from backup.
	 */
	if (st->in_recv > 0 && m->ack < st->in_carried) {
		seq_stop(st, SEQ_STOP_RESTORE, m->seq);
		return SEQ_RESTORE;
	}
	st->in_recv = m->seq;
	st->in_hash = m->hash;
	st->in_carried = m->ack;
	return SEQ_ACCEPT;
}

enum seq_verdict
seq_in_bundle(struct seq_state *st, const struct seq_msg *m,
    const struct seq_hash *known, bool seen)
{
	assert(m->bundle && m->seq > 0);
	if (st->stop != SEQ_RUNNING)
		return SEQ_STOPPED;
	if (seen) {
		/*
		 * The peer sent a received bundle again: it has not heard
		 * our ack.  Make the ack due again (still rate limited).
		 */
		if (m->seq <= st->in_recv && st->ack_told >= m->seq)
			st->ack_told = m->seq - 1;
		return SEQ_DUPLICATE;
	}
	/*
	 * Below the received ack the ledger holds every seq; no record is
	 * as bad as a different one: nothing proves this bundle is ours.
	 */
	if ((known != NULL && !seq_hash_eq(known, &m->hash)) ||
	    (known == NULL && m->seq <= st->in_recv)) {
		seq_stop(st, SEQ_STOP_FORK, m->seq);
		return SEQ_FORK;
	}
	if (m->seq > st->in_recv + 1)
		return SEQ_HOLD;
	return accept_next(st, m);
}

enum seq_verdict
seq_in_promote(struct seq_state *st, const struct seq_msg *m)
{
	if (st->stop != SEQ_RUNNING)
		return SEQ_STOPPED;
	return accept_next(st, m);
}

void
seq_in_applied(struct seq_state *st, uint64_t seq)
{
	assert(seq == st->in_applied + 1 && seq <= st->in_recv);
	st->in_applied = seq;
}

bool
seq_ack_due(const struct seq_state *st, int64_t now, int64_t interval,
    bool new_bundle)
{
	if (st->stop != SEQ_RUNNING || new_bundle ||
	    st->in_recv <= st->ack_told)
		return false;
	return st->ack_at == SEQ_NEVER || now - st->ack_at >= interval;
}

void
seq_ack_sent(struct seq_state *st, int64_t now)
{
	st->ack_told = st->in_recv;
	st->ack_at = now;
}

void
seq_ack_msg(const struct seq_state *st, struct seq_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->bundle = false;
	m->ack = st->in_recv;
	m->echo = st->out_acked;
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
		"accept", "hold", "duplicate", "fork", "badchain", "restore",
		"stopped",
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
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < SEQ_HASH_LEN; i++) {
		out[2 * i] = hex[h->b[i] >> 4];
		out[2 * i + 1] = hex[h->b[i] & 15];
	}
	out[2 * SEQ_HASH_LEN] = '\0';
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool
seq_hash_parse(struct seq_hash *h, const char *s)
{
	size_t i;
	int hi, lo;

	for (i = 0; i < SEQ_HASH_LEN; i++) {
		if ((hi = hexval((unsigned char)s[2 * i])) < 0 ||
		    (lo = hexval((unsigned char)s[2 * i + 1])) < 0)
			return false;
		h->b[i] = (uint8_t)(hi << 4 | lo);
	}
	return s[2 * SEQ_HASH_LEN] == '\0';
}
