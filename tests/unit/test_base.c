/* test_base.c: err, buf and xalloc, the ground every module stands on. */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "testutil.h"

#include <sysexits.h>

static void
test_err_set_returns_code_and_formats_message(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;

	(void)state;
	assert_int_equal(ferry_err_set(&err, FERRY_ECONFIG, "bad '%s'", "x"),
	    FERRY_ECONFIG);
	assert_int_equal(err.code, FERRY_ECONFIG);
	assert_string_equal(err.msg, "bad 'x'");
}

static void
test_err_sys_appends_strerror_and_keeps_errno(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;

	(void)state;
	errno = ENOSPC;
	ferry_err_sys(&err, FERRY_EIO, "cannot write '%s'", "f");
	assert_int_equal(err.sys, ENOSPC);
	assert_string_equal(err.msg, "cannot write 'f': No space left on device");
	assert_int_equal(errno, ENOSPC);
}

static void
test_err_prefix_adds_context_in_front(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;

	(void)state;
	ferry_err_set(&err, FERRY_EREJECT, "bad signature");
	assert_int_equal(ferry_err_prefix(&err, "bundle %s: ", "b1"),
	    FERRY_EREJECT);
	assert_string_equal(err.msg, "bundle b1: bad signature");
}

static void
test_err_long_message_is_cut_not_overflowed(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char big[2000];

	(void)state;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ferry_err_set(&err, FERRY_ERR, "%s", big);
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	ferry_err_prefix(&err, "ctx: ");
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_memory_equal(err.msg, "ctx: aaa", 8);
}

static void
test_exit_status_follows_sysexits(void **state)
{
	(void)state;
	assert_int_equal(ferry_exit_status(FERRY_OK), 0);
	assert_int_equal(ferry_exit_status(FERRY_ECONFIG), EX_CONFIG);
	assert_int_equal(ferry_exit_status(FERRY_ELOCKED), EX_TEMPFAIL);
	assert_int_equal(ferry_exit_status(FERRY_EUNAVAIL), EX_TEMPFAIL);
	assert_int_equal(ferry_exit_status(FERRY_EAUTH), EX_NOPERM);
	assert_int_equal(ferry_exit_status(FERRY_EUSAGE), EX_USAGE);
	assert_string_equal(ferry_code_name(FERRY_EREJECT), "reject");
}

static void
test_buf_grows_and_stays_nul_terminated(void **state)
{
	struct buf b = BUF_INIT(0);
	int i;

	(void)state;
	assert_string_equal(b.data, "");
	for (i = 0; i < 1000; i++)
		assert_true(buf_addf(&b, "%d,", i));
	assert_int_equal(b.data[b.len], '\0');
	assert_memory_equal(b.data, "0,1,2,", 6);
	assert_memory_equal(b.data + b.len - 4, "999,", 4);
	buf_release(&b);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
}

static void
test_buf_over_max_fails_and_is_sticky(void **state)
{
	struct buf b = BUF_INIT(8);

	(void)state;
	assert_true(buf_addstr(&b, "12345"));
	assert_false(buf_addstr(&b, "6789"));
	assert_true(b.over);
	assert_string_equal(b.data, "12345");
	/* Sticky: a later add that would fit still fails. */
	assert_false(buf_addch(&b, 'x'));
	assert_int_equal(b.len, 5);
	buf_reset(&b);
	assert_false(b.over);
	assert_true(buf_addstr(&b, "12345678"));
	assert_false(buf_addch(&b, '9'));
	buf_release(&b);
}

static void
test_buf_detach_hands_over_the_bytes(void **state)
{
	struct buf b = BUF_INIT(0);
	size_t len;
	char *p;

	(void)state;
	p = buf_detach(&b, &len);
	assert_int_equal(len, 0);
	assert_string_equal(p, "");
	free(p);
	buf_addstr(&b, "hello");
	p = buf_detach(&b, &len);
	assert_int_equal(len, 5);
	assert_string_equal(p, "hello");
	assert_int_equal(b.len, 0);
	free(p);
}

static void
test_buf_escaped_shows_controls_and_keeps_utf8(void **state)
{
	struct buf b = BUF_INIT(0);
	const char in[] = "a\x1b[31m\\ \xc3\xa9 \xff \xe2\x80\xae";

	(void)state;
	buf_add_escaped(&b, in, sizeof(in) - 1);
	assert_string_equal(b.data,
	    "a\\x1b[31m\\\\ \xc3\xa9 \\xff \\xe2\\x80\\xae");
	buf_release(&b);
}

static void
test_xasprintf_formats(void **state)
{
	char *s;

	(void)state;
	s = xasprintf("%s-%d", "seq", 42);
	assert_string_equal(s, "seq-42");
	free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_err_set_returns_code_and_formats_message),
		cmocka_unit_test(test_err_sys_appends_strerror_and_keeps_errno),
		cmocka_unit_test(test_err_prefix_adds_context_in_front),
		cmocka_unit_test(test_err_long_message_is_cut_not_overflowed),
		cmocka_unit_test(test_exit_status_follows_sysexits),
		cmocka_unit_test(test_buf_grows_and_stays_nul_terminated),
		cmocka_unit_test(test_buf_over_max_fails_and_is_sticky),
		cmocka_unit_test(test_buf_detach_hands_over_the_bytes),
		cmocka_unit_test(test_buf_escaped_shows_controls_and_keeps_utf8),
		cmocka_unit_test(test_xasprintf_formats),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
