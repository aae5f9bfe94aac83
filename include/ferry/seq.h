/*
 * seq.h: the sequencing state machine of one connection.
 *
 * Pure: no SQLite, no files, no clock.  The caller (the run, the property
 * test, the model driver tests/tools/seqdrive.c) looks up what the store
 * knows, passes it in, and persists struct seq_state after each step in
 * the same transaction as the rows the step implies.  docs/state.md is
 * the reference; the rules are those of "Sequencing and delivery" in
 * DESIGN.md plus one addition, the echo (below).
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
 * Every message from the peer carries its received ack ("ack") and its
 * own out_acked ("echo": how far it knows we have received).  An ack
 * above anything we sent means this site lost bundles it had made; an
 * echo above our received ack means this site lost bundles it had
 * acknowledged: both are a restore from backup, and stop the connection
 * like a fork.  A stale ack (reordered) is ignored: acks only go forward.
 */
#ifndef FERRY_SEQ_H
#define FERRY_SEQ_H

#include <stdbool.h>
#include <stdint.h>

#define SEQ_HASH_LEN	32

/* SHA-256 of a bundle file; all zero stands for "no bundle" (seq 0). */
struct seq_hash {
	uint8_t	 b[SEQ_HASH_LEN];
};

/* Why a connection stopped; stored, so never renumber. */
enum seq_stop {
	SEQ_RUNNING = 0,
	SEQ_STOP_FORK = 1,	/* same seq, different hash */
	SEQ_STOP_RESTORE = 2,	/* ack above sent, echo above received,
				   or carried ack went backwards */
};

#define SEQ_NEVER	INT64_MIN	/* a time that has not happened */

struct seq_state {
	uint64_t	 out_sent;	/* highest seq made (file durable) */
	struct seq_hash	 out_hash;	/* its hash: the next one's prev */
	uint64_t	 out_acked;	/* the peer's received ack */
	uint64_t	 in_recv;	/* our received ack */
	struct seq_hash	 in_hash;	/* hash of bundle in_recv */
	uint64_t	 in_applied;
	uint64_t	 in_carried;	/* ack carried by bundle in_recv */
	uint64_t	 ack_told;	/* highest received ack sent out */
	int64_t		 ack_at;	/* last ack control message */
	enum seq_stop	 stop;
	uint64_t	 stop_seq;	/* the seq or ack that showed it */
};

/* What the sequencing layer reads from a message of the peer. */
struct seq_msg {
	bool		 bundle;	/* false: an ack control message */
	uint64_t	 seq;		/* bundle only */
	struct seq_hash	 hash;		/* bundle only: SHA-256 of the file */
	struct seq_hash	 prev;		/* bundle only: previous one's hash */
	uint64_t	 ack;		/* the peer's received ack */
	uint64_t	 echo;		/* the peer's out_acked */
};

enum seq_verdict {
	SEQ_ACCEPT,	/* record as received; received ack moved to seq */
	SEQ_HOLD,	/* after a gap: keep in the inbox, record as held */
	SEQ_DUPLICATE,	/* seen with this hash: drop the copy */
	SEQ_FORK,	/* seen with another hash: connection stopped */
	SEQ_BADCHAIN,	/* prev does not match: quarantine, ack stays */
	SEQ_RESTORE,	/* its carried ack went backwards: stopped */
	SEQ_STOPPED,	/* the connection is stopped: do nothing */
};

enum seq_ack {
	SEQ_ACK_STALE,		/* not above out_acked: ignored */
	SEQ_ACK_ADVANCED,	/* out_acked moved forward */
	SEQ_ACK_RESTORE,	/* a restore was detected: stopped */
};

/* A fresh connection: nothing sent, nothing received. */
void seq_init(struct seq_state *st);

/* The seq the next bundle must carry, and the prev hash it must carry. */
uint64_t seq_out_next(const struct seq_state *st);
const struct seq_hash *seq_out_prev(const struct seq_state *st);

/*
 * Bundle seq (== seq_out_next()) with hash h is durable in the local
 * outbox and carries ack (normally st->in_recv): it exists now.
 */
void seq_out_made(struct seq_state *st, uint64_t seq,
    const struct seq_hash *h, uint64_t ack);

/*
 * Should outgoing bundle seq, sent sends times, last at last_send, go out
 * now?  Unacked and never sent, or unacked for resend_after seconds.
 */
bool seq_out_due(const struct seq_state *st, uint64_t seq, uint32_t sends,
    int64_t last_send, int64_t now, int64_t resend_after);

/*
 * The ack and echo of a message from the peer (a bundle of any verdict
 * but SEQ_STOPPED, or a control message).  Call after seq_in_bundle().
 */
enum seq_ack seq_on_ack(struct seq_state *st, uint64_t ack, uint64_t echo);

/*
 * The verdict on bundle m.  known: the hash of the record the store holds
 * for m->seq in state held, received or applied (NULL if none); seen: the
 * store holds a record of exactly this seq and hash, in any state
 * (quarantined included).  Updates st for SEQ_ACCEPT, SEQ_FORK,
 * SEQ_RESTORE and SEQ_DUPLICATE (a duplicate of a received seq means the
 * peer missed our ack: it is sent again, see seq_ack_due).
 */
enum seq_verdict seq_in_bundle(struct seq_state *st, const struct seq_msg *m,
    const struct seq_hash *known, bool seen);

/*
 * A held bundle whose seq is now in_recv + 1: SEQ_ACCEPT, SEQ_BADCHAIN,
 * SEQ_RESTORE or SEQ_STOPPED.
 */
enum seq_verdict seq_in_promote(struct seq_state *st, const struct seq_msg *m);

/* Every operation of bundle seq (== in_applied + 1 <= in_recv) is done. */
void seq_in_applied(struct seq_state *st, uint64_t seq);

/*
 * Should an ack control message go out now?  Only when the received ack
 * advanced past what we told, no new bundle goes out in this run (it
 * carries the ack), and none went out in the last interval seconds.
 */
bool seq_ack_due(const struct seq_state *st, int64_t now, int64_t interval,
    bool new_bundle);
/* An ack control message carrying st->in_recv went out at now. */
void seq_ack_sent(struct seq_state *st, int64_t now);
/* The message this site sends: ack = in_recv, echo = out_acked. */
void seq_ack_msg(const struct seq_state *st, struct seq_msg *m);

/* Is a file acked/applied at done older than retention to be pruned? */
bool seq_prune_due(int64_t done, int64_t now, int64_t retention);

/* Stop the connection (administrator, or a rule above). */
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
