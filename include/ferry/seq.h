/*
 * seq.h: the sequencing state machine of one connection.
 *
 * Pure: no SQLite, no files, no clock.  The caller (the channel in
 * transport.c, the property test, the model driver tests/tools/seqdrive.c)
 * looks up what the store knows, passes it in, and persists struct
 * seq_state in the same transaction as the rows the step implies.  The
 * rules are those of "Sequencing and delivery" in DESIGN.md as corrected
 * by the two-site model (tests/model/seqmodel.py, docs/model.md), which
 * this module must agree with step by step; docs/state.md says how.
 *
 * Both directions of one connection live in one struct seq_state:
 *
 *	out_*	the bundles this site makes; seqs 1, 2, 3 ... never skipped or
 *		reused: seq_out_next() names the next one, but it exists only
 *		once seq_out_made() is persisted, after its file is durable.
 *	in_*	the bundles the peer makes: in_recv is the received ack (every
 *		seq up to it held durably and verified), in_applied <= in_recv
 *		is for status only.
 *
 * Every message carries the sender's received ack and its creation time.
 * Acks only go forward; an ack above anything this site sent, or a newer
 * message carrying a lower ack than an older one did, means a side was
 * restored from backup: the connection stops, as it does on a fork (the
 * same seq with another hash, or a bundle that does not chain to its
 * neighbours).  An ack control message also carries its sender's top, the
 * highest seq it holds from us: one above anything we made means we were
 * restored after sending it (finding F6 of the model).
 */
#ifndef FERRY_SEQ_H
#define FERRY_SEQ_H

#include <stdbool.h>
#include <stdint.h>

#define SEQ_HASH_LEN	32

/* SHA-256 of a bundle; all zero stands for "no bundle" (before seq 1). */
struct seq_hash {
	uint8_t	 b[SEQ_HASH_LEN];
};

/* Why a connection stopped; stored, so never renumber. */
enum seq_stop {
	SEQ_RUNNING = 0,
	SEQ_STOP_FORK = 1,	/* same seq, another hash; or a broken chain */
	SEQ_STOP_RESTORE = 2,	/* an ack or top ahead of what we sent, or
				   an ack behind */
};

#define SEQ_NEVER	INT64_MIN	/* a time that has not happened */

/* Timing and the rule switches of the model (all on in ferry). */
struct seq_rules {
	int64_t	 resend_after;		/* seconds; a day by default */
	int64_t	 ack_interval;		/* seconds; an hour by default */
	bool	 reack_duplicates;	/* a duplicate makes the ack owed */
	bool	 gap_ack;		/* a site holding a gap repeats its
					   ack once per interval */
	bool	 ack_behind;		/* a newer lower ack is a restore */
	bool	 ack_top;		/* control acks carry the highest
					   seq held; one above anything
					   sent is a restore */
};

void seq_rules_default(struct seq_rules *r);

struct seq_state {
	uint64_t	 out_sent;	/* highest seq made (file durable) */
	struct seq_hash	 out_hash;	/* its hash: the next one's prev */
	uint64_t	 out_acked;	/* the peer's received ack */
	int64_t		 out_ack_time;	/* newest message time that carried
					   out_acked; SEQ_NEVER */
	uint64_t	 in_recv;	/* our received ack */
	struct seq_hash	 in_hash;	/* hash of bundle in_recv */
	uint64_t	 in_applied;
	bool		 ack_owed;	/* the peer must hear in_recv */
	uint64_t	 ack_told;	/* the last ack we sent (status) */
	int64_t		 told_at;	/* when the peer last heard our ack */
	int64_t		 ctl_at;	/* last ack control message */
	enum seq_stop	 stop;
	uint64_t	 stop_seq;	/* the seq or ack that showed it */
};

/* What the sequencing layer reads from a message of the peer. */
struct seq_msg {
	bool		 bundle;	/* false: an ack control message */
	uint64_t	 seq;		/* bundle only */
	struct seq_hash	 hash;		/* bundle only */
	struct seq_hash	 prev;		/* bundle only: previous one's hash */
	uint64_t	 ack;		/* the sender's received ack */
	int64_t		 time;		/* when the sender made it */
	uint64_t	 top;		/* control only: the highest seq the
					   sender holds from us (received or
					   held), or ack if none; 0 if the
					   message does not say */
};

/*
 * What the store holds around a bundle's seq, for seq_in_bundle().  A
 * live record is one held, received or applied (not quarantined).
 */
struct seq_ledger {
	bool		 have;		/* a live record of seq */
	struct seq_hash	 hash;		/*  its hash */
	bool		 seen;		/* a record of exactly this seq and
					   hash, in any state */
	bool		 have_before;	/* a live record of seq - 1 */
	struct seq_hash	 before;	/*  its hash */
	bool		 have_after;	/* a live record of seq + 1 */
	struct seq_hash	 after_prev;	/*  the prev hash it names */
};

enum seq_verdict {
	SEQ_ACCEPT,	/* record it; seq == in_recv now: then call
			   seq_in_advance() while in_recv + 1 is held */
	SEQ_HOLD,	/* after a gap: record it as held, keep the file */
	SEQ_DUPLICATE,	/* seen with this hash: drop the copy */
	SEQ_FORK,	/* seen with another hash: stopped */
	SEQ_BADCHAIN,	/* does not chain to a neighbour: stopped */
	SEQ_STOPPED,	/* the connection is stopped: do nothing */
};

enum seq_ack {
	SEQ_ACK_STALE,		/* not above out_acked: ignored */
	SEQ_ACK_ADVANCED,	/* out_acked moved forward */
	SEQ_ACK_AHEAD,		/* above anything sent: stopped */
	SEQ_ACK_BEHIND,		/* newer and lower: stopped */
	SEQ_ACK_TOP_AHEAD,	/* seq_on_top(): the peer holds a seq
				   above anything sent: stopped */
};

/* A fresh connection: nothing sent, nothing received. */
void seq_init(struct seq_state *st);

/* The seq the next bundle must carry, and the prev hash it must name. */
uint64_t seq_out_next(const struct seq_state *st);
const struct seq_hash *seq_out_prev(const struct seq_state *st);

/*
 * Bundle seq (== seq_out_next()) with hash h, made at now, is durable in
 * the local outbox and carries st->in_recv as its ack: it exists now.
 */
void seq_out_made(struct seq_state *st, uint64_t seq,
    const struct seq_hash *h, int64_t now);

/*
 * Should outgoing bundle seq, sent sends times, last at last_send, go out
 * now?  Unacked and never sent, or unacked for resend_after.
 */
bool seq_out_due(const struct seq_state *st, const struct seq_rules *r,
    uint64_t seq, uint32_t sends, int64_t last_send, int64_t now);

/*
 * The ack of a message from the peer, made at time: a control message,
 * or a bundle whose verdict was SEQ_ACCEPT, SEQ_HOLD or SEQ_DUPLICATE.
 */
enum seq_ack seq_on_ack(struct seq_state *st, const struct seq_rules *r,
    uint64_t ack, int64_t time);

/*
 * The top of an ack control message, after seq_on_ack() took its ack: with
 * ack_top, a top above anything this site made means the peer holds a
 * bundle this site has no record of making: this site was restored from a
 * backup taken after the peer received it (stopped, SEQ_ACK_TOP_AHEAD).
 * Else SEQ_ACK_STALE: nothing changes.
 */
enum seq_ack seq_on_top(struct seq_state *st, const struct seq_rules *r,
    uint64_t top);

/* The verdict on bundle m, given what the store holds around it. */
enum seq_verdict seq_in_bundle(struct seq_state *st,
    const struct seq_rules *r, const struct seq_msg *m,
    const struct seq_ledger *l);

/* Bundle in_recv + 1 is recorded (held): the received ack moves to it. */
void seq_in_advance(struct seq_state *st, const struct seq_hash *h);

/* Every operation of bundle seq (== in_applied + 1 <= in_recv) is done. */
void seq_in_applied(struct seq_state *st, uint64_t seq);

/*
 * Should an ack control message go out now?  When the ack is owed (it
 * advanced, or a duplicate showed the peer missed it) or, with gap_ack,
 * a gap is held and the peer has not heard our ack for an interval; and
 * no control message went out in the last interval.
 */
bool seq_ack_due(const struct seq_state *st, const struct seq_rules *r,
    int64_t now, bool gap);
/* An ack control message carrying st->in_recv went out at now. */
void seq_ack_sent(struct seq_state *st, int64_t now);
/*
 * The control message this site sends now.  held_top is the highest seq
 * of a live (not quarantined) record in the ledger, 0 if none; with
 * ack_top it is the message's top (st->in_recv when nothing is held),
 * else the top is st->in_recv, which tells the peer nothing its ack
 * does not.
 */
void seq_ack_msg(const struct seq_state *st, const struct seq_rules *r,
    uint64_t held_top, int64_t now, struct seq_msg *m);

/* Is a file acked/applied at done, retention ago, to be pruned? */
bool seq_prune_due(int64_t done, int64_t now, int64_t retention);

/* Stop the connection (a rule above, or an administrator). */
void seq_stop(struct seq_state *st, enum seq_stop why, uint64_t at);

/* Names for logs and traces: "accept", "fork", "restore" ... */
const char *seq_verdict_name(enum seq_verdict v);
const char *seq_stop_name(enum seq_stop s);

bool seq_hash_eq(const struct seq_hash *a, const struct seq_hash *b);
bool seq_hash_zero(const struct seq_hash *h);
/* 64 lower-case hex digits and a NUL into out[65]. */
void seq_hash_hex(const struct seq_hash *h, char out[2 * SEQ_HASH_LEN + 1]);
/* Parse 64 hex digits; false if s is not that. */
bool seq_hash_parse(struct seq_hash *h, const char *s);

#endif
