/*
 * transport.c: the channel of one connection: local outbox and inbox,
 * store rows and sequencing state, and a transport, changed in an order
 * that a kill at any instant leaves repairable (docs/state.md):
 *
 *	a file is durable before the row that names it commits;
 *	a row commits before the file it stops naming is deleted;
 *	a file on the transport is put before the row counting the send
 *	commits (a resend of the same bytes is harmless).
 *
 * Each instant in between is a named crash point.
 */
#include "ferry/common.h"
#include "ferry/crash.h"
#include "ferry/file.h"
#include "ferry/log.h"
#include "ferry/store.h"
#include "ferry/transport.h"

#include <dirent.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int
channel_init(struct channel *c, struct store *s, struct transport *t,
    int64_t conn, const char *state_dir, const struct channel_hooks *hooks,
    struct ferry_err *err)
{
	int rc;

	memset(c, 0, sizeof(*c));
	c->store = s;
	c->t = t;
	c->conn = conn;
	c->hooks = *hooks;
	c->outdir = file_join(state_dir, "outbox");
	c->indir = file_join(state_dir, "inbox");
	seq_rules_default(&c->rules);
	c->retention = 30 * 86400;
	if ((rc = file_mkdirs(c->outdir, 0700, err)) < 0 ||
	    (rc = file_mkdirs(c->indir, 0700, err)) < 0 ||
	    (rc = store_chan_load(s, conn, &c->st, err)) < 0) {
		channel_release(c);
		return rc;
	}
	return 0;
}

int
channel_reload(struct channel *c, struct ferry_err *err)
{
	return store_chan_load(c->store, c->conn, &c->st, err);
}

void
channel_release(struct channel *c)
{
	FREE_AND_NULL(c->outdir);
	FREE_AND_NULL(c->indir);
}

/* Commit st as the new state, or roll back and reload the old one. */
static int
commit_state(struct channel *c, struct seq_state *st, struct ferry_err *err)
{
	int rc;

	if ((rc = store_chan_save(c->store, c->conn, st, err)) < 0)
		goto fail;
	CRASHPOINT("chan.before-commit");
	if ((rc = store_commit(c->store, err)) < 0)
		goto fail;
	c->st = *st;
	return 0;
fail:
	store_rollback(c->store);
	return rc;
}

/* Remove dir's files that no row names, and temporary files. */
static int
repair_dir(struct channel *c, const char *dir, bool outgoing,
    struct ferry_err *err)
{
	struct dirent *de;
	char *path;
	bool named;
	DIR *d;
	int rc = 0;

	if ((d = opendir(dir)) == NULL)
		return ferry_err_sys(err, FERRY_EIO, "cannot read '%s'", dir);
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		named = false;
		if (de->d_name[0] != '.') {
			rc = outgoing ? store_out_names(c->store, de->d_name,
			    &named, err) : store_in_names(c->store, de->d_name,
			    &named, err);
			if (rc < 0)
				break;
		}
		if (named)
			continue;
		path = file_join(dir, de->d_name);
		log_debug("repair: removing '%s', which no record names", path);
		if (file_sys_unlink(path) == -1 && errno != ENOENT)
			rc = ferry_err_sys(err, FERRY_EIO, "cannot remove '%s'",
			    path);
		free(path);
	}
	closedir(d);
	return rc;
}

int
channel_repair(struct channel *c, struct ferry_err *err)
{
	int rc;

	if ((rc = repair_dir(c, c->outdir, true, err)) < 0 ||
	    (rc = repair_dir(c, c->indir, false, err)) < 0)
		return rc;
	return 0;
}

/* A name for a local copy that no other copy has. */
static char *
local_name(const char *name)
{
	static unsigned counter;
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return xasprintf("%s.%lx%09lx%x%x", name, (unsigned long)ts.tv_sec,
	    (unsigned long)ts.tv_nsec, (unsigned)getpid(), counter++);
}

static int
stop_conn(struct channel *c, const struct seq_state *st, const char *why,
    struct ferry_err *err)
{
	char *reason;
	int rc;

	reason = xasprintf("%s at seq %" PRIu64 ": %s; nothing more is "
	    "applied until an administrator recovers the connection",
	    seq_stop_name(st->stop), st->stop_seq, why);
	log_error("connection stopped: %s", reason);
	rc = store_conn_set_state(c->store, c->conn, STORE_CONN_STOPPED,
	    reason, err);
	free(reason);
	return rc;
}

/* Take the ack of a verified message into st. */
static int
take_ack(struct channel *c, struct seq_state *st, const struct seq_msg *m,
    int64_t now, struct channel_stats *s, struct ferry_err *err)
{
	switch (seq_on_ack(st, &c->rules, m->ack, m->time)) {
	case SEQ_ACK_ADVANCED:
		return store_out_acked(c->store, c->conn, st->out_acked, now,
		    err);
	case SEQ_ACK_AHEAD:
		s->stopped = true;
		return stop_conn(c, st, "the peer acknowledges bundles this "
		    "site has no record of sending (this site was restored "
		    "from a backup?)", err);
	case SEQ_ACK_BEHIND:
		s->stopped = true;
		return stop_conn(c, st, "the peer acknowledges less than it "
		    "did in an older message (the peer was restored from a "
		    "backup?)", err);
	case SEQ_ACK_TOP_AHEAD:
	case SEQ_ACK_STALE:
		break;
	}
	return 0;
}

/* The top of a verified ack control message, after its ack. */
static int
take_top(struct channel *c, struct seq_state *st, const struct seq_msg *m,
    struct channel_stats *s, struct ferry_err *err)
{
	if (seq_on_top(st, &c->rules, m->top) != SEQ_ACK_TOP_AHEAD)
		return 0;
	s->stopped = true;
	return stop_conn(c, st, "the peer holds a bundle above any this "
	    "site has a record of sending (this site was restored from a "
	    "backup?)", err);
}

/* What the store holds around m->seq. */
static int
ledger(struct channel *c, const struct seq_msg *m, struct seq_ledger *l,
    struct ferry_err *err)
{
	struct store_in r;
	int rc;

	memset(l, 0, sizeof(*l));
	if ((rc = store_in_lookup(c->store, c->conn, m->seq, &m->hash,
	    &l->have, &l->hash, &l->seen, err)) < 0)
		return rc;
	if (m->seq > 1) {
		rc = store_in_get(c->store, c->conn, m->seq - 1, &r, err);
		if (rc == 0) {
			l->have_before = true;
			l->before = r.hash;
			store_in_release(&r);
		} else if (rc != FERRY_ENOTFOUND) {
			return rc;
		}
	}
	rc = store_in_get(c->store, c->conn, m->seq + 1, &r, err);
	if (rc == 0) {
		l->have_after = true;
		l->after_prev = r.prev;
		store_in_release(&r);
	} else if (rc != FERRY_ENOTFOUND) {
		return rc;
	}
	return 0;
}

/* Held bundles that now follow the received ack become received. */
static int
advance_held(struct channel *c, struct seq_state *st, int64_t now,
    struct channel_stats *s, struct ferry_err *err)
{
	struct store_in r;
	int rc;

	for (;;) {
		rc = store_in_get(c->store, c->conn, st->in_recv + 1, &r, err);
		if (rc == FERRY_ENOTFOUND)
			return 0;
		if (rc < 0)
			return rc;
		if (r.state != STORE_IN_HELD) {
			store_in_release(&r);
			return 0;
		}
		rc = store_in_set_state(c->store, r.id, STORE_IN_RECEIVED,
		    NULL, now, err);
		if (rc == 0) {
			seq_in_advance(st, &r.hash);
			s->accepted++;
		}
		store_in_release(&r);
		if (rc < 0)
			return rc;
	}
}

/*
 * Record one verified (or rejected) local copy.  *drop says the copy is
 * not needed (duplicate): delete it after the commit.
 */
static int
record_bundle(struct channel *c, const char *local, const struct seq_msg *m,
    const char *reject, int64_t now, bool *drop, struct channel_stats *s,
    struct ferry_err *err)
{
	struct seq_state st = c->st;
	struct seq_ledger l;
	enum seq_verdict v;
	char hex[2 * SEQ_HASH_LEN + 1], *why = NULL;
	int rc;

	*drop = false;
	if ((rc = store_begin(c->store, err)) < 0)
		return rc;
	if ((rc = ledger(c, m, &l, err)) < 0)
		goto fail;
	if (reject != NULL) {
		/* Refused by the verifier: quarantine once, apply nothing. */
		if (l.seen) {
			*drop = true;
			s->duplicates++;
		} else {
			rc = store_in_add(c->store, c->conn, m,
			    STORE_IN_QUARANTINED, reject, local, now, NULL,
			    err);
			s->quarantined++;
		}
		if (rc < 0)
			goto fail;
		return commit_state(c, &st, err);
	}
	v = seq_in_bundle(&st, &c->rules, m, &l);
	switch (v) {
	case SEQ_ACCEPT:
	case SEQ_HOLD:
		rc = store_in_add(c->store, c->conn, m, v == SEQ_ACCEPT ?
		    STORE_IN_RECEIVED : STORE_IN_HELD, NULL, local, now, NULL,
		    err);
		if (v == SEQ_ACCEPT) {
			s->accepted++;
			if (rc == 0)
				rc = advance_held(c, &st, now, s, err);
		} else {
			s->held++;
		}
		break;
	case SEQ_DUPLICATE:
	case SEQ_STOPPED:
		*drop = true;
		s->duplicates++;
		break;
	case SEQ_FORK:
	case SEQ_BADCHAIN:
		/* Never dropped silently: the copy stays, with its reason. */
		if (v == SEQ_FORK) {
			seq_hash_hex(&l.hash, hex);
			why = xasprintf("fork: seq %" PRIu64 " was received "
			    "before with hash %s", m->seq, hex);
		} else {
			why = xasprintf("fork: bundle %" PRIu64 " does not "
			    "chain to the bundles held around it", m->seq);
		}
		rc = store_in_add(c->store, c->conn, m, STORE_IN_QUARANTINED,
		    why, local, now, NULL, err);
		s->quarantined++;
		s->stopped = true;
		if (rc == 0)
			rc = stop_conn(c, &st, why, err);
		free(why);
		break;
	}
	if (rc < 0)
		goto fail;
	if ((v == SEQ_ACCEPT || v == SEQ_HOLD || v == SEQ_DUPLICATE) &&
	    (rc = take_ack(c, &st, m, now, s, err)) < 0)
		goto fail;
	return commit_state(c, &st, err);
fail:
	store_rollback(c->store);
	return rc;
}

static int
receive_one(struct channel *c, const struct transport_file *f, int64_t now,
    struct channel_stats *s, struct ferry_err *err)
{
	struct ferry_err verr = FERRY_ERR_INIT;
	struct seq_state st;
	struct seq_msg m;
	char *local = local_name(f->name), *path;
	bool control = f->info.seq == 0, drop = true;
	int rc;

	path = file_join(c->indir, local);
	rc = c->t->ops->fetch(c->t, f->name, c->indir, local, err);
	if (rc == FERRY_ENOTFOUND) {
		/* Its sender removed it meanwhile: it was acknowledged. */
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	s->fetched++;
	CRASHPOINT("chan.in.after-fetch");
	memset(&m, 0, sizeof(m));
	rc = c->hooks.verify(c->hooks.ctx, path, control, &m, &verr);
	if (rc < 0 && rc != FERRY_EREJECT) {
		*err = verr;
		goto out;
	}
	if (control) {
		/*
		 * Control messages carry no seq and are never recorded;
		 * only the name of the last one is, so that it is not read
		 * again while it lies on the transport.
		 */
		if (rc == FERRY_EREJECT) {
			log_warn("ignoring control message '%s': %s", f->name,
			    verr.msg);
			rc = 0;
			goto out;
		}
		s->acks_in++;
		st = c->st;
		if ((rc = store_begin(c->store, err)) < 0)
			goto out;
		if ((rc = take_ack(c, &st, &m, now, s, err)) < 0 ||
		    (rc = take_top(c, &st, &m, s, err)) < 0 ||
		    (rc = store_chan_save(c->store, c->conn, &st, err)) < 0 ||
		    (rc = store_chan_ctl_set(c->store, c->conn, f->name,
		    err)) < 0) {
			store_rollback(c->store);
			goto out;
		}
		rc = commit_state(c, &st, err);
		goto out;
	}
	m.bundle = true;
	if (rc == 0 && m.seq != f->info.seq) {
		rc = ferry_err_set(&verr, FERRY_EREJECT, "'%s' is named seq %"
		    PRIu64 " but is bundle %" PRIu64, f->name, f->info.seq,
		    m.seq);
	}
	m.seq = f->info.seq;
	rc = record_bundle(c, local, &m, rc == FERRY_EREJECT ? verr.msg :
	    NULL, now, &drop, s, err);
	if (rc == 0)
		CRASHPOINT("chan.in.after-commit");
out:
	/* The row (if any) is committed: a copy it does not name goes. */
	if (drop && file_sys_unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove '%s': %s", path, strerror(errno));
	free(path);
	free(local);
	return rc;
}

/*
 * Remove this site's own files the peer has acknowledged; with control
 * (before a new control message goes out) its older control messages
 * too: the new one says all they said.
 */
static int
remove_own(struct channel *c, bool control, struct channel_stats *s,
    struct ferry_err *err)
{
	struct transport_file *v = NULL;
	size_t n, i;
	int rc;

	if ((rc = c->t->ops->list(c->t, TRANSPORT_OWN, &v, &n, err)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if (v[i].info.seq == 0 ? !control :
		    v[i].info.seq > c->st.out_acked)
			continue;
		if ((rc = c->t->ops->remove(c->t, v[i].name, err)) == 0)
			s->removed++;
		CRASHPOINT("chan.out.after-remove");
	}
	transport_files_free(v, n);
	return rc;
}

int
channel_receive(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err)
{
	struct transport_file *v = NULL;
	char *seen = NULL;
	size_t n = 0, i;
	int rc;

	if (c->st.stop != SEQ_RUNNING)
		return 0;
	if ((rc = c->t->ops->check(c->t, false, err)) < 0 ||
	    (rc = c->t->ops->list(c->t, TRANSPORT_INCOMING, &v, &n, err)) < 0)
		return rc;
	if ((rc = store_chan_ctl_get(c->store, c->conn, &seen, err)) < 0) {
		transport_files_free(v, n);
		return rc;
	}
	for (i = 0; i < n && rc == 0 && c->st.stop == SEQ_RUNNING; i++) {
		if (v[i].info.seq == 0 && seen != NULL &&
		    strcmp(v[i].name, seen) == 0)
			continue;
		rc = receive_one(c, &v[i], now, s, err);
	}
	free(seen);
	transport_files_free(v, n);
	if (rc < 0)
		return rc;
	/* Cleaning the spool needs it writable; a read-only one waits. */
	if (c->t->ops->check(c->t, true, NULL) == 0)
		rc = remove_own(c, false, s, err);
	return rc;
}

uint64_t
channel_next_seq(const struct channel *c)
{
	return seq_out_next(&c->st);
}

int
channel_next_name(const struct channel *c, char out[TRANSPORT_NAME_MAX],
    struct ferry_err *err)
{
	return transport_name_data(c->t->conn, c->t->self, c->t->peer,
	    seq_out_next(&c->st), out, err);
}

int
channel_made(struct channel *c, const char *name, const struct seq_hash *hash,
    uint64_t size, int64_t now, struct ferry_err *err)
{
	uint64_t seq = seq_out_next(&c->st);
	int rc;

	CRASHPOINT("chan.out.after-write");
	if ((rc = store_out_add(c->store, c->conn, seq, hash, name, size, now,
	    err)) < 0)
		return rc;
	seq_out_made(&c->st, seq, hash, now);
	return store_chan_save(c->store, c->conn, &c->st, err);
}

static int
send_ack(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err)
{
	char name[TRANSPORT_NAME_MAX], *path;
	struct seq_state st = c->st;
	struct seq_msg m;
	struct stat sb;
	uint64_t top;
	int rc;

	if ((rc = transport_name_control(c->t->conn, c->t->self, c->t->peer,
	    "ack", now, name, err)) < 0 ||
	    (rc = store_in_top(c->store, c->conn, &top, err)) < 0)
		return rc;
	seq_ack_msg(&st, &c->rules, top, now, &m);
	path = file_join(c->outdir, name);
	if ((rc = c->hooks.make_ack(c->hooks.ctx, &m, c->outdir, name,
	    err)) < 0)
		goto out;
	if (stat(path, &sb) == -1) {
		rc = ferry_err_sys(err, FERRY_EIO, "cannot stat '%s'", path);
		goto out;
	}
	if ((rc = remove_own(c, true, s, err)) < 0 ||
	    (rc = c->t->ops->put(c->t, path, name, (uint64_t)sb.st_size,
	    err)) < 0)
		goto out;
	CRASHPOINT("chan.ack.after-put");
	seq_ack_sent(&st, now);
	if ((rc = store_begin(c->store, err)) < 0)
		goto out;
	if ((rc = commit_state(c, &st, err)) < 0)
		goto out;
	s->acks_out++;
out:
	/* No row names a control message: the local copy always goes. */
	unlink(path);
	free(path);
	return rc;
}

int
channel_send(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err)
{
	struct store_out *v = NULL;
	int64_t held = 0;
	char *path;
	size_t n = 0, i;
	int rc;

	if (c->st.stop != SEQ_RUNNING)
		return 0;
	if ((rc = store_out_list(c->store, c->conn, c->st.out_acked, &v, &n,
	    err)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++) {
		if (v[i].file == NULL || !seq_out_due(&c->st, &c->rules,
		    v[i].seq, v[i].sends, v[i].last_send, now))
			continue;
		path = file_join(c->outdir, v[i].file);
		rc = c->t->ops->put(c->t, path, v[i].file, v[i].size, err);
		free(path);
		if (rc < 0)
			break;
		CRASHPOINT("chan.out.after-put");
		if ((rc = store_begin(c->store, err)) < 0)
			break;
		if ((rc = store_out_sent(c->store, c->conn, v[i].seq, now,
		    err)) < 0 || (rc = store_commit(c->store, err)) < 0) {
			store_rollback(c->store);
			break;
		}
		if (v[i].sends == 0)
			s->sent++;
		else
			s->resent++;
	}
	store_out_free(v, n);
	if (rc == 0)
		rc = store_in_count(c->store, c->conn, STORE_IN_HELD,
		    c->st.in_recv, &held, err);
	if (rc == 0 && seq_ack_due(&c->st, &c->rules, now, held > 0))
		rc = send_ack(c, now, s, err);
	return rc;
}

int
channel_next_to_apply(struct channel *c, struct store_in *r,
    struct ferry_err *err)
{
	int rc;

	if (c->st.stop != SEQ_RUNNING || c->st.in_applied >= c->st.in_recv)
		return ferry_err_set(err, FERRY_ENOTFOUND,
		    "nothing to apply");
	if ((rc = store_in_get(c->store, c->conn, c->st.in_applied + 1, r,
	    err)) < 0)
		return rc;
	assert(r->state == STORE_IN_RECEIVED);
	return 0;
}

int
channel_applied(struct channel *c, const struct store_in *r, int64_t now,
    struct ferry_err *err)
{
	struct seq_state st = c->st;
	int rc;

	seq_in_applied(&st, r->seq);
	if ((rc = store_in_set_state(c->store, r->id, STORE_IN_APPLIED, NULL,
	    now, err)) < 0 ||
	    (rc = store_chan_save(c->store, c->conn, &st, err)) < 0)
		return rc;
	c->st = st;
	return 0;
}

/* Commit that the row no longer names the file, then delete it. */
static int
prune_file(struct channel *c, const char *dir, const char *file,
    int64_t in_id, uint64_t out_seq, struct ferry_err *err)
{
	char *path;
	int rc;

	if ((rc = store_begin(c->store, err)) < 0)
		return rc;
	rc = in_id != 0 ? store_in_forget_file(c->store, in_id, err) :
	    store_out_forget_file(c->store, c->conn, out_seq, err);
	if (rc < 0 || (rc = store_commit(c->store, err)) < 0) {
		store_rollback(c->store);
		return rc;
	}
	CRASHPOINT("chan.prune.after-commit");
	path = file_join(dir, file);
	if (file_sys_unlink(path) == -1 && errno != ENOENT)
		log_warn("cannot remove '%s': %s", path, strerror(errno));
	free(path);
	return 0;
}

int
channel_prune(struct channel *c, int64_t now, struct channel_stats *s,
    struct ferry_err *err)
{
	struct store_out *ov = NULL;
	struct store_in *iv = NULL;
	size_t n = 0, i;
	int rc;

	if ((rc = store_out_list_acked(c->store, c->conn, &ov, &n, err)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		if (seq_prune_due(ov[i].acked, now, c->retention) &&
		    (rc = prune_file(c, c->outdir, ov[i].file, 0, ov[i].seq,
		    err)) == 0)
			s->pruned++;
	store_out_free(ov, n);
	if (rc < 0)
		return rc;
	if ((rc = store_in_list(c->store, c->conn, STORE_IN_APPLIED, &iv, &n,
	    err)) < 0)
		return rc;
	for (i = 0; i < n && rc == 0; i++)
		if (iv[i].file != NULL &&
		    seq_prune_due(iv[i].applied, now, c->retention) &&
		    (rc = prune_file(c, c->indir, iv[i].file, iv[i].id, 0,
		    err)) == 0)
			s->pruned++;
	store_in_free(iv, n);
	return rc;
}
