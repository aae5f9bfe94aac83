/*
 * store_pair.c: the pairing tables of the store (schema 4): invitations,
 * each connection's side of the handshake, and the hellos judged.
 *
 * It talks to SQLite through store_db(), as the sync engine's accessors
 * may: store.c keeps its statement helpers private.
 */
#include "ferry/common.h"
#include "ferry/store.h"

#include <sqlite3.h>

static int
sql_err(struct store *s, struct ferry_err *err, int rc, const char *what)
{
	if ((rc & 0xff) == SQLITE_FULL)
		return ferry_err_set(err, FERRY_EIO, "%s: the disk is full",
		    what);
	if ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)
		return ferry_err_set(err, FERRY_ERETRY, "%s: database busy",
		    what);
	return ferry_err_set(err, FERRY_EIO, "%s: %s", what,
	    sqlite3_errmsg(store_db(s)));
}

static int
prepare(struct store *s, const char *sql, sqlite3_stmt **st,
    struct ferry_err *err)
{
	int rc = sqlite3_prepare_v2(store_db(s), sql, -1, st, NULL);

	if (rc != SQLITE_OK)
		return sql_err(s, err, rc, "cannot prepare statement");
	return 0;
}

/* Step a statement that returns no rows, and finalize it. */
static int
finish(struct store *s, sqlite3_stmt *st, struct ferry_err *err)
{
	int rc = sqlite3_step(st);

	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(s, err, rc, "cannot update the database");
	return 0;
}

static char *
col_str(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t == NULL ? NULL : xstrdup((const char *)t);
}

static int64_t
col_time(sqlite3_stmt *st, int i)
{
	if (sqlite3_column_type(st, i) == SQLITE_NULL)
		return SEQ_NEVER;
	return sqlite3_column_int64(st, i);
}

static int
bind_text(sqlite3_stmt *st, int i, const char *t)
{
	return t == NULL ? sqlite3_bind_null(st, i) :
	    sqlite3_bind_text(st, i, t, -1, SQLITE_TRANSIENT);
}

static int
bind_time(sqlite3_stmt *st, int i, int64_t t)
{
	return t == SEQ_NEVER ? sqlite3_bind_null(st, i) :
	    sqlite3_bind_int64(st, i, t);
}

int
store_invite_add(struct store *s, int64_t conn, const void *secret,
    size_t secretlen, int64_t created, int64_t expires, int64_t *id,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	assert(secretlen > 0 && secretlen <= STORE_SECRET_MAX);
	if ((rc = prepare(s, "UPDATE invitation SET state = 2 WHERE conn = ? "
	    "AND state = 0", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, conn);
	if ((rc = finish(s, st, err)) < 0)
		return rc;
	if ((rc = prepare(s, "INSERT INTO invitation (conn, secret, created, "
	    "expires) VALUES (?, ?, ?, ?)", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, conn);
	sqlite3_bind_blob(st, 2, secret, (int)secretlen, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, created);
	sqlite3_bind_int64(st, 4, expires);
	if ((rc = finish(s, st, err)) < 0)
		return rc;
	if (id != NULL)
		*id = sqlite3_last_insert_rowid(store_db(s));
	return 0;
}

int
store_invite_list(struct store *s, int64_t conn, struct store_invite **v,
    size_t *n, struct ferry_err *err)
{
	struct store_invite *r;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	const void *p;
	int rc, len;

	*v = NULL;
	*n = 0;
	if ((rc = prepare(s, "SELECT id, conn, secret, created, expires, "
	    "state, used, used_by FROM invitation WHERE conn = ? ORDER BY id "
	    "DESC", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, conn);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == cap) {
			cap = cap ? 2 * cap : 4;
			*v = xreallocarray(*v, cap, sizeof(**v));
		}
		r = &(*v)[(*n)++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		r->conn = sqlite3_column_int64(st, 1);
		p = sqlite3_column_blob(st, 2);
		len = sqlite3_column_bytes(st, 2);
		if (p != NULL && len > 0 && len <= STORE_SECRET_MAX) {
			memcpy(r->secret, p, (size_t)len);
			r->secretlen = (size_t)len;
		}
		r->created = sqlite3_column_int64(st, 3);
		r->expires = sqlite3_column_int64(st, 4);
		r->state = (enum store_invite_state)sqlite3_column_int(st, 5);
		r->used = col_time(st, 6);
		r->used_by = col_str(st, 7);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_invite_free(*v, *n);
		*v = NULL;
		*n = 0;
		return sql_err(s, err, rc, "cannot read invitations");
	}
	return 0;
}

int
store_invite_use(struct store *s, int64_t id, const char *by, int64_t now,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(s, "UPDATE invitation SET state = 1, used = ?, "
	    "used_by = ? WHERE id = ?", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	bind_text(st, 2, by);
	sqlite3_bind_int64(st, 3, id);
	return finish(s, st, err);
}

void
store_invite_free(struct store_invite *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		explicit_bzero(v[i].secret, sizeof(v[i].secret));
		free(v[i].used_by);
	}
	free(v);
}

int
store_pairing_get(struct store *s, int64_t conn, struct store_pairing *out,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	out->paired = SEQ_NEVER;
	if ((rc = prepare(s, "SELECT role, expect_fpr, hello, hello_sent, "
	    "created, paired FROM pairing WHERE conn = ?", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, conn);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		out->conn = conn;
		out->role = (enum store_pair_role)sqlite3_column_int(st, 0);
		out->expect_fpr = col_str(st, 1);
		out->hello = col_str(st, 2);
		out->hello_sent = col_str(st, 3);
		out->created = sqlite3_column_int64(st, 4);
		out->paired = col_time(st, 5);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = ferry_err_set(err, FERRY_ENOTFOUND,
		    "connection %" PRId64 " has no pairing record", conn);
	} else {
		rc = sql_err(s, err, rc, "cannot read the pairing record");
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_pairing_put(struct store *s, const struct store_pairing *p,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(s, "INSERT OR REPLACE INTO pairing (conn, role, "
	    "expect_fpr, hello, hello_sent, created, paired) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?)", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, p->conn);
	sqlite3_bind_int(st, 2, (int)p->role);
	bind_text(st, 3, p->expect_fpr);
	bind_text(st, 4, p->hello);
	bind_text(st, 5, p->hello_sent);
	sqlite3_bind_int64(st, 6, p->created);
	bind_time(st, 7, p->paired);
	return finish(s, st, err);
}

int
store_pairing_names(struct store *s, const char *file, bool *yes,
    struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*yes = false;
	if ((rc = prepare(s, "SELECT 1 FROM pairing WHERE hello = ?", &st,
	    err)) < 0)
		return rc;
	bind_text(st, 1, file);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_ROW)
		*yes = true;
	else if (rc != SQLITE_DONE)
		return sql_err(s, err, rc, "cannot read the pairing records");
	return 0;
}

void
store_pairing_release(struct store_pairing *p)
{
	FREE_AND_NULL(p->expect_fpr);
	FREE_AND_NULL(p->hello);
	FREE_AND_NULL(p->hello_sent);
}

int
store_hello_seen(struct store *s, int64_t conn, const char *name, bool *seen,
    char **verdict, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*seen = false;
	if (verdict != NULL)
		*verdict = NULL;
	if ((rc = prepare(s, "SELECT verdict FROM hello_seen WHERE conn = ? "
	    "AND name = ?", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, conn);
	bind_text(st, 2, name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*seen = true;
		if (verdict != NULL)
			*verdict = col_str(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_err(s, err, rc, "cannot read the hellos seen");
	return 0;
}

int
store_hello_mark(struct store *s, int64_t conn, const char *name,
    const char *verdict, int64_t now, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(s, "INSERT OR REPLACE INTO hello_seen (conn, name, "
	    "verdict, at) VALUES (?, ?, ?, ?)", &st, err)) < 0)
		return rc;
	sqlite3_bind_int64(st, 1, conn);
	bind_text(st, 2, name);
	bind_text(st, 3, verdict);
	sqlite3_bind_int64(st, 4, now);
	return finish(s, st, err);
}

int
store_conn_set_local(struct store *s, int64_t id, const char *project,
    const char *sync_user, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(s, "UPDATE conn SET project = ?, sync_user = ? "
	    "WHERE id = ?", &st, err)) < 0)
		return rc;
	bind_text(st, 1, project);
	bind_text(st, 2, sync_user);
	sqlite3_bind_int64(st, 3, id);
	return finish(s, st, err);
}

int
store_conn_set_ids(struct store *s, int64_t id, const char *conn_id,
    const char *peer_site, struct ferry_err *err)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if ((rc = prepare(s, "UPDATE conn SET conn_id = ?, peer_site = ?, "
	    "peer_fpr = NULL WHERE id = ?", &st, err)) < 0)
		return rc;
	bind_text(st, 1, conn_id);
	bind_text(st, 2, peer_site);
	sqlite3_bind_int64(st, 3, id);
	return finish(s, st, err);
}
