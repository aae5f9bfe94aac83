/*
 * chan: drive one site of a connection through the real channel (store,
 * sequencing, spool transport, lock) with opaque test bundles, for the
 * end-to-end tests (tests/e2e/test_channel*.py).
 *
 *	chan init DIR SITE PEER [CONN]
 *	chan run DIR [options]		one cycle: repair, receive, apply,
 *					make, send, prune
 *	chan dump DIR			the state as JSON on stdout
 *	chan put SPOOL FILE NAME	put one file on a spool as site sa of
 *					connection c1 (size limits)
 *
 * run options: --spool DIR (outbox and inbox), --outbox DIR, --inbox DIR,
 * --make N (bundles to make), --size BYTES (payload), --now T,
 * --resend S, --ack-interval S, --retention S, --require-mount,
 * --max-file BYTES.
 *
 * A test bundle is text: a header of key=value lines, an empty line, and
 * a payload.  Its "hash" is a 256-bit FNV-1a of the whole file: enough to
 * tell files apart in tests (the real hash is the bundle layer's).  A
 * file whose header says "corrupt=1" is rejected by the verifier.
 * Exit status: 0; 75 when the transport was unavailable or the lock held;
 * 65 when the connection stopped (fork, restore); 1 on other errors.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/crash.h"
#include "ferry/file.h"
#include "ferry/lock.h"
#include "ferry/log.h"
#include "ferry/store.h"
#include "ferry/transport.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BUNDLE_FILE_MAX	(64u << 20)

struct opts {
	const char	*outbox, *inbox;
	unsigned	 make;
	size_t		 size;
	int64_t		 now;
	int64_t		 resend, ack_interval, retention;
	bool		 require_mount;
	uint64_t	 max_file;
};

struct site {
	char	*site_id, *peer, *conn_id;
};

static void
fnv256(const void *data, size_t len, struct seq_hash *h)
{
	const uint8_t *p = data;
	uint64_t v[4] = {
		UINT64_C(0xcbf29ce484222325), UINT64_C(0x84222325cbf29ce4),
		UINT64_C(0x9e3779b97f4a7c15), UINT64_C(0xd1b54a32d192ed03),
	};
	size_t i, k;

	for (i = 0; i < len; i++)
		for (k = 0; k < 4; k++) {
			v[k] ^= (uint64_t)p[i] + k;
			v[k] *= UINT64_C(0x100000001b3);
		}
	for (k = 0; k < 4; k++) {
		v[k] ^= v[k] >> 31;
		v[k] *= UINT64_C(0xbf58476d1ce4e5b9);
		v[k] ^= v[k] >> 29;
		memcpy(h->b + 8 * k, &v[k], 8);
	}
}

/* The value of key in the header of text, or NULL (a new string). */
static char *
header(const char *text, const char *key)
{
	size_t n = strlen(key);
	const char *p = text, *eol;

	while (*p != '\0' && *p != '\n') {
		eol = strchr(p, '\n');
		if (eol == NULL)
			return NULL;
		if ((size_t)(eol - p) > n && strncmp(p, key, n) == 0 &&
		    p[n] == '=')
			return xstrndup(p + n + 1, (size_t)(eol - p) - n - 1);
		p = eol + 1;
	}
	return NULL;
}

static uint64_t
header_u64(const char *text, const char *key, bool *ok)
{
	char *v = header(text, key), *end;
	uint64_t n = 0;

	if (v == NULL) {
		*ok = false;
		return 0;
	}
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0')
		*ok = false;
	free(v);
	return n;
}

static int
verify(void *ctx, const char *path, bool control, struct seq_msg *m,
    struct ferry_err *err)
{
	struct site *s = ctx;
	struct buf b = BUF_INIT(BUNDLE_FILE_MAX);
	char *conn = NULL, *from = NULL, *to = NULL, *prev = NULL, *bad, *top;
	bool ok = true;
	int rc;

	if ((rc = file_read(path, &b, err)) < 0)
		goto out;
	fnv256(b.data, b.len, &m->hash);
	rc = FERRY_EREJECT;
	if (strncmp(b.data, "CHAN1\n", 6) != 0) {
		ferry_err_set(err, rc, "'%s' is not a test bundle", path);
		goto out;
	}
	if ((bad = header(b.data + 6, "corrupt")) != NULL) {
		free(bad);
		ferry_err_set(err, rc, "'%s': bad signature", path);
		goto out;
	}
	conn = header(b.data + 6, "conn");
	from = header(b.data + 6, "from");
	to = header(b.data + 6, "to");
	if (conn == NULL || from == NULL || to == NULL ||
	    strcmp(conn, s->conn_id) != 0 || strcmp(from, s->peer) != 0 ||
	    strcmp(to, s->site_id) != 0) {
		ferry_err_set(err, rc, "'%s': wrong connection or addressee",
		    path);
		goto out;
	}
	m->bundle = !control;
	m->ack = header_u64(b.data + 6, "ack", &ok);
	m->time = (int64_t)header_u64(b.data + 6, "made", &ok);
	/* Optional, as in a manifest: an older sender names no top. */
	if (control && (top = header(b.data + 6, "top")) != NULL) {
		free(top);
		m->top = header_u64(b.data + 6, "top", &ok);
	}
	if (!control) {
		m->seq = header_u64(b.data + 6, "seq", &ok);
		prev = header(b.data + 6, "prev");
		if (prev == NULL || !seq_hash_parse(&m->prev, prev))
			ok = false;
	}
	if (!ok) {
		ferry_err_set(err, rc, "'%s': bad header", path);
		goto out;
	}
	rc = 0;
out:
	free(conn);
	free(from);
	free(to);
	free(prev);
	buf_release(&b);
	return rc;
}

static int
make_ack(void *ctx, const struct seq_msg *m, const char *dir,
    const char *name, struct ferry_err *err)
{
	struct site *s = ctx;
	struct buf b = BUF_INIT(0);
	int rc;

	buf_addf(&b, "CHAN1\nkind=ack\nconn=%s\nfrom=%s\nto=%s\nack=%" PRIu64
	    "\nmade=%" PRId64 "\ntop=%" PRIu64 "\n\n", s->conn_id, s->site_id,
	    s->peer, m->ack, m->time, m->top);
	rc = file_write_atomic(dir, name, b.data, b.len, 0600, err);
	buf_release(&b);
	return rc;
}

static int
load_site(struct store *st, struct site *s, int64_t *conn,
    struct ferry_err *err)
{
	struct store_site site;
	struct store_conn c;
	int rc;

	if ((rc = store_site_get(st, &site, err)) < 0)
		return rc;
	if ((rc = store_conn_get(st, "chan", &c, err)) < 0) {
		store_site_release(&site);
		return rc;
	}
	s->site_id = site.site_id;
	s->peer = c.peer_site;
	s->conn_id = c.conn_id;
	*conn = c.id;
	site.site_id = NULL;
	c.peer_site = NULL;
	c.conn_id = NULL;
	store_site_release(&site);
	store_conn_release(&c);
	return 0;
}

static void
site_release(struct site *s)
{
	free(s->site_id);
	free(s->peer);
	free(s->conn_id);
}

static int
cmd_init(int argc, char **argv, struct ferry_err *err)
{
	struct store *st = NULL;
	struct store_site site;
	struct store_conn c;
	int rc;

	if (argc < 4)
		return ferry_err_set(err, FERRY_EUSAGE,
		    "usage: chan init DIR SITE PEER [CONN]");
	memset(&c, 0, sizeof(c));
	site.site_id = argv[2];
	site.name = argv[2];
	site.key_fpr = NULL;
	c.conn_id = argc > 4 ? argv[4] : (char *)(uintptr_t)"c1";
	c.name = (char *)(uintptr_t)"chan";
	c.project = (char *)(uintptr_t)"TEST";
	c.sync_user = (char *)(uintptr_t)"ferry";
	c.peer_site = argv[3];
	if ((rc = file_mkdirs(argv[1], 0700, err)) < 0 ||
	    (rc = store_open(argv[1], &st, err)) < 0)
		return rc;
	if ((rc = store_begin(st, err)) == 0 &&
	    (rc = store_site_set(st, &site, err)) == 0 &&
	    (rc = store_conn_add(st, &c, NULL, err)) == 0 &&
	    (rc = store_exec(st, "CREATE TABLE chan_applied (seq INTEGER "
	    "PRIMARY KEY, hash BLOB NOT NULL, at INTEGER NOT NULL)", err)) ==
	    0)
		rc = store_commit(st, err);
	store_close(st);
	return rc;
}

/* The local copy of r is there and holds the bytes received. */
static int
check_copy(struct channel *ch, const struct store_in *r,
    struct ferry_err *err)
{
	struct buf b = BUF_INIT(BUNDLE_FILE_MAX);
	struct seq_hash h;
	char *path;
	int rc;

	if (r->file == NULL)
		return ferry_err_set(err, FERRY_ERR, "bundle %" PRIu64 " to "
		    "apply has no local copy", r->seq);
	path = file_join(ch->indir, r->file);
	if ((rc = file_read(path, &b, err)) == 0) {
		fnv256(b.data, b.len, &h);
		if (!seq_hash_eq(&h, &r->hash))
			rc = ferry_err_set(err, FERRY_ERR, "local copy '%s' "
			    "does not hold bundle %" PRIu64, path, r->seq);
	}
	buf_release(&b);
	free(path);
	return rc;
}

/* Apply every received bundle in order: record it in chan_applied. */
static int
apply_all(struct channel *ch, int64_t now, unsigned *applied,
    struct ferry_err *err)
{
	struct store_in r;
	sqlite3_stmt *q = NULL;
	int rc;

	for (;;) {
		rc = channel_next_to_apply(ch, &r, err);
		if (rc == FERRY_ENOTFOUND)
			return 0;
		if (rc < 0)
			return rc;
		/* Apply reads the local copy, as the real one does. */
		if ((rc = check_copy(ch, &r, err)) < 0)
			goto out;
		if ((rc = store_begin(ch->store, err)) < 0)
			goto out;
		if (sqlite3_prepare_v2(store_db(ch->store), "INSERT INTO "
		    "chan_applied (seq, hash, at) VALUES (?, ?, ?)", -1, &q,
		    NULL) != SQLITE_OK ||
		    sqlite3_bind_int64(q, 1, (sqlite3_int64)r.seq) !=
		    SQLITE_OK ||
		    sqlite3_bind_blob(q, 2, r.hash.b, SEQ_HASH_LEN,
		    SQLITE_STATIC) != SQLITE_OK ||
		    sqlite3_bind_int64(q, 3, now) != SQLITE_OK ||
		    sqlite3_step(q) != SQLITE_DONE) {
			rc = ferry_err_set(err, FERRY_EIO, "apply %" PRIu64
			    ": %s", r.seq, sqlite3_errmsg(store_db(
			    ch->store)));
			goto fail;
		}
		sqlite3_finalize(q);
		q = NULL;
		CRASHPOINT("chan.apply.before-commit");
		if ((rc = channel_applied(ch, &r, now, err)) < 0 ||
		    (rc = store_commit(ch->store, err)) < 0)
			goto fail;
		(*applied)++;
		store_in_release(&r);
	}
fail:
	sqlite3_finalize(q);
	store_rollback(ch->store);
	channel_reload(ch, NULL);
out:
	store_in_release(&r);
	return rc;
}

static int
make_bundles(struct channel *ch, struct site *s, const struct opts *o,
    struct ferry_err *err)
{
	char name[TRANSPORT_NAME_MAX], prev[2 * SEQ_HASH_LEN + 1];
	struct buf b = BUF_INIT(0);
	struct seq_hash h;
	unsigned i;
	size_t k;
	uint64_t seq, x;
	int rc = 0;

	for (i = 0; i < o->make && rc == 0; i++) {
		seq = channel_next_seq(ch);
		if ((rc = channel_next_name(ch, name, err)) < 0)
			break;
		seq_hash_hex(seq_out_prev(&ch->st), prev);
		buf_reset(&b);
		buf_addf(&b, "CHAN1\nconn=%s\nfrom=%s\nto=%s\nseq=%" PRIu64
		    "\nprev=%s\nack=%" PRIu64 "\nmade=%" PRId64 "\n\n",
		    s->conn_id, s->site_id, s->peer, seq, prev, ch->st.in_recv,
		    o->now);
		/* A payload that differs per site, seq and time. */
		x = seq * UINT64_C(0x9e3779b97f4a7c15) ^ (uint64_t)o->now;
		for (k = 0; k < o->size; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf_addch(&b, 'a' + (int)(x % 26));
		}
		fnv256(b.data, b.len, &h);
		/* The file is durable before the row that names it. */
		if ((rc = file_write_atomic(ch->outdir, name, b.data, b.len,
		    0600, err)) < 0)
			break;
		if ((rc = store_begin(ch->store, err)) < 0)
			break;
		if ((rc = channel_made(ch, name, &h, b.len, o->now, err)) < 0 ||
		    (rc = store_commit(ch->store, err)) < 0) {
			store_rollback(ch->store);
			channel_reload(ch, NULL);
			break;
		}
		CRASHPOINT("chan.make.after-commit");
	}
	buf_release(&b);
	return rc;
}

static int
cmd_run(const char *dir, const struct opts *o, struct ferry_err *err)
{
	struct spool_config scfg;
	struct channel_hooks hooks;
	struct channel ch;
	struct channel_stats cs;
	struct ferry_err uerr = FERRY_ERR_INIT;
	struct transport *t = NULL;
	struct store *st = NULL;
	struct lock *lk = NULL;
	struct site s = { NULL, NULL, NULL };
	unsigned applied = 0;
	bool unavail = false, chan_ok = false;
	int64_t conn;
	int rc;

	memset(&cs, 0, sizeof(cs));
	if ((rc = lock_acquire(dir, false, &lk, NULL, err)) < 0)
		return rc;
	if ((rc = store_open(dir, &st, err)) < 0 ||
	    (rc = load_site(st, &s, &conn, err)) < 0)
		goto out;
	scfg.outbox = o->outbox;
	scfg.inbox = o->inbox;
	scfg.require_mount = o->require_mount;
	scfg.local_dir = dir;
	scfg.max_file = o->max_file;
	if ((rc = spool_open(&scfg, s.conn_id, s.site_id, s.peer, &t,
	    err)) < 0)
		goto out;
	hooks.ctx = &s;
	hooks.verify = verify;
	hooks.make_ack = make_ack;
	if ((rc = channel_init(&ch, st, t, conn, dir, &hooks, err)) < 0)
		goto out;
	chan_ok = true;
	ch.rules.resend_after = o->resend;
	ch.rules.ack_interval = o->ack_interval;
	ch.retention = o->retention;
	if ((rc = channel_repair(&ch, err)) < 0)
		goto out;
	rc = channel_receive(&ch, o->now, &cs, err);
	if (rc == FERRY_EUNAVAIL) {
		uerr = *err;
		unavail = true;
	} else if (rc < 0) {
		goto out;
	}
	if ((rc = apply_all(&ch, o->now, &applied, err)) < 0 ||
	    (rc = make_bundles(&ch, &s, o, err)) < 0)
		goto out;
	rc = channel_send(&ch, o->now, &cs, err);
	if (rc == FERRY_EUNAVAIL) {
		uerr = *err;
		unavail = true;
	} else if (rc < 0) {
		goto out;
	}
	if ((rc = channel_prune(&ch, o->now, &cs, err)) < 0)
		goto out;
	printf("{\"fetched\": %u, \"accepted\": %u, \"held\": %u, "
	    "\"duplicates\": %u, \"quarantined\": %u, \"applied\": %u, "
	    "\"acks_in\": %u, \"sent\": %u, \"resent\": %u, \"acks_out\": %u, "
	    "\"removed\": %u, \"pruned\": %u, \"stopped\": %s, "
	    "\"unavailable\": %s}\n", cs.fetched, cs.accepted, cs.held,
	    cs.duplicates, cs.quarantined, applied, cs.acks_in, cs.sent,
	    cs.resent, cs.acks_out, cs.removed, cs.pruned,
	    ch.st.stop != SEQ_RUNNING ? "true" : "false",
	    unavail ? "true" : "false");
	rc = 0;
	if (unavail) {
		*err = uerr;
		rc = FERRY_EUNAVAIL;
	} else if (ch.st.stop != SEQ_RUNNING) {
		rc = ferry_err_set(err, FERRY_EFORK, "connection stopped: %s",
		    seq_stop_name(ch.st.stop));
	}
out:
	if (chan_ok)
		channel_release(&ch);
	transport_close(t);
	site_release(&s);
	store_close(st);
	lock_release(lk);
	return rc;
}

static void
print_hash(const void *p, int n)
{
	struct seq_hash h;
	char hex[2 * SEQ_HASH_LEN + 1];

	memset(&h, 0, sizeof(h));
	if (p != NULL && n == SEQ_HASH_LEN)
		memcpy(h.b, p, SEQ_HASH_LEN);
	seq_hash_hex(&h, hex);
	printf("\"%s\"", hex);
}

static void
print_json_str(const char *s)
{
	if (s == NULL) {
		printf("null");
		return;
	}
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int
cmd_dump(const char *dir, struct ferry_err *err)
{
	struct store *st = NULL;
	struct seq_state q;
	struct store_conn c;
	sqlite3_stmt *s = NULL;
	const char *sep;
	int rc;

	if ((rc = store_open(dir, &st, err)) < 0)
		return rc;
	if ((rc = store_conn_get(st, "chan", &c, err)) < 0)
		goto out;
	if ((rc = store_chan_load(st, c.id, &q, err)) < 0) {
		store_conn_release(&c);
		goto out;
	}
	printf("{\"out_sent\": %" PRIu64 ", \"out_acked\": %" PRIu64 ", "
	    "\"in_recv\": %" PRIu64 ", \"in_applied\": %" PRIu64 ", "
	    "\"ack_told\": %" PRIu64 ", \"stop\": \"%s\", \"conn_state\": "
	    "\"%s\", \"reason\": ", q.out_sent, q.out_acked, q.in_recv,
	    q.in_applied, q.ack_told, seq_stop_name(q.stop),
	    store_conn_state_name(c.state));
	print_json_str(c.reason);
	store_conn_release(&c);

	printf(", \"applied\": [");
	sqlite3_prepare_v2(store_db(st), "SELECT seq, hash FROM chan_applied "
	    "ORDER BY seq", -1, &s, NULL);
	for (sep = ""; sqlite3_step(s) == SQLITE_ROW; sep = ", ") {
		printf("%s[%lld, ", sep, (long long)sqlite3_column_int64(s, 0));
		print_hash(sqlite3_column_blob(s, 1),
		    sqlite3_column_bytes(s, 1));
		printf("]");
	}
	sqlite3_finalize(s);

	printf("], \"outgoing\": [");
	sqlite3_prepare_v2(store_db(st), "SELECT seq, hash, sends, "
	    "acked IS NOT NULL, file FROM outgoing ORDER BY seq", -1, &s,
	    NULL);
	for (sep = ""; sqlite3_step(s) == SQLITE_ROW; sep = ", ") {
		printf("%s[%lld, ", sep, (long long)sqlite3_column_int64(s, 0));
		print_hash(sqlite3_column_blob(s, 1),
		    sqlite3_column_bytes(s, 1));
		printf(", %lld, %s, ", (long long)sqlite3_column_int64(s, 2),
		    sqlite3_column_int(s, 3) ? "true" : "false");
		print_json_str((const char *)sqlite3_column_text(s, 4));
		printf("]");
	}
	sqlite3_finalize(s);

	printf("], \"incoming\": [");
	sqlite3_prepare_v2(store_db(st), "SELECT seq, hash, state, reason, "
	    "file FROM incoming ORDER BY seq, id", -1, &s, NULL);
	for (sep = ""; sqlite3_step(s) == SQLITE_ROW; sep = ", ") {
		printf("%s[%lld, ", sep, (long long)sqlite3_column_int64(s, 0));
		print_hash(sqlite3_column_blob(s, 1),
		    sqlite3_column_bytes(s, 1));
		printf(", \"%s\", ", store_in_state_name(
		    (enum store_in_state)sqlite3_column_int(s, 2)));
		print_json_str((const char *)sqlite3_column_text(s, 3));
		printf(", ");
		print_json_str((const char *)sqlite3_column_text(s, 4));
		printf("]");
	}
	sqlite3_finalize(s);
	printf("]}\n");
	rc = 0;
out:
	store_close(st);
	return rc;
}

static int
cmd_put(int argc, char **argv, struct ferry_err *err)
{
	struct spool_config cfg = { NULL, NULL, false, NULL, 0 };
	struct transport *t = NULL;
	struct stat st;
	int rc;

	if (argc != 5)
		return ferry_err_set(err, FERRY_EUSAGE,
		    "usage: chan put SPOOL FILE NAME");
	if (stat(argv[3], &st) == -1)
		return ferry_err_sys(err, FERRY_EIO, "cannot stat '%s'",
		    argv[3]);
	cfg.outbox = cfg.inbox = argv[2];
	if ((rc = spool_open(&cfg, "c1", "sa", "sb", &t, err)) < 0)
		return rc;
	rc = t->ops->put(t, argv[3], argv[4], (uint64_t)st.st_size, err);
	transport_close(t);
	return rc;
}

static int64_t
num(const char *s)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		fprintf(stderr, "chan: bad number '%s'\n", s);
		exit(64);
	}
	return v;
}

int
main(int argc, char **argv)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct opts o;
	int rc, i;

	log_set_level(getenv("CHAN_VERBOSE") ? LOG_DEBUG : LOG_WARN);
	memset(&o, 0, sizeof(o));
	o.now = (int64_t)time(NULL);
	o.resend = 3600;
	o.ack_interval = 0;
	o.retention = 86400;
	o.size = 64;
	if (argc < 3) {
		fprintf(stderr, "usage: chan init|run|dump DIR ...\n");
		return 64;
	}
	if (strcmp(argv[1], "init") == 0) {
		rc = cmd_init(argc - 1, argv + 1, &err);
	} else if (strcmp(argv[1], "put") == 0) {
		rc = cmd_put(argc, argv, &err);
	} else if (strcmp(argv[1], "dump") == 0) {
		rc = cmd_dump(argv[2], &err);
	} else if (strcmp(argv[1], "run") == 0) {
		for (i = 3; i < argc; i++) {
			const char *a = argv[i], *v = i + 1 < argc ?
			    argv[i + 1] : "";

			if (strcmp(a, "--require-mount") == 0) {
				o.require_mount = true;
				continue;
			}
			i++;
			if (strcmp(a, "--spool") == 0)
				o.outbox = o.inbox = v;
			else if (strcmp(a, "--outbox") == 0)
				o.outbox = v;
			else if (strcmp(a, "--inbox") == 0)
				o.inbox = v;
			else if (strcmp(a, "--make") == 0)
				o.make = (unsigned)num(v);
			else if (strcmp(a, "--size") == 0)
				o.size = (size_t)num(v);
			else if (strcmp(a, "--now") == 0)
				o.now = num(v);
			else if (strcmp(a, "--resend") == 0)
				o.resend = num(v);
			else if (strcmp(a, "--ack-interval") == 0)
				o.ack_interval = num(v);
			else if (strcmp(a, "--retention") == 0)
				o.retention = num(v);
			else if (strcmp(a, "--max-file") == 0)
				o.max_file = (uint64_t)num(v);
			else {
				fprintf(stderr, "chan: unknown option '%s'\n",
				    a);
				return 64;
			}
		}
		if (o.outbox == NULL || o.inbox == NULL) {
			fprintf(stderr, "chan: run needs --spool\n");
			return 64;
		}
		rc = cmd_run(argv[2], &o, &err);
	} else {
		fprintf(stderr, "chan: unknown command '%s'\n", argv[1]);
		return 64;
	}
	if (rc < 0) {
		fprintf(stderr, "chan: %s\n", err.msg);
		if (rc == FERRY_EUNAVAIL || rc == FERRY_ELOCKED)
			return 75;
		if (rc == FERRY_EFORK)
			return 65;
		return 1;
	}
	return 0;
}
