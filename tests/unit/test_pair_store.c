/* test_pair_store.c: the store's pairing tables (schema 4). */
#include "ferry/common.h"
#include "ferry/store.h"
#include "testutil.h"

#include <stdlib.h>
#include <unistd.h>

struct fx {
	char		*dir;
	struct store	*s;
	int64_t		 conn;
};

static int
setup(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_conn c;
	struct fx *f = xcalloc(1, sizeof(*f));
	char tmpl[] = "/tmp/ferry-pair-store-XXXXXX";

	f->dir = xstrdup(mkdtemp(tmpl));
	memset(&c, 0, sizeof(c));
	c.conn_id = (char *)(uintptr_t)"1a2b3c4d";
	c.name = (char *)(uintptr_t)"link";
	c.project = (char *)(uintptr_t)"DEMO";
	c.sync_user = (char *)(uintptr_t)"ferry";
	if (store_open(f->dir, &f->s, &err) < 0 ||
	    store_conn_add(f->s, &c, &f->conn, &err) < 0) {
		fprintf(stderr, "setup: %s\n", err.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char *cmd = xasprintf("rm -rf '%s'", f->dir);

	store_close(f->s);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", f->dir);
	free(cmd);
	free(f->dir);
	free(f);
	return 0;
}

static void
test_new_invitation_replaces_the_pending_one(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_invite *v = NULL;
	int64_t id1, id2;
	size_t n;

	assert_int_equal(store_invite_add(f->s, f->conn, "12345678", 8, 100,
	    200, &id1, &err), 0);
	assert_int_equal(store_invite_add(f->s, f->conn, "abcdefgh", 8, 150,
	    250, &id2, &err), 0);
	assert_int_equal(store_invite_list(f->s, f->conn, &v, &n, &err), 0);
	assert_int_equal(n, 2);
	/* Newest first. */
	assert_int_equal(v[0].id, id2);
	assert_int_equal(v[0].state, STORE_INVITE_PENDING);
	assert_memory_equal(v[0].secret, "abcdefgh", 8);
	assert_int_equal(v[0].secretlen, 8);
	assert_int_equal(v[0].expires, 250);
	assert_int_equal(v[0].used, SEQ_NEVER);
	assert_int_equal(v[1].state, STORE_INVITE_REPLACED);
	store_invite_free(v, n);

	assert_int_equal(store_invite_use(f->s, id2, "peer", 180, &err), 0);
	assert_int_equal(store_invite_list(f->s, f->conn, &v, &n, &err), 0);
	assert_int_equal(v[0].state, STORE_INVITE_USED);
	assert_int_equal(v[0].used, 180);
	assert_string_equal(v[0].used_by, "peer");
	store_invite_free(v, n);
}

static void
test_pairing_row_round_trips_and_names_its_hello(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_pairing p, q;
	bool yes;

	assert_int_equal(store_pairing_get(f->s, f->conn, &q, &err),
	    FERRY_ENOTFOUND);
	memset(&p, 0, sizeof(p));
	p.conn = f->conn;
	p.role = STORE_PAIR_ACCEPTOR;
	p.expect_fpr = (char *)(uintptr_t)"56d287dbf284329b6374";
	p.hello = (char *)(uintptr_t)"ferry_x_hello.fbz";
	p.created = 10;
	p.paired = SEQ_NEVER;
	assert_int_equal(store_pairing_put(f->s, &p, &err), 0);
	assert_int_equal(store_pairing_get(f->s, f->conn, &q, &err), 0);
	assert_int_equal(q.role, STORE_PAIR_ACCEPTOR);
	assert_string_equal(q.expect_fpr, p.expect_fpr);
	assert_string_equal(q.hello, p.hello);
	assert_null(q.hello_sent);
	assert_int_equal(q.paired, SEQ_NEVER);
	assert_int_equal(store_pairing_names(f->s, "ferry_x_hello.fbz", &yes,
	    &err), 0);
	assert_true(yes);
	assert_int_equal(store_pairing_names(f->s, "other", &yes, &err), 0);
	assert_false(yes);
	/* Sent: the row stops naming the local file. */
	q.hello_sent = q.hello;
	q.hello = NULL;
	q.paired = 20;
	assert_int_equal(store_pairing_put(f->s, &q, &err), 0);
	store_pairing_release(&q);
	assert_int_equal(store_pairing_get(f->s, f->conn, &q, &err), 0);
	assert_null(q.hello);
	assert_string_equal(q.hello_sent, "ferry_x_hello.fbz");
	assert_int_equal(q.paired, 20);
	store_pairing_release(&q);
}

static void
test_hello_is_judged_once_and_unpaired_rows_follow_config(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct store_conn c;
	char *verdict = NULL;
	bool seen;

	assert_int_equal(store_hello_seen(f->s, f->conn, "h1", &seen,
	    &verdict, &err), 0);
	assert_false(seen);
	assert_null(verdict);
	assert_int_equal(store_hello_mark(f->s, f->conn, "h1", "auth-failed",
	    5, &err), 0);
	assert_int_equal(store_hello_seen(f->s, f->conn, "h1", &seen,
	    &verdict, &err), 0);
	assert_true(seen);
	assert_string_equal(verdict, "auth-failed");
	free(verdict);
	assert_int_equal(store_conn_set_local(f->s, f->conn, "OTHER", "bob",
	    &err), 0);
	assert_int_equal(store_conn_get(f->s, "link", &c, &err), 0);
	assert_string_equal(c.project, "OTHER");
	assert_string_equal(c.sync_user, "bob");
	store_conn_release(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_new_invitation_replaces_the_pending_one, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_pairing_row_round_trips_and_names_its_hello, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_hello_is_judged_once_and_unpaired_rows_follow_config,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
