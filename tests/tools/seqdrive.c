/*
 * seqdrive: run sequencing scenarios of the two-site model (docs/model.md,
 * "Scenario format"; the events of tests/model/scenario.py SEQ_EVENTS)
 * through the C state machine (seq.h) and print the same trace as
 * tests/model/seqmodel.py, line for line, so that a test can diff them
 * (tests/e2e/test_channel_model.py).
 *
 *	seqdrive [--settle] SCENARIO_FILE...
 *
 * With several files each trace is preceded by "== FILE".  The world
 * around the state machine (a channel with per-link queues, each site's
 * ledger of held bundles and its unacknowledged bundles, backups) mirrors
 * SeqWorld of seqmodel.py; every decision is seq.c's.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/seq.h"

#define MAXSEQ		1024
#define MAXQ		4096
#define MAXBACKUP	16
#define LINE_MAX_LEN	4096

struct msg {
	bool		 bundle;
	int		 src, dst;	/* 0 = A, 1 = B */
	uint64_t	 seq;
	struct seq_hash	 hash, prev;
	uint64_t	 ack;
	int64_t		 time;
	uint64_t	 top;		/* control acks */
};

struct endpoint {
	struct seq_state st;
	struct {
		bool		 have;
		struct seq_hash	 hash, prev;
	} held[MAXSEQ + 2];
	struct {
		struct msg	 m;
		int64_t		 at;	/* last (re)send */
	} sent[MAXSEQ + 1];
};

struct queue {
	struct msg	*v;
	size_t		 n;
};

struct world {
	struct seq_rules r;
	struct endpoint	*ep[2];
	struct queue	 flight[2];	/* 0: A->B, 1: B->A */
	struct queue	 spool[2];	/* delivered to site i, not imported */
	long		 sent_count;
	int64_t		 now;
	struct {
		char		 name[64];
		int		 site;
		struct endpoint	*ep;
	} backups[MAXBACKUP];
	size_t		 nbackups;
	struct buf	*out;
};

static const char SITE[2] = { 'A', 'B' };

static void
q_insert(struct queue *q, size_t i, const struct msg *m)
{
	assert(q->n < MAXQ && i <= q->n);
	memmove(&q->v[i + 1], &q->v[i], (q->n - i) * sizeof(*m));
	q->v[i] = *m;
	q->n++;
}

static struct msg
q_remove(struct queue *q, size_t i)
{
	struct msg m = q->v[i];

	memmove(&q->v[i], &q->v[i + 1], (q->n - i - 1) * sizeof(m));
	q->n--;
	return m;
}

static void
line(struct world *w, const char *fmt, ...) FERRY_PRINTF(2, 3);

static void
line(struct world *w, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vaddf(w->out, fmt, ap);
	va_end(ap);
	buf_addch(w->out, '\n');
}

/* Equal inputs, equal hashes: all the model's hash is used for. */
static void
msg_hash(struct msg *m, const char *body)
{
	char hex[2 * SEQ_HASH_LEN + 1];
	struct buf b = BUF_INIT(0);
	uint64_t v[4] = { 1469598103934665603u, 7, 11, 13 };
	size_t i, k;

	seq_hash_hex(&m->prev, hex);
	buf_addf(&b, "%c>%c|%" PRIu64 "|%s|%" PRIu64 "|%" PRId64 "|%s",
	    SITE[m->src], SITE[m->dst], m->seq, hex, m->ack, m->time, body);
	for (i = 0; i < b.len; i++)
		for (k = 0; k < 4; k++) {
			v[k] ^= (uint8_t)b.data[i] + k;
			v[k] *= UINT64_C(0x100000001b3);
		}
	for (k = 0; k < 4; k++) {
		v[k] ^= v[k] >> 33;
		memcpy(m->hash.b + 8 * k, &v[k], 8);
	}
	buf_release(&b);
}

static void
chan_send(struct world *w, const struct msg *m)
{
	struct queue *q = &w->flight[m->src];

	q_insert(q, q->n, m);
	w->sent_count++;
}

static void
take_ack(struct world *w, int site, uint64_t ack, int64_t time)
{
	struct endpoint *ep = w->ep[site];

	switch (seq_on_ack(&ep->st, &w->r, ack, time)) {
	case SEQ_ACK_AHEAD:
		line(w, "%c ack %" PRIu64 " ahead-of-sent restore-detected",
		    SITE[site], ack);
		break;
	case SEQ_ACK_ADVANCED:
		line(w, "%c ack %" PRIu64, SITE[site], ack);
		break;
	case SEQ_ACK_BEHIND:
		line(w, "%c ack %" PRIu64 " behind restore-detected",
		    SITE[site], ack);
		break;
	case SEQ_ACK_TOP_AHEAD:
	case SEQ_ACK_STALE:
		break;
	}
}

/* A control ack: its ack, then its top (seqmodel.receive()). */
static void
take_ctl(struct world *w, int site, const struct msg *m)
{
	struct endpoint *ep = w->ep[site];

	take_ack(w, site, m->ack, m->time);
	if (seq_on_top(&ep->st, &w->r, m->top) == SEQ_ACK_TOP_AHEAD)
		line(w, "%c held %" PRIu64 " ahead-of-sent restore-detected",
		    SITE[site], m->top);
}

static void
receive(struct world *w, int site, const struct msg *m)
{
	struct endpoint *ep = w->ep[site];
	struct seq_ledger l;
	struct seq_msg sm;
	enum seq_verdict v;
	uint64_t n = m->seq;

	if (ep->st.stop != SEQ_RUNNING)
		return;
	if (!m->bundle) {
		take_ctl(w, site, m);
		return;
	}
	if (n > MAXSEQ) {
		fprintf(stderr, "seqdrive: seq %" PRIu64 " too large\n", n);
		exit(1);
	}
	memset(&sm, 0, sizeof(sm));
	sm.bundle = true;
	sm.seq = n;
	sm.hash = m->hash;
	sm.prev = m->prev;
	sm.ack = m->ack;
	sm.time = m->time;
	memset(&l, 0, sizeof(l));
	l.have = ep->held[n].have;
	l.hash = ep->held[n].hash;
	l.seen = l.have && seq_hash_eq(&l.hash, &m->hash);
	l.have_before = n > 1 && ep->held[n - 1].have;
	l.before = ep->held[n - 1].hash;
	l.have_after = ep->held[n + 1].have;
	l.after_prev = ep->held[n + 1].prev;
	v = seq_in_bundle(&ep->st, &w->r, &sm, &l);
	switch (v) {
	case SEQ_DUPLICATE:
		line(w, "%c recv %c#%" PRIu64 " duplicate", SITE[site],
		    SITE[m->src], n);
		break;
	case SEQ_FORK:
	case SEQ_BADCHAIN:
		line(w, "%c recv %c#%" PRIu64 " fork", SITE[site],
		    SITE[m->src], n);
		return;
	case SEQ_ACCEPT:
	case SEQ_HOLD:
		ep->held[n].have = true;
		ep->held[n].hash = m->hash;
		ep->held[n].prev = m->prev;
		if (v == SEQ_HOLD) {
			line(w, "%c recv %c#%" PRIu64 " hold gap=%" PRIu64,
			    SITE[site], SITE[m->src], n, ep->st.in_recv + 1);
			break;
		}
		while (ep->st.in_recv < MAXSEQ &&
		    ep->held[ep->st.in_recv + 1].have)
			seq_in_advance(&ep->st,
			    &ep->held[ep->st.in_recv + 1].hash);
		line(w, "%c recv %c#%" PRIu64 " accept ack=%" PRIu64
		    " applied=%" PRIu64, SITE[site], SITE[m->src], n,
		    ep->st.in_recv, ep->st.in_applied);
		break;
	case SEQ_STOPPED:
		return;
	}
	take_ack(w, site, m->ack, m->time);
}

static void
do_import(struct world *w, int site, long limit)
{
	struct endpoint *ep = w->ep[site];
	struct queue *sp = &w->spool[site];
	uint64_t seq, upto;
	long n = 0;
	struct msg m;

	while (sp->n > 0) {
		m = q_remove(sp, 0);
		receive(w, site, &m);
	}
	if (ep->st.stop != SEQ_RUNNING)
		return;
	upto = ep->st.in_recv;
	for (seq = ep->st.in_applied + 1; seq <= upto; seq++) {
		if (limit >= 0 && n >= limit)
			break;
		seq_in_applied(&ep->st, seq);
		line(w, "%c apply %c#%" PRIu64, SITE[site], SITE[1 - site],
		    seq);
		n++;
	}
}

/* The highest seq held, 0 if none (the store's store_in_top()). */
static uint64_t
held_top(const struct endpoint *ep)
{
	uint64_t n;

	for (n = MAXSEQ; n > 0; n--)
		if (ep->held[n].have)
			return n;
	return 0;
}

static bool
has_gap(const struct endpoint *ep)
{
	return held_top(ep) > ep->st.in_recv;
}

static void
do_export(struct world *w, int site, const char *body)
{
	struct endpoint *ep = w->ep[site];
	struct msg m, c;
	uint64_t seq;

	if (body != NULL && ep->st.stop == SEQ_RUNNING) {
		memset(&m, 0, sizeof(m));
		m.bundle = true;
		m.src = site;
		m.dst = 1 - site;
		m.seq = seq_out_next(&ep->st);
		m.prev = *seq_out_prev(&ep->st);
		m.ack = ep->st.in_recv;
		m.time = w->now;
		msg_hash(&m, body);
		if (m.seq > MAXSEQ) {
			fprintf(stderr, "seqdrive: too many bundles\n");
			exit(1);
		}
		seq_out_made(&ep->st, m.seq, &m.hash, w->now);
		ep->sent[m.seq].m = m;
		ep->sent[m.seq].at = w->now;
		line(w, "%c send #%" PRIu64 " ack=%" PRIu64, SITE[site], m.seq,
		    m.ack);
		chan_send(w, &m);
	}
	if (ep->st.stop != SEQ_RUNNING)
		return;
	for (seq = ep->st.out_acked + 1; seq <= ep->st.out_sent; seq++) {
		if (!seq_out_due(&ep->st, &w->r, seq, 1, ep->sent[seq].at,
		    w->now))
			continue;
		ep->sent[seq].at = w->now;
		line(w, "%c resend #%" PRIu64, SITE[site], seq);
		chan_send(w, &ep->sent[seq].m);
	}
	if (seq_ack_due(&ep->st, &w->r, w->now, has_gap(ep))) {
		struct seq_msg sm;

		seq_ack_msg(&ep->st, &w->r, held_top(ep), w->now, &sm);
		memset(&c, 0, sizeof(c));
		c.bundle = false;
		c.src = site;
		c.dst = 1 - site;
		c.ack = sm.ack;
		c.time = sm.time;
		c.top = sm.top;
		line(w, "%c send ctl-ack %" PRIu64, SITE[site], c.ack);
		chan_send(w, &c);
		seq_ack_sent(&ep->st, w->now);
	}
}

/* Index of the message n (default the oldest) of a queue, or -1. */
static long
pick(const struct queue *q, long n)
{
	if (q->n == 0)
		return -1;
	if (n < 0)
		n = 0;
	return n < (long)q->n - 1 ? n : (long)q->n - 1;
}

static int
parse_site(const char *s)
{
	if (strcmp(s, "A") == 0)
		return 0;
	if (strcmp(s, "B") == 0)
		return 1;
	return -1;
}

static int
parse_link(const char *s)
{
	if (strcmp(s, "A->B") == 0)
		return 0;
	if (strcmp(s, "B->A") == 0)
		return 1;
	return -1;
}

static bool
parse_long(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno == 0 && *end != '\0' ? false : errno == 0 && end != s;
}

static void
set_option(struct world *w, const char *k, const char *v)
{
	bool on = strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "yes") == 0 || strcmp(v, "on") == 0;
	long n;

	if (strcmp(k, "resend-after") == 0 || strcmp(k, "resend_after") == 0) {
		if (parse_long(v, &n))
			w->r.resend_after = n;
	} else if (strcmp(k, "ack-interval") == 0 ||
	    strcmp(k, "ack_interval") == 0) {
		if (parse_long(v, &n))
			w->r.ack_interval = n;
	} else if (strcmp(k, "reack-duplicates") == 0 ||
	    strcmp(k, "reack_duplicates") == 0) {
		w->r.reack_duplicates = on;
	} else if (strcmp(k, "gap-ack") == 0 || strcmp(k, "gap_ack") == 0) {
		w->r.gap_ack = on;
	} else if (strcmp(k, "ack-behind") == 0 ||
	    strcmp(k, "ack_behind") == 0) {
		w->r.ack_behind = on;
	} else if (strcmp(k, "ack-top") == 0 || strcmp(k, "ack_top") == 0) {
		w->r.ack_top = on;
	}
	/* The full model's switches mean nothing to sequencing. */
}

static struct endpoint *
ep_copy(const struct endpoint *e)
{
	struct endpoint *c = xmalloc(sizeof(*c));

	memcpy(c, e, sizeof(*c));
	return c;
}

/* One event, as tokens; false for a line this driver cannot run. */
static bool
step(struct world *w, char **tok, int ntok)
{
	const char *op = tok[0];
	long n = -1;
	int site = -1, lk = -1, i;
	struct msg m;
	size_t b, mark = w->out->len;

	/* The event first, then what it did (SeqWorld.step). */
	buf_addstr(w->out, ">");
	for (i = 0; i < ntok; i++) {
		buf_addch(w->out, ' ');
		buf_addstr(w->out, tok[i]);
	}
	buf_addch(w->out, '\n');
	w->now++;
	if (ntok >= 2) {
		site = parse_site(tok[1]);
		lk = parse_link(tok[1]);
	}
	if (strcmp(op, "tick") == 0 && ntok == 2 && parse_long(tok[1], &n)) {
		w->now += n;
	} else if (strcmp(op, "option") == 0 && ntok == 3) {
		set_option(w, tok[1], tok[2]);
	} else if (strcmp(op, "export") == 0 && site >= 0 && ntok <= 3) {
		do_export(w, site, ntok == 3 ? tok[2] : "-");
	} else if (strcmp(op, "flush") == 0 && site >= 0 && ntok == 2) {
		do_export(w, site, NULL);
	} else if (strcmp(op, "import") == 0 && site >= 0 && ntok == 2) {
		do_import(w, site, -1);
	} else if (strcmp(op, "run") == 0 && site >= 0 && ntok == 2) {
		do_import(w, site, -1);
		do_export(w, site, NULL);
	} else if (strcmp(op, "crash") == 0 && site >= 0) {
		if (ntok == 4 && strcmp(tok[2], "during-import") == 0 &&
		    parse_long(tok[3], &n))
			do_import(w, site, n);
		else if (ntok != 2) {
			buf_setlen(w->out, mark);
			return false;
		}
	} else if ((strcmp(op, "deliver") == 0 || strcmp(op, "drop") == 0 ||
	    strcmp(op, "dup") == 0) && lk >= 0 && ntok <= 3) {
		if (ntok == 3 && !parse_long(tok[2], &n)) {
			buf_setlen(w->out, mark);
			return false;
		}
		if ((i = (int)pick(&w->flight[lk], n)) >= 0) {
			if (op[1] == 'e') {
				m = q_remove(&w->flight[lk], (size_t)i);
				q_insert(&w->spool[m.dst], w->spool[m.dst].n,
				    &m);
			} else if (op[1] == 'r') {
				q_remove(&w->flight[lk], (size_t)i);
			} else {
				m = w->flight[lk].v[i];
				q_insert(&w->flight[lk], (size_t)i + 1, &m);
			}
		}
	} else if (strcmp(op, "backup-state") == 0 && site >= 0 && ntok == 3) {
		for (b = 0; b < w->nbackups; b++)
			if (w->backups[b].site == site &&
			    strcmp(w->backups[b].name, tok[2]) == 0)
				break;
		if (b == w->nbackups) {
			if (b == MAXBACKUP) {
				buf_setlen(w->out, mark);
				return false;
			}
			w->nbackups++;
			w->backups[b].site = site;
			snprintf(w->backups[b].name,
			    sizeof(w->backups[b].name), "%s", tok[2]);
		} else {
			free(w->backups[b].ep);
		}
		w->backups[b].ep = ep_copy(w->ep[site]);
	} else if (strcmp(op, "restore-state") == 0 && site >= 0 &&
	    ntok == 3) {
		for (b = 0; b < w->nbackups; b++)
			if (w->backups[b].site == site &&
			    strcmp(w->backups[b].name, tok[2]) == 0) {
				memcpy(w->ep[site], w->backups[b].ep,
				    sizeof(struct endpoint));
				break;
			}
	} else {
		buf_setlen(w->out, mark);
		return false;
	}
	return true;
}

/* Split a line into tokens in place; returns how many. */
static int
tokens(char *s, char **tok, int max)
{
	int n = 0;

	while (*s != '\0' && n < max) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		tok[n++] = s;
		while (*s != '\0' && *s != ' ' && *s != '\t')
			s++;
		if (*s != '\0')
			*s++ = '\0';
	}
	return n;
}

static void
step_str(struct world *w, const char *ev)
{
	char line_[64], *tok[4];
	int n;

	snprintf(line_, sizeof(line_), "%s", ev);
	n = tokens(line_, tok, 4);
	step(w, tok, n);
}

static long
in_flight(const struct world *w)
{
	return (long)(w->flight[0].n + w->flight[1].n + w->spool[0].n +
	    w->spool[1].n);
}

/* seqmodel.settle(): run both sites until nothing moves. */
static void
settle(struct world *w)
{
	char ev[64];
	int64_t wait = w->r.resend_after > w->r.ack_interval ?
	    w->r.resend_after : w->r.ack_interval;
	long before;
	int round, s, lk, quiet = 0;

	for (round = 0; round < 40; round++) {
		before = w->sent_count;
		for (s = 0; s < 2; s++) {
			snprintf(ev, sizeof(ev), "run %c", SITE[s]);
			step_str(w, ev);
			for (lk = 0; lk < 2; lk++)
				while (w->flight[lk].n > 0)
					step_str(w, lk == 0 ? "deliver A->B" :
					    "deliver B->A");
		}
		snprintf(ev, sizeof(ev), "tick %" PRId64, wait);
		step_str(w, ev);
		if (w->sent_count == before && in_flight(w) == 0) {
			if (++quiet >= 2)
				return;
		} else {
			quiet = 0;
		}
	}
}

static int
run_file(const char *path, bool do_settle, struct buf *out)
{
	struct world *w = xcalloc(1, sizeof(*w));
	char buf[LINE_MAX_LEN], *tok[8], *p;
	FILE *fp;
	int n, lineno = 0, rc = 0, i;
	size_t b;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "seqdrive: cannot open '%s': %s\n", path,
		    strerror(errno));
		free(w);
		return 1;
	}
	/* The model's defaults (seqmodel.Rules), not ferry's. */
	seq_rules_default(&w->r);
	w->r.resend_after = 8;
	w->r.ack_interval = 4;
	for (i = 0; i < 2; i++) {
		w->ep[i] = xcalloc(1, sizeof(struct endpoint));
		seq_init(&w->ep[i]->st);
		w->flight[i].v = xcalloc(MAXQ, sizeof(struct msg));
		w->spool[i].v = xcalloc(MAXQ, sizeof(struct msg));
	}
	w->out = out;
	while (fgets(buf, sizeof(buf), fp) != NULL) {
		lineno++;
		buf[strcspn(buf, "\r\n")] = '\0';
		p = buf + strspn(buf, " \t");
		if (*p == '\0' || *p == '#')
			continue;
		n = tokens(p, tok, 8);
		if (!step(w, tok, n)) {
			fprintf(stderr, "seqdrive: %s:%d: not a sequencing "
			    "event\n", path, lineno);
			rc = 1;
			break;
		}
	}
	fclose(fp);
	if (rc == 0 && do_settle)
		settle(w);
	for (i = 0; i < 2; i++) {
		free(w->ep[i]);
		free(w->flight[i].v);
		free(w->spool[i].v);
	}
	for (b = 0; b < w->nbackups; b++)
		free(w->backups[b].ep);
	free(w);
	return rc;
}

int
main(int argc, char **argv)
{
	struct buf out = BUF_INIT(0);
	bool do_settle = false;
	int i, first = 1, rc = 0;

	if (argc > 1 && strcmp(argv[1], "--settle") == 0) {
		do_settle = true;
		first = 2;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: seqdrive [--settle] SCENARIO...\n");
		return 64;
	}
	for (i = first; i < argc && rc == 0; i++) {
		if (argc - first > 1)
			buf_addf(&out, "== %s\n", argv[i]);
		rc = run_file(argv[i], do_settle, &out);
		fwrite(out.data, 1, out.len, stdout);
		buf_reset(&out);
	}
	buf_release(&out);
	return rc;
}
