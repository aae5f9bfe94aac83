/* test_store.c: the database: migrations, refusal, each accessor. */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/file.h"
#include "ferry/store.h"
#include "testutil.h"

#include <sqlite3.h>
#include <sys/mount.h>
#include <unistd.h>

/* The structs own their strings; tests lend them literals. */
#define S(x) ((char *)(uintptr_t)(x))

struct fx {
	char		*dir;
	struct store	*s;
	int64_t		 conn;
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_conn c = { 0, S("c0ffee"), S("alpha-beta"), S("DEMO"), S("ferry"),
	    NULL, NULL, S("outbox=/x\n"), STORE_CONN_RUNNING, NULL };

	f->dir = tu_mkdtemp();
	if (store_open(f->dir, &f->s, &err) < 0 ||
	    store_conn_add(f->s, &c, &f->conn, &err) < 0) {
		fprintf(stderr, "%s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->s);
	tu_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

static struct seq_hash
H(int n)
{
	struct seq_hash h;

	memset(&h, n, sizeof(h));
	return h;
}

static char *
pragma(struct store *s, const char *sql)
{
	sqlite3_stmt *st;
	char *v = NULL;

	assert_int_equal(sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL),
	    SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return v;
}

static void
test_store_open_sets_wal_foreign_keys_and_version(void **state)
{
	struct fx *f = *state;
	char *v;

	assert_int_equal(store_version(f->s), STORE_SCHEMA_VERSION);
	v = pragma(f->s, "PRAGMA journal_mode");
	assert_string_equal(v, "wal");
	free(v);
	v = pragma(f->s, "PRAGMA foreign_keys");
	assert_string_equal(v, "1");
	free(v);
	v = pragma(f->s, "PRAGMA synchronous");
	assert_string_equal(v, "2");
	free(v);
	v = pragma(f->s, "PRAGMA user_version");
	assert_int_equal(strtol(v, NULL, 10), STORE_SCHEMA_VERSION);
	free(v);
}

static void
test_store_migrates_an_older_database(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *dir = tu_mkdtemp();
	struct store *s;
	struct store_conn c = { 0, S("id1"), S("c1"), S("P"), S("u"), NULL, NULL, NULL,
	    STORE_CONN_RUNNING, NULL };
	struct seq_hash h = H(7);
	struct store_out o;
	int64_t id, n;

	(void)state;
	assert_int_equal(store_open_version(dir, 1, &s, &err), 0);
	assert_int_equal(store_version(s), 1);
	assert_int_equal(store_conn_add(s, &c, &id, &err), 0);
	assert_int_equal(store_out_add(s, id, 1, &h, "f1", 10, 5, &err), 0);
	/* Version 1 has no twins. */
	assert_int_equal(store_twin_put(s, id, STORE_TWIN_ISSUE, 1, 2, "P-1",
	    &err), FERRY_EIO);
	store_close(s);

	assert_int_equal(store_open(dir, &s, &err), 0);
	assert_int_equal(store_version(s), STORE_SCHEMA_VERSION);
	assert_int_equal(store_out_get(s, id, 1, &o, &err), 0);
	assert_string_equal(o.file, "f1");
	store_out_release(&o);
	assert_int_equal(store_twin_put(s, id, STORE_TWIN_ISSUE, 1, 2, "P-1",
	    &err), 0);
	assert_int_equal(store_park_count(s, id, &n, &err), 0);
	store_close(s);
	tu_rmtree(dir);
	free(dir);
}

static void
test_store_refuses_a_newer_database(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct store *s = NULL;

	assert_int_equal(store_exec(f->s, "PRAGMA user_version = 99", &err),
	    0);
	assert_int_equal(store_open(f->dir, &s, &err), FERRY_EVERSION);
	assert_null(s);
	assert_non_null(strstr(err.msg, "newer ferry"));
	assert_non_null(strstr(err.msg, "schema 99"));
	assert_non_null(strstr(err.msg, "upgrade ferry"));
}

static void
test_store_refuses_another_programs_database(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *dir = tu_mkdtemp(), *path = file_join(dir, STORE_DB_NAME);
	struct store *s = NULL;
	sqlite3 *db;

	(void)state;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA application_id = 42;"
	    "CREATE TABLE t(x)", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(dir, &s, &err), FERRY_ERR);
	assert_non_null(strstr(err.msg, "not a ferry database"));
	tu_rmtree(dir);
	free(dir);
	free(path);
}

static void
test_store_site_round_trip(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_site in = { S("s-alpha"), S("alpha"), S("ABCD") }, out;

	assert_int_equal(store_site_get(f->s, &out, &err), FERRY_ENOTFOUND);
	assert_int_equal(store_site_set(f->s, &in, &err), 0);
	in.key_fpr = S("EF01");
	assert_int_equal(store_site_set(f->s, &in, &err), 0);
	assert_int_equal(store_site_get(f->s, &out, &err), 0);
	assert_string_equal(out.site_id, "s-alpha");
	assert_string_equal(out.name, "alpha");
	assert_string_equal(out.key_fpr, "EF01");
	store_site_release(&out);
}

static void
test_store_conn_add_get_state_and_peer(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_conn c, dup = { 0, S("other"), S("alpha-beta"), S("X"), S("u"),
	    NULL, NULL, NULL, STORE_CONN_RUNNING, NULL };

	assert_int_equal(store_conn_get(f->s, "alpha-beta", &c, &err), 0);
	assert_int_equal(c.id, f->conn);
	assert_string_equal(c.conn_id, "c0ffee");
	assert_string_equal(c.project, "DEMO");
	assert_string_equal(c.sync_user, "ferry");
	assert_null(c.peer_site);
	assert_int_equal(c.state, STORE_CONN_RUNNING);
	store_conn_release(&c);

	assert_int_equal(store_conn_set_peer(f->s, f->conn, "s-beta", "FPR",
	    &err), 0);
	assert_int_equal(store_conn_set_state(f->s, f->conn,
	    STORE_CONN_STOPPED, "fork at seq 3", &err), 0);
	assert_int_equal(store_conn_get(f->s, "alpha-beta", &c, &err), 0);
	assert_string_equal(c.peer_site, "s-beta");
	assert_string_equal(c.peer_fpr, "FPR");
	assert_int_equal(c.state, STORE_CONN_STOPPED);
	assert_string_equal(c.reason, "fork at seq 3");
	assert_string_equal(store_conn_state_name(c.state), "stopped");
	store_conn_release(&c);

	assert_int_equal(store_conn_add(f->s, &dup, NULL, &err), FERRY_EIO);
	assert_non_null(strstr(err.msg, "alpha-beta"));
	assert_int_equal(store_conn_get(f->s, "nope", &c, &err),
	    FERRY_ENOTFOUND);
}

static void
test_store_chan_state_round_trip(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct seq_state a, b;

	assert_int_equal(store_chan_load(f->s, f->conn, &a, &err), 0);
	assert_int_equal(a.out_sent, 0);
	assert_true(a.ctl_at == SEQ_NEVER);
	assert_true(a.told_at == SEQ_NEVER);
	assert_true(a.out_ack_time == SEQ_NEVER);
	/* Saved and loaded as it was, the never-times included. */
	assert_int_equal(store_chan_save(f->s, f->conn, &a, &err), 0);
	assert_int_equal(store_chan_load(f->s, f->conn, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	a.out_sent = 5;
	a.out_hash = H(1);
	a.out_acked = 3;
	a.out_ack_time = 77;
	a.in_recv = 9;
	a.in_hash = H(2);
	a.in_applied = 8;
	a.ack_owed = true;
	a.ack_told = 7;
	a.told_at = 1200;
	a.ctl_at = 1234;
	a.stop = SEQ_STOP_FORK;
	a.stop_seq = 6;
	assert_int_equal(store_chan_save(f->s, f->conn, &a, &err), 0);
	assert_int_equal(store_chan_load(f->s, f->conn, &b, &err), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	/* A foreign key: no state for a connection that does not exist. */
	assert_int_equal(store_chan_save(f->s, 999, &a, &err), FERRY_EIO);
}

static void
test_store_chan_remembers_the_last_control_message(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct seq_state a;
	char *name;

	seq_init(&a);
	assert_int_equal(store_chan_save(f->s, f->conn, &a, &err), 0);
	assert_int_equal(store_chan_ctl_get(f->s, f->conn, &name, &err), 0);
	assert_null(name);
	assert_int_equal(store_chan_ctl_set(f->s, f->conn, "ctl-1", &err), 0);
	/* Saving the state keeps it. */
	assert_int_equal(store_chan_save(f->s, f->conn, &a, &err), 0);
	assert_int_equal(store_chan_ctl_get(f->s, f->conn, &name, &err), 0);
	assert_string_equal(name, "ctl-1");
	free(name);
}

static void
test_store_outgoing_accessors(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct seq_hash h1 = H(1), h2 = H(2), h3 = H(3);
	struct store_out o, *v;
	size_t n;
	bool yes;

	assert_int_equal(store_out_add(f->s, f->conn, 1, &h1, "b1", 100, 10,
	    &err), 0);
	assert_int_equal(store_out_add(f->s, f->conn, 2, &h2, "b2", 200, 11,
	    &err), 0);
	assert_int_equal(store_out_add(f->s, f->conn, 3, &h3, "b3", 300, 12,
	    &err), 0);
	/* A seq is never reused. */
	assert_int_equal(store_out_add(f->s, f->conn, 2, &h3, "bx", 1, 13,
	    &err), FERRY_EIO);

	assert_int_equal(store_out_get(f->s, f->conn, 2, &o, &err), 0);
	assert_true(seq_hash_eq(&o.hash, &h2));
	assert_int_equal(o.size, 200);
	assert_int_equal(o.made, 11);
	assert_int_equal(o.sends, 0);
	assert_true(o.last_send == SEQ_NEVER);
	assert_true(o.acked == SEQ_NEVER);
	store_out_release(&o);

	assert_int_equal(store_out_sent(f->s, f->conn, 2, 50, &err), 0);
	assert_int_equal(store_out_sent(f->s, f->conn, 2, 60, &err), 0);
	assert_int_equal(store_out_acked(f->s, f->conn, 2, 70, &err), 0);
	assert_int_equal(store_out_acked(f->s, f->conn, 3, 80, &err), 0);
	assert_int_equal(store_out_get(f->s, f->conn, 2, &o, &err), 0);
	assert_int_equal(o.sends, 2);
	assert_int_equal(o.last_send, 60);
	assert_int_equal(o.acked, 70);
	store_out_release(&o);

	assert_int_equal(store_out_list(f->s, f->conn, 1, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].seq, 2);
	assert_int_equal(v[1].seq, 3);
	assert_int_equal(v[1].acked, 80);
	store_out_free(v, n);

	assert_int_equal(store_out_forget_file(f->s, f->conn, 1, &err), 0);
	assert_int_equal(store_out_names(f->s, "b1", &yes, &err), 0);
	assert_false(yes);
	assert_int_equal(store_out_names(f->s, "b3", &yes, &err), 0);
	assert_true(yes);
	assert_int_equal(store_out_list_acked(f->s, f->conn, &v, &n, &err),
	    0);
	assert_int_equal(n, 2);
	store_out_free(v, n);
	assert_int_equal(store_out_get(f->s, f->conn, 9, &o, &err),
	    FERRY_ENOTFOUND);
}

static struct seq_msg
M(uint64_t seq, int h)
{
	struct seq_msg m;

	memset(&m, 0, sizeof(m));
	m.bundle = true;
	m.seq = seq;
	m.hash = H(h);
	m.prev = H(h - 1);
	m.ack = 4;
	m.time = 5;
	return m;
}

static void
test_store_incoming_accessors(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct seq_msg m1 = M(1, 1), m2 = M(2, 2), f2 = M(2, 9), q2 = M(2, 8);
	struct seq_msg q7 = M(7, 7);
	struct seq_hash known;
	struct store_in r, *v;
	bool have, seen, yes;
	int64_t id1, id2, cnt;
	uint64_t top;
	size_t n;

	assert_int_equal(store_in_add(f->s, f->conn, &m1, STORE_IN_RECEIVED,
	    NULL, "in1", 10, &id1, &err), 0);
	assert_int_equal(store_in_add(f->s, f->conn, &m2, STORE_IN_HELD,
	    NULL, "in2", 11, &id2, &err), 0);
	/* Only one live record per seq ... */
	assert_int_equal(store_in_add(f->s, f->conn, &f2, STORE_IN_HELD,
	    NULL, "in2b", 12, NULL, &err), FERRY_EIO);
	/* ... but quarantined copies beside it, each hash once. */
	assert_int_equal(store_in_add(f->s, f->conn, &q2,
	    STORE_IN_QUARANTINED, "bad chain", "q2", 13, NULL, &err), 0);
	assert_int_equal(store_in_add(f->s, f->conn, &q2,
	    STORE_IN_QUARANTINED, "bad chain", "q2", 13, NULL, &err),
	    FERRY_EIO);

	assert_int_equal(store_in_lookup(f->s, f->conn, 2, &f2.hash, &have,
	    &known, &seen, &err), 0);
	assert_true(have);
	assert_true(seq_hash_eq(&known, &m2.hash));
	assert_false(seen);
	assert_int_equal(store_in_lookup(f->s, f->conn, 2, &q2.hash, &have,
	    &known, &seen, &err), 0);
	assert_true(seen);
	assert_int_equal(store_in_lookup(f->s, f->conn, 3, &q2.hash, &have,
	    &known, &seen, &err), 0);
	assert_false(have);
	assert_false(seen);

	assert_int_equal(store_in_get(f->s, f->conn, 2, &r, &err), 0);
	assert_int_equal(r.id, id2);
	assert_int_equal(r.state, STORE_IN_HELD);
	assert_true(seq_hash_eq(&r.prev, &m2.prev));
	assert_int_equal(r.ack, 4);
	assert_int_equal(r.time, 5);
	assert_string_equal(r.file, "in2");
	store_in_release(&r);

	assert_int_equal(store_in_set_state(f->s, id1, STORE_IN_APPLIED, NULL,
	    20, &err), 0);
	assert_int_equal(store_in_forget_file(f->s, id1, &err), 0);
	assert_int_equal(store_in_get(f->s, f->conn, 1, &r, &err), 0);
	assert_int_equal(r.state, STORE_IN_APPLIED);
	assert_int_equal(r.applied, 20);
	assert_null(r.file);
	store_in_release(&r);

	assert_int_equal(store_in_count(f->s, f->conn, STORE_IN_HELD, 1, &cnt,
	    &err), 0);
	assert_int_equal(cnt, 1);
	assert_int_equal(store_in_count(f->s, f->conn, STORE_IN_HELD, 2, &cnt,
	    &err), 0);
	assert_int_equal(cnt, 0);
	assert_int_equal(store_in_list(f->s, f->conn, STORE_IN_QUARANTINED,
	    &v, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].reason, "bad chain");
	store_in_free(v, n);
	/* The top: the highest live seq; a quarantined one proves nothing. */
	assert_int_equal(store_in_top(f->s, f->conn, &top, &err), 0);
	assert_int_equal(top, 2);
	assert_int_equal(store_in_add(f->s, f->conn, &q7,
	    STORE_IN_QUARANTINED, "bad signature", "q7", 14, NULL, &err), 0);
	assert_int_equal(store_in_top(f->s, f->conn, &top, &err), 0);
	assert_int_equal(top, 2);
	assert_int_equal(store_in_top(f->s, f->conn + 1, &top, &err), 0);
	assert_int_equal(top, 0);
	assert_int_equal(store_in_names(f->s, "in2", &yes, &err), 0);
	assert_true(yes);
	assert_int_equal(store_in_names(f->s, "in1", &yes, &err), 0);
	assert_false(yes);
	assert_string_equal(store_in_state_name(STORE_IN_QUARANTINED),
	    "quarantined");
}

static void
test_store_rollback_keeps_the_previous_state(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct seq_hash h = H(1);
	struct store_out o;

	assert_int_equal(store_begin(f->s, &err), 0);
	assert_int_equal(store_out_add(f->s, f->conn, 1, &h, "b1", 1, 1,
	    &err), 0);
	store_rollback(f->s);
	assert_int_equal(store_out_get(f->s, f->conn, 1, &o, &err),
	    FERRY_ENOTFOUND);
	assert_int_equal(store_begin(f->s, &err), 0);
	assert_int_equal(store_out_add(f->s, f->conn, 1, &h, "b1", 1, 1,
	    &err), 0);
	assert_int_equal(store_commit(f->s, &err), 0);
	assert_int_equal(store_out_get(f->s, f->conn, 1, &o, &err), 0);
	store_out_release(&o);
}

static void
test_store_sync_engine_tables(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct buf b = BUF_INIT(0);
	enum store_journal_state js;
	int64_t id, n, local, ms;

	assert_int_equal(store_park_add(f->s, f->conn, 3, 0, 1001,
	    STORE_WAITING, "parent not synced", "op", 2, 5, &id, &err), 0);
	assert_int_equal(store_park_add_blob(f->s, id, "abc", "parked/abc",
	    &err), 0);
	assert_int_equal(store_park_count(f->s, f->conn, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_park_done(f->s, id, &err), 0);
	assert_int_equal(store_park_count(f->s, f->conn, &n, &err), 0);
	assert_int_equal(n, 0);

	assert_int_equal(store_twin_put(f->s, f->conn, STORE_TWIN_ISSUE, 10,
	    5010, "DEMO-1", &err), 0);
	assert_int_equal(store_twin_put(f->s, f->conn, STORE_TWIN_ISSUE, 11,
	    5010, "DEMO-2", &err), FERRY_EIO);	/* never a second twin */
	assert_int_equal(store_twin_local(f->s, f->conn, STORE_TWIN_ISSUE,
	    5010, &local, &err), 0);
	assert_int_equal(local, 10);
	assert_int_equal(store_twin_local(f->s, f->conn, STORE_TWIN_COMMENT,
	    5010, &local, &err), FERRY_ENOTFOUND);
	assert_int_equal(store_twin_tombstone(f->s, f->conn, STORE_TWIN_ISSUE,
	    10, &err), 0);

	assert_int_equal(store_snapshot_put(f->s, f->conn, 10, "v1", 2, &err),
	    0);
	assert_int_equal(store_snapshot_put(f->s, f->conn, 10, "v2!", 3,
	    &err), 0);
	assert_int_equal(store_snapshot_get(f->s, f->conn, 10, &b, &err), 0);
	assert_string_equal(b.data, "v2!");
	buf_release(&b);
	assert_int_equal(store_snapshot_get(f->s, f->conn, 11, &b, &err),
	    FERRY_ENOTFOUND);

	assert_int_equal(store_watermark_get(f->s, f->conn, &ms, &err), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(store_watermark_set(f->s, f->conn, 1700000000000,
	    &err), 0);
	assert_int_equal(store_watermark_get(f->s, f->conn, &ms, &err), 0);
	assert_int_equal(ms, 1700000000000);

	assert_int_equal(store_journal_state(f->s, f->conn, 3, 1, &js, &err),
	    0);
	assert_int_equal(js, STORE_J_NONE);
	assert_int_equal(store_journal_intent(f->s, f->conn, 3, 1,
	    "issue 10", &err), 0);
	assert_int_equal(store_journal_state(f->s, f->conn, 3, 1, &js, &err),
	    0);
	assert_int_equal(js, STORE_J_INTENT);
	assert_int_equal(store_journal_done(f->s, f->conn, 3, 1, "ok", &err),
	    0);
	assert_int_equal(store_journal_state(f->s, f->conn, 3, 1, &js, &err),
	    0);
	assert_int_equal(js, STORE_J_DONE);

	assert_int_equal(store_error_add(f->s, f->conn, 10, 3, 2,
	    "Field 'x' is required", 400, 7, &id, &err), 0);
	assert_int_equal(store_error_count(f->s, f->conn, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_conflict_add(f->s, f->conn, 10, "summary",
	    "s-beta", 3, 7, &err), 0);
	assert_int_equal(store_conflict_count(f->s, f->conn, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_audit_begin(f->s, "run", 1, &id, &err), 0);
	assert_int_equal(store_audit_end(f->s, id, 0, "sent 1", 2, &err), 0);
}

static char *mounted;	/* unmounted by teardown_mount, even on failure */

static int
teardown_mount(void **state)
{
	(void)state;
	if (mounted != NULL) {
		umount2(mounted, MNT_DETACH);
		tu_rmtree(mounted);
		FREE_AND_NULL(mounted);
	}
	return 0;
}

/*
 * A real full file system (a 512 KiB tmpfs; skipped where mounting is
 * not allowed): the error says the disk is full, the last commit stays.
 */
static void
test_store_full_disk_is_a_clear_error_and_keeps_state(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *dir = tu_mkdtemp();
	struct store *s = NULL;
	struct store_conn c = { 0, S("id1"), S("c1"), S("P"), S("u"), NULL, NULL, NULL,
	    STORE_CONN_RUNNING, NULL };
	struct seq_hash h = H(3);
	struct store_out o;
	static char big[64 * 1024];
	int64_t id, i;
	int rc = 0;

	(void)state;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=512k") == -1) {
		tu_rmtree(dir);
		free(dir);
		skip();
	}
	mounted = dir;
	assert_int_equal(store_open(dir, &s, &err), 0);
	assert_int_equal(store_conn_add(s, &c, &id, &err), 0);
	assert_int_equal(store_out_add(s, id, 1, &h, "b1", 1, 1, &err), 0);
	memset(big, 'x', sizeof(big));
	for (i = 2; i < 100 && rc == 0; i++) {
		if ((rc = store_begin(s, &err)) < 0)
			break;
		rc = store_snapshot_put(s, id, i, big, sizeof(big), &err);
		if (rc == 0)
			rc = store_commit(s, &err);
		else
			store_rollback(s);
	}
	assert_int_equal(rc, FERRY_EIO);
	assert_non_null(strstr(err.msg, "full"));
	store_close(s);
	/* Room again: the database opens and holds every commit. */
	assert_int_equal(store_open(dir, &s, &err), 0);
	assert_int_equal(store_out_get(s, id, 1, &o, &err), 0);
	assert_true(seq_hash_eq(&o.hash, &h));
	store_out_release(&o);
	store_close(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_store_open_sets_wal_foreign_keys_and_version,
		    setup, teardown),
		cmocka_unit_test(test_store_migrates_an_older_database),
		cmocka_unit_test_setup_teardown(
		    test_store_refuses_a_newer_database, setup, teardown),
		cmocka_unit_test(test_store_refuses_another_programs_database),
		cmocka_unit_test_setup_teardown(test_store_site_round_trip,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_conn_add_get_state_and_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_chan_state_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_chan_remembers_the_last_control_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_outgoing_accessors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_incoming_accessors,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_rollback_keeps_the_previous_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_sync_engine_tables,
		    setup, teardown),
		cmocka_unit_test_teardown(
		    test_store_full_disk_is_a_clear_error_and_keeps_state,
		    teardown_mount),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
