/*
 * test_bundle_fuzz.c: every input the fuzzers kept (tests/fuzz/corpus)
 * and every crash they found (tests/fuzz/regressions) runs through the
 * readers of everything after decryption: under ASan and valgrind this
 * is the regression suite of `make fuzz`.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/bundle.h"
#include "ferry/ops.h"
#include "testutil.h"
#include "../../src/bundle_int.h"

#include <dirent.h>

static void
run_one(const uint8_t *data, size_t len)
{
	struct bundle_limits lim;
	struct bundle_manifest m;
	struct ferry_err err = FERRY_ERR_INIT;
	enum bundle_reason why;
	enum mp_verdict v;
	struct opstream s;
	struct op op = OP_INIT;

	bundle_limits_default(&lim);
	lim.max_member_size = 1 << 20;
	lim.max_total_size = 4 << 20;
	memset(&m, 0, sizeof(m));
	if (bundle_manifest_decode(data, len, &lim, &m, &why, &err) == 0)
		bundle_manifest_release(&m);
	memset(&m, 0, sizeof(m));
	if (len > 0 && bundle_walk_mem(data + 1, len - 1, NULL, &lim, &m,
	    &why, &err) == 0)
		bundle_manifest_release(&m);
	memset(&m, 0, sizeof(m));
	if (bundle_walk_mem(data, len, NULL, &lim, &m, &why, &err) == 0)
		bundle_manifest_release(&m);
	opstream_init(&s, &lim);
	if (opstream_feed(&s, data, len, &why, &err) == 0)
		(void)opstream_end(&s, s.count, &why, &err);
	opstream_release(&s);
	if (ops_decode(data, len, &lim.mp, &op, &v, &err) == 0)
		op_release(&op);
}

static int
run_dir(const char *dir)
{
	struct dirent *de;
	char *path, *data;
	size_t len;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		path = xasprintf("%s/%s", dir, de->d_name);
		if ((data = tu_read_file(path, &len)) != NULL) {
			run_one((const uint8_t *)data, len);
			free(data);
			n++;
		}
		free(path);
	}
	closedir(d);
	return n;
}

static void
test_fuzz_corpus_and_regressions_are_handled(void **state)
{
	const char *src = getenv("FERRY_SRCDIR");
	const char *sub[] = { "corpus/archive", "corpus/manifest",
	    "corpus/ops", "regressions" };
	char *dir;
	size_t i;
	int n = 0;

	(void)state;
	if (src == NULL)
		src = ".";
	for (i = 0; i < FERRY_ARRAY_SIZE(sub); i++) {
		dir = xasprintf("%s/tests/fuzz/%s", src, sub[i]);
		n += run_dir(dir);
		free(dir);
	}
	assert_true(n > 10);
}

/* The first crash the ops fuzzer found: an empty map key (NULL ptr). */
static void
test_ops_with_empty_keys_are_rejected_not_crashed(void **state)
{
	static const uint8_t in[] = { 0x82, 0xa0, 0x01, 0xa0, 0x02 };
	struct mp_limits lim = MP_LIMITS_DEFAULT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct op op = OP_INIT;
	enum mp_verdict v;

	(void)state;
	assert_int_equal(ops_decode(in, sizeof(in), &lim, &op, &v, &err),
	    FERRY_EREJECT);
	assert_int_equal(v, MP_WRONG_TYPE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_corpus_and_regressions_are_handled),
		cmocka_unit_test(
		    test_ops_with_empty_keys_are_rejected_not_crashed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
