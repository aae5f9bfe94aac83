/* test_lock.c: one run per state directory; stale locks taken over. */
#include "ferry/common.h"
#include "ferry/file.h"
#include "ferry/lock.h"
#include "ferry/log.h"
#include "testutil.h"

#include <sys/wait.h>
#include <unistd.h>

static int
setup(void **state)
{
	*state = tu_mkdtemp();
	log_set_level(LOG_QUIET);
	return 0;
}

static int
teardown(void **state)
{
	tu_rmtree(*state);
	free(*state);
	return 0;
}

static void
test_lock_second_run_is_refused_naming_the_holder(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct lock *a = NULL, *b = NULL;
	struct lock_holder h;
	char host[256] = "", pid[32];

	assert_int_equal(lock_acquire(dir, false, &a, NULL, &err), 0);
	assert_int_equal(lock_acquire(dir, false, &b, NULL, &err),
	    FERRY_ELOCKED);
	assert_null(b);
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
	assert_non_null(strstr(err.msg, host));
	assert_non_null(strstr(err.msg, pid));
	assert_non_null(strstr(err.msg, "started"));
	assert_non_null(strstr(err.msg, "UTC"));
	assert_int_equal(lock_read(dir, &h, &err), 0);
	assert_int_equal(h.pid, (long)getpid());
	assert_true(h.boot_id[0] != '\0');
	lock_release(a);
	/* Released: the next run takes it without a stale record. */
	assert_int_equal(lock_read(dir, &h, &err), FERRY_ENOTFOUND);
	assert_int_equal(lock_acquire(dir, false, &b, NULL, &err), 0);
	lock_release(b);
}

static void
test_lock_is_held_against_another_process(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct lock *a = NULL, *b = NULL;
	int status;
	pid_t pid;

	assert_int_equal(lock_acquire(dir, false, &a, NULL, &err), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(lock_acquire(dir, false, &b, NULL, &err) ==
		    FERRY_ELOCKED ? 0 : 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	lock_release(a);
}

static void
write_record(const char *dir, const char *host, const char *boot, long pid)
{
	char *path = file_join(dir, LOCK_FILE_NAME), *rec;

	rec = xasprintf("host=%s\nboot_id=%s\npid=%ld\nstarted=1700000000\n"
	    "ticks=1\n", host, boot, pid);
	tu_write_file(path, rec, strlen(rec));
	free(rec);
	free(path);
}

static void
test_lock_of_a_dead_pid_is_taken_over(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct lock *l = NULL;
	char host[256] = "", boot[64];
	bool stale = false;
	pid_t pid;

	gethostname(host, sizeof(host) - 1);
	lock_boot_id(boot, sizeof(boot));
	pid = fork();
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	write_record(dir, host, boot, (long)pid);
	assert_int_equal(lock_acquire(dir, false, &l, &stale, &err), 0);
	assert_true(stale);
	lock_release(l);
}

static void
test_lock_from_another_boot_is_taken_over(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct lock *l = NULL;
	char host[256] = "";
	bool stale = false;

	gethostname(host, sizeof(host) - 1);
	/* pid 1 is alive, but in another boot it was another process. */
	write_record(dir, host, "00000000-0000-0000-0000-000000000000", 1);
	assert_int_equal(lock_acquire(dir, false, &l, &stale, &err), 0);
	assert_true(stale);
	lock_release(l);
}

static void
test_lock_local_state_dir_is_not_network(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	const char *name;
	bool net = true;

	assert_int_equal(lock_network_fs(*state, &net, &name, &err), 0);
	assert_false(net);
	assert_int_equal(lock_network_fs("/nonexistent/x", &net, &name, &err),
	    FERRY_EIO);
}

/*
 * A FUSE file system that reaches another machine (sshfs), played by
 * fusefat with its subtype set: the kernel and mountinfo see what sshfs
 * would show.  Skipped where FUSE cannot be mounted.
 */
static void
test_lock_refuses_a_network_file_system_unless_forced(void **state)
{
	const char *dir = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	char *img = file_join(dir, "img"), *mnt = file_join(dir, "m"), *cmd;
	struct lock *l = NULL;
	const char *name;
	bool net = false;
	int rc;

	assert_int_equal(file_mkdirs(mnt, 0700, &err), 0);
	cmd = xasprintf("truncate -s 4M '%s' && mkfs.vfat '%s' >/dev/null "
	    "2>&1 && fusefat -o rw+,subtype=sshfs '%s' '%s' >/dev/null 2>&1",
	    img, img, img, mnt);
	rc = system(cmd);
	free(cmd);
	if (rc != 0) {
		free(img);
		free(mnt);
		skip();
	}
	assert_int_equal(lock_network_fs(mnt, &net, &name, &err), 0);
	assert_true(net);
	assert_string_equal(name, "fuse.sshfs");
	assert_int_equal(lock_acquire(mnt, false, &l, NULL, &err),
	    FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "network file system (fuse.sshfs)"));
	assert_non_null(strstr(err.msg, "allow_network_fs"));
	assert_int_equal(lock_acquire(mnt, true, &l, NULL, &err), 0);
	lock_release(l);
	cmd = xasprintf("fusermount -u '%s'", mnt);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(img);
	free(mnt);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_lock_second_run_is_refused_naming_the_holder, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lock_is_held_against_another_process, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lock_of_a_dead_pid_is_taken_over, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_lock_from_another_boot_is_taken_over, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lock_local_state_dir_is_not_network, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_lock_refuses_a_network_file_system_unless_forced,
		    setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
