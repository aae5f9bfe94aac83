/* test_file.c: crash-safe writes and bounded reads, with real failures. */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/file.h"
#include "testutil.h"

#include <sys/stat.h>

static int
setup(void **state)
{
	*state = tu_mkdtemp();
	return 0;
}

static int
teardown(void **state)
{
	file_fault_clear();
	tu_rmtree(*state);
	free(*state);
	return 0;
}

static void
test_write_atomic_creates_file_with_mode_and_no_temp(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *path = file_join(dir, "b1"), *got;
	struct stat st;
	size_t len;

	assert_int_equal(file_write_atomic(dir, "b1", "hello", 5, 0600, &err),
	    0);
	got = tu_read_file(path, &len);
	assert_non_null(got);
	assert_int_equal(len, 5);
	assert_memory_equal(got, "hello", 5);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(tu_count_entries(dir), 1);
	free(got);
	free(path);
}

static void
test_write_atomic_replaces_existing_file(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *path = file_join(dir, "f"), *got;

	assert_int_equal(file_write_atomic(dir, "f", "old", 3, 0644, &err), 0);
	assert_int_equal(file_write_atomic(dir, "f", "new!", 4, 0644, &err), 0);
	got = tu_read_file(path, NULL);
	assert_string_equal(got, "new!");
	free(got);
	free(path);
}

/* Each failing step leaves the old content and no temporary file. */
static void
check_failure_keeps_old(const char *dir, enum file_op op, int err_no,
    const char *want)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *path = file_join(dir, "f"), *got;

	assert_int_equal(file_write_atomic(dir, "f", "old", 3, 0644, &err), 0);
	file_fault_inject(op, 1, err_no, false);
	assert_int_equal(file_write_atomic(dir, "f", "new", 3, 0644, &err),
	    FERRY_EIO);
	assert_int_equal(err.sys, err_no);
	assert_non_null(strstr(err.msg, want));
	got = tu_read_file(path, NULL);
	assert_string_equal(got, "old");
	assert_int_equal(tu_count_entries(dir), 1);
	file_fault_clear();
	free(got);
	free(path);
}

static void
test_full_disk_on_write_keeps_previous_content(void **state)
{
	check_failure_keeps_old(*state, FILE_OP_WRITE, ENOSPC,
	    "No space left on device");
}

static void
test_failed_fsync_keeps_previous_content(void **state)
{
	check_failure_keeps_old(*state, FILE_OP_FSYNC, EIO, "cannot sync");
}

static void
test_failed_close_keeps_previous_content(void **state)
{
	check_failure_keeps_old(*state, FILE_OP_CLOSE, EDQUOT, "cannot close");
}

static void
test_failed_rename_keeps_previous_content(void **state)
{
	check_failure_keeps_old(*state, FILE_OP_RENAME, EROFS, "cannot rename");
}

static void
test_stale_temp_from_killed_run_is_replaced(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *tmp = file_join(dir, ".f.tmp");

	tu_write_file(tmp, "junk", 4);
	assert_int_equal(file_write_atomic(dir, "f", "x", 1, 0644, &err), 0);
	assert_false(file_exists(tmp));
	assert_int_equal(tu_count_entries(dir), 1);
	free(tmp);
}

static void
test_sticky_fault_fails_every_later_call(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;

	file_fault_inject(FILE_OP_WRITE, 2, ENOSPC, true);
	assert_int_equal(file_write_atomic(dir, "a", "1", 1, 0644, &err), 0);
	assert_int_equal(file_write_atomic(dir, "b", "2", 1, 0644, &err),
	    FERRY_EIO);
	assert_int_equal(file_write_atomic(dir, "c", "3", 1, 0644, &err),
	    FERRY_EIO);
	file_fault_clear();
	assert_int_equal(file_write_atomic(dir, "d", "4", 1, 0644, &err), 0);
	assert_int_equal(tu_count_entries(dir), 2);
}

static void
test_read_respects_limit_and_names_file(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct buf b = BUF_INIT(4);
	char *path = file_join(dir, "big");

	tu_write_file(path, "123456", 6);
	assert_int_equal(file_read(path, &b, &err), FERRY_ELIMIT);
	assert_non_null(strstr(err.msg, "big"));
	buf_release(&b);
	b.max = 0;
	assert_int_equal(file_read(path, &b, &err), 0);
	assert_int_equal(b.len, 6);
	buf_release(&b);
	free(path);
}

static void
test_read_missing_file_is_not_found(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct buf b = BUF_INIT(0);
	char *path = file_join(*state, "nope");

	assert_int_equal(file_read(path, &b, &err), FERRY_ENOTFOUND);
	assert_non_null(strstr(err.msg, "nope"));
	free(path);
}

static void
test_mkdirs_creates_parents_and_accepts_existing(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *deep = file_join(*state, "a/b/c");
	struct stat st;

	assert_int_equal(file_mkdirs(deep, 0700, &err), 0);
	assert_int_equal(stat(deep, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(file_mkdirs(deep, 0700, &err), 0);
	free(deep);
}

static void
test_mkdirs_over_a_file_fails(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char *f = file_join(*state, "f"), *sub = file_join(*state, "f/sub");

	tu_write_file(f, "x", 1);
	assert_int_equal(file_mkdirs(sub, 0700, &err), FERRY_EIO);
	assert_non_null(strstr(err.msg, "f/sub"));
	free(f);
	free(sub);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_write_atomic_creates_file_with_mode_and_no_temp),
		T(test_write_atomic_replaces_existing_file),
		T(test_full_disk_on_write_keeps_previous_content),
		T(test_failed_fsync_keeps_previous_content),
		T(test_failed_close_keeps_previous_content),
		T(test_failed_rename_keeps_previous_content),
		T(test_stale_temp_from_killed_run_is_replaced),
		T(test_sticky_fault_fails_every_later_call),
		T(test_read_respects_limit_and_names_file),
		T(test_read_missing_file_is_not_found),
		T(test_mkdirs_creates_parents_and_accepts_existing),
		T(test_mkdirs_over_a_file_fails),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
