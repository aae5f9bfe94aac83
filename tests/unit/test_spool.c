/* test_spool.c: names, addressing, others' files, unavailable media. */
#include "ferry/common.h"
#include "ferry/file.h"
#include "ferry/transport.h"
#include "testutil.h"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

struct fx {
	char			*dir;		/* the spool folder */
	char			*local;		/* a local folder */
	struct transport	*a;		/* site sa, peer sb */
	struct transport	*b;		/* site sb, peer sa */
};

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct ferry_err err = FERRY_ERR_INIT;
	struct spool_config cfg = { NULL, NULL, false, NULL, 0 };

	f->dir = tu_mkdtemp();
	f->local = tu_mkdtemp();
	cfg.outbox = cfg.inbox = f->dir;
	if (spool_open(&cfg, "c1", "sa", "sb", &f->a, &err) < 0 ||
	    spool_open(&cfg, "c1", "sb", "sa", &f->b, &err) < 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	file_fault_clear();
	/* A test that failed while its medium was mounted leaves no mount. */
	umount2(f->dir, MNT_DETACH);
	transport_close(f->a);
	transport_close(f->b);
	tu_rmtree(f->dir);
	tu_rmtree(f->local);
	free(f->dir);
	free(f->local);
	free(f);
	return 0;
}

static void
test_spool_names_are_fat_safe_and_round_trip(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char name[TRANSPORT_NAME_MAX], name2[TRANSPORT_NAME_MAX];
	struct transport_name info;
	size_t i;

	(void)state;
	assert_int_equal(transport_name_data("c0ffee", "alpha", "beta", 42,
	    name, &err), 0);
	assert_string_equal(name, "ferry_c0ffee_alpha_beta_000000000042.fbz");
	for (i = 0; name[i] != '\0'; i++)
		assert_non_null(strchr("abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-", name[i]));
	assert_true(transport_name_parse(name, &info));
	assert_string_equal(info.conn, "c0ffee");
	assert_string_equal(info.from, "alpha");
	assert_string_equal(info.to, "beta");
	assert_int_equal(info.seq, 42);
	assert_string_equal(info.kind, "data");

	/* Data names sort by seq. */
	assert_int_equal(transport_name_data("c0ffee", "alpha", "beta", 9,
	    name2, &err), 0);
	assert_true(strcmp(name2, name) < 0);

	assert_int_equal(transport_name_control("c0ffee", "alpha", "beta",
	    "ack", 1700000000, name, &err), 0);
	assert_true(strncmp(name, "ferry_c0ffee_alpha_beta_c20231114T221320",
	    40) == 0);
	assert_true(transport_name_parse(name, &info));
	assert_int_equal(info.seq, 0);
	assert_string_equal(info.kind, "ack");

	assert_int_equal(transport_name_data("c_1", "a", "b", 1, name, &err),
	    FERRY_ERR);
	assert_int_equal(transport_name_data("c", "a/b", "b", 1, name, &err),
	    FERRY_ERR);
}

static void
test_spool_name_parser_rejects_others(void **state)
{
	struct transport_name info;
	static const char *const bad[] = {
		"ferry_c_a_b_000000000000.fbz",		/* seq 0 */
		"ferry_c_a_b_00000000001.fbz",		/* 11 digits */
		"ferry_c_a_b_000000000001.fbz.tmp",
		".ferry_c_a_b_000000000001.fbz.tmp",
		"ferry_c_a_000000000001.fbz",
		"ferry_c_a_b_c_000000000001.fbz",
		"ferry_c_a_b_x00000000001.fbz",
		"notes.txt",
		"FERRY_C_A_B_000000000001.FBZ",
		"ferry_c_a_b_c20231114T2213200a1g_ack.fbz",
		"ferry_c_a_b_c20231114T2213200a1f_Ack.fbz",
	};
	size_t i;

	(void)state;
	for (i = 0; i < FERRY_ARRAY_SIZE(bad); i++)
		assert_false(transport_name_parse(bad[i], &info));
	assert_true(transport_name_parse("ferry_c_a_b_000000000001.fbz",
	    &info));
}

static void
put_local(struct fx *f, const char *name, const char *data)
{
	char *p = file_join(f->local, name);

	tu_write_file(p, data, strlen(data));
	free(p);
}

static void
put_raw(struct fx *f, const char *name, const char *data)
{
	char *p = file_join(f->dir, name);

	tu_write_file(p, data, strlen(data));
	free(p);
}

static void
test_spool_lists_only_files_addressed_to_this_site(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct transport_file *v;
	char *path = file_join(f->local, "x");
	size_t n;

	put_local(f, "x", "bundle");
	assert_int_equal(f->a->ops->put(f->a, path,
	    "ferry_c1_sa_sb_000000000002.fbz", 6, &err), 0);
	assert_int_equal(f->a->ops->put(f->a, path,
	    "ferry_c1_sa_sb_000000000001.fbz", 6, &err), 0);
	/* Others on the same stick: another connection, site, stray file. */
	put_raw(f, "ferry_c2_sa_sb_000000000001.fbz", "other conn");
	put_raw(f, "ferry_c1_sa_sc_000000000001.fbz", "other site");
	put_raw(f, "ferry_c1_sc_sb_000000000001.fbz", "other sender");
	put_raw(f, ".ferry_c1_sa_sb_000000000003.fbz.tmp", "partial");
	put_raw(f, "notes.txt", "hello");

	assert_int_equal(f->b->ops->list(f->b, TRANSPORT_INCOMING, &v, &n,
	    &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].name, "ferry_c1_sa_sb_000000000001.fbz");
	assert_int_equal(v[0].info.seq, 1);
	assert_int_equal(v[0].size, 6);
	assert_string_equal(v[1].name, "ferry_c1_sa_sb_000000000002.fbz");
	transport_files_free(v, n);
	assert_int_equal(f->a->ops->list(f->a, TRANSPORT_INCOMING, &v, &n,
	    &err), 0);
	assert_int_equal(n, 0);
	transport_files_free(v, n);
	assert_int_equal(f->a->ops->list(f->a, TRANSPORT_OWN, &v, &n, &err),
	    0);
	assert_int_equal(n, 2);
	transport_files_free(v, n);

	assert_int_equal(f->b->ops->fetch(f->b,
	    "ferry_c1_sa_sb_000000000001.fbz", f->local, "copy", &err), 0);
	free(path);
	path = file_join(f->local, "copy");
	free(tu_read_file(path, &n));
	assert_int_equal(n, 6);
	assert_int_equal(f->b->ops->fetch(f->b,
	    "ferry_c1_sa_sb_000000000009.fbz", f->local, "copy2", &err),
	    FERRY_ENOTFOUND);
	free(path);
}

static void
test_spool_never_removes_a_file_it_did_not_write(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *p;

	put_raw(f, "ferry_c1_sa_sb_000000000001.fbz", "from a");
	assert_int_equal(f->b->ops->remove(f->b,
	    "ferry_c1_sa_sb_000000000001.fbz", &err), FERRY_ERR);
	assert_non_null(strstr(err.msg, "not written by this site"));
	assert_int_equal(f->b->ops->remove(f->b, "notes.txt", &err),
	    FERRY_ERR);
	p = file_join(f->dir, "ferry_c1_sa_sb_000000000001.fbz");
	assert_true(file_exists(p));
	assert_int_equal(f->a->ops->remove(f->a,
	    "ferry_c1_sa_sb_000000000001.fbz", &err), 0);
	assert_false(file_exists(p));
	/* Already gone is fine. */
	assert_int_equal(f->a->ops->remove(f->a,
	    "ferry_c1_sa_sb_000000000001.fbz", &err), 0);
	free(p);
}

static void
test_spool_missing_folder_is_unavailable(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct spool_config cfg = { "/nonexistent/ferry", "/nonexistent/ferry",
	    false, NULL, 0 };
	struct transport *t;
	struct transport_file *v;
	char *path = file_join(f->local, "x");
	size_t n;

	put_local(f, "x", "bundle");
	assert_int_equal(spool_open(&cfg, "c1", "sa", "sb", &t, &err), 0);
	assert_int_equal(t->ops->put(t, path,
	    "ferry_c1_sa_sb_000000000001.fbz", 6, &err), FERRY_EUNAVAIL);
	assert_non_null(strstr(err.msg, "transport unavailable"));
	assert_non_null(strstr(err.msg, "mounted"));
	assert_int_equal(t->ops->list(t, TRANSPORT_INCOMING, &v, &n, &err),
	    FERRY_EUNAVAIL);
	transport_close(t);
	free(path);
}

static void
test_spool_empty_mount_point_is_not_mounted(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct spool_config cfg = { NULL, NULL, true, NULL, 0 };
	struct transport *t;

	cfg.outbox = cfg.inbox = f->dir;
	assert_int_equal(spool_open(&cfg, "c1", "sa", "sb", &t, &err), 0);
	assert_int_equal(t->ops->check(t, true, &err), FERRY_EUNAVAIL);
	assert_non_null(strstr(err.msg, "not mounted"));
	/* A mounted file system there: available. */
	if (mount("tmpfs", f->dir, "tmpfs", 0, "size=64k") == 0) {
		assert_int_equal(t->ops->check(t, true, &err), 0);
		assert_int_equal(umount(f->dir), 0);
	}
	/* Not empty: a plain folder in use. */
	put_raw(f, "notes.txt", "x");
	assert_int_equal(t->ops->check(t, true, &err), 0);
	transport_close(t);
}

/* An empty folder inside a mounted medium: the medium is there. */
static void
test_spool_empty_folder_on_a_mounted_medium_is_available(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct spool_config cfg = { NULL, NULL, true, NULL, 0 };
	struct transport *t;
	char *sub = file_join(f->dir, "ferry");

	if (mount("tmpfs", f->dir, "tmpfs", 0, "size=64k") == -1) {
		free(sub);
		skip();
	}
	assert_int_equal(file_mkdirs(sub, 0700, &err), 0);
	cfg.outbox = cfg.inbox = sub;
	cfg.local_dir = f->local;
	assert_int_equal(spool_open(&cfg, "c1", "sa", "sb", &t, &err), 0);
	assert_int_equal(t->ops->check(t, true, &err), 0);
	transport_close(t);
	/* Without the state directory to compare, it looks unmounted. */
	cfg.local_dir = NULL;
	assert_int_equal(spool_open(&cfg, "c1", "sa", "sb", &t, &err), 0);
	assert_int_equal(t->ops->check(t, true, &err), FERRY_EUNAVAIL);
	transport_close(t);
	assert_int_equal(umount(f->dir), 0);
	free(sub);
}

static void
test_spool_over_the_size_limit_is_unavailable(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct spool_config cfg = { NULL, NULL, false, NULL, 4 };
	struct transport *t;
	char *path = file_join(f->local, "x");

	cfg.outbox = cfg.inbox = f->dir;
	put_local(f, "x", "bundle");
	assert_int_equal(spool_open(&cfg, "c1", "sa", "sb", &t, &err), 0);
	assert_int_equal(t->ops->put(t, path,
	    "ferry_c1_sa_sb_000000000001.fbz", 6, &err), FERRY_EUNAVAIL);
	assert_non_null(strstr(err.msg, "size limit"));
	assert_int_equal(tu_count_entries(f->dir), 0);
	transport_close(t);
	free(path);
}

static void
test_spool_write_failures_are_unavailable_and_leave_nothing(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *path = file_join(f->local, "x");
	static const struct {
		enum file_op	 op;
		int		 e;
		const char	*want;
	} cases[] = {
		{ FILE_OP_WRITE, ENOSPC, "full" },
		{ FILE_OP_FSYNC, EIO, "unavailable" },
		{ FILE_OP_RENAME, EROFS, "read-only" },
		{ FILE_OP_OPEN, EROFS, "read-only" },
	};
	size_t i;

	put_local(f, "x", "bundle");
	for (i = 0; i < FERRY_ARRAY_SIZE(cases); i++) {
		/* The first open is of the local file: fail the second. */
		file_fault_inject(cases[i].op,
		    cases[i].op == FILE_OP_OPEN ? 2 : 1, cases[i].e, false);
		assert_int_equal(f->a->ops->put(f->a, path,
		    "ferry_c1_sa_sb_000000000001.fbz", 6, &err),
		    FERRY_EUNAVAIL);
		assert_non_null(strstr(err.msg, cases[i].want));
		file_fault_clear();
		assert_int_equal(tu_count_entries(f->dir), 0);
	}
	free(path);
}

/* Real media: a full tmpfs and a read-only one (where mounting works). */
static void
test_spool_real_full_and_read_only_media(void **state)
{
	struct fx *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *path = file_join(f->local, "big");
	static char big[256 * 1024];

	if (mount("tmpfs", f->dir, "tmpfs", 0, "size=128k") == -1) {
		free(path);
		skip();
	}
	memset(big, 'b', sizeof(big));
	tu_write_file(path, big, sizeof(big));
	assert_int_equal(f->a->ops->put(f->a, path,
	    "ferry_c1_sa_sb_000000000001.fbz", sizeof(big), &err),
	    FERRY_EUNAVAIL);
	assert_non_null(strstr(err.msg, "full"));
	assert_int_equal(tu_count_entries(f->dir), 0);
	assert_int_equal(mount("tmpfs", f->dir, "tmpfs", MS_REMOUNT | MS_RDONLY,
	    "size=128k"), 0);
	put_local(f, "x", "bundle");
	free(path);
	path = file_join(f->local, "x");
	assert_int_equal(f->a->ops->put(f->a, path,
	    "ferry_c1_sa_sb_000000000001.fbz", 6, &err), FERRY_EUNAVAIL);
	assert_non_null(strstr(err.msg, "read-only"));
	assert_int_equal(umount(f->dir), 0);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spool_names_are_fat_safe_and_round_trip),
		cmocka_unit_test(test_spool_name_parser_rejects_others),
		cmocka_unit_test_setup_teardown(
		    test_spool_lists_only_files_addressed_to_this_site, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_never_removes_a_file_it_did_not_write, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_missing_folder_is_unavailable, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_empty_mount_point_is_not_mounted, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_empty_folder_on_a_mounted_medium_is_available,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_over_the_size_limit_is_unavailable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_write_failures_are_unavailable_and_leave_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_spool_real_full_and_read_only_media, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
