/* test_pair.c: the pure parts of pairing: ids, key packets, codes, checks. */
#include "ferry/common.h"
#include "ferry/config.h"
#include "ferry/pair.h"
#include "ferry/site.h"
#include "ferry/store.h"
#include "testutil.h"

/* An Ed25519 key gpg made ("ferry test <t@x>"), exported minimal. */
static const uint8_t key_bin[] = {
	0x98, 0x33, 0x04, 0x6b, 0x06, 0xa8, 0x4a, 0x16, 0x09, 0x2b,
	0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01, 0x01, 0x07,
	0x40, 0xf2, 0x70, 0x59, 0x2e, 0x2a, 0x20, 0x75, 0x08, 0x49,
	0x2c, 0xd5, 0x55, 0xa6, 0xb9, 0xec, 0x15, 0x7f, 0xad, 0x82,
	0xc4, 0x6d, 0x5b, 0x48, 0xd6, 0x19, 0xdd, 0x87, 0xe5, 0x1f,
	0x6f, 0x3b, 0x74, 0xb4, 0x10, 0x66, 0x65, 0x72, 0x72, 0x79,
	0x20, 0x74, 0x65, 0x73, 0x74, 0x20, 0x3c, 0x74, 0x40, 0x78,
	0x3e, 0x88, 0x96, 0x04, 0x13, 0x16, 0x08, 0x00, 0x3e, 0x16,
	0x21, 0x04, 0x56, 0xd2, 0x87, 0xdb, 0xf2, 0x84, 0x32, 0x9b,
	0x63, 0x74, 0x59, 0x37, 0xc1, 0x5a, 0xfd, 0xd4, 0xac, 0xd6,
	0x1e, 0xe3, 0x05, 0x02, 0x6b, 0x06, 0xa8, 0x4a, 0x02, 0x1b,
	0x03, 0x05, 0x09, 0x01, 0xe1, 0x33, 0x80, 0x05, 0x0b, 0x09,
	0x08, 0x07, 0x02, 0x06, 0x15, 0x0a, 0x09, 0x08, 0x0b, 0x02,
	0x04, 0x16, 0x02, 0x03, 0x01, 0x02, 0x1e, 0x01, 0x02, 0x17,
	0x80, 0x00, 0x0a, 0x09, 0x10, 0xc1, 0x5a, 0xfd, 0xd4, 0xac,
	0xd6, 0x1e, 0xe3, 0xae, 0x77, 0x01, 0x00, 0xdf, 0x12, 0x58,
	0x04, 0x8b, 0xfe, 0x38, 0x79, 0xed, 0x05, 0x1f, 0xd1, 0xcc,
	0x0b, 0xd6, 0x13, 0x0c, 0x3b, 0x79, 0x70, 0x6b, 0x49, 0xea,
	0xf3, 0x75, 0xf7, 0x1d, 0x4b, 0x35, 0xc5, 0x1a, 0xd0, 0x00,
	0xfb, 0x06, 0x89, 0xe5, 0x6e, 0x3b, 0x0b, 0x3a, 0x27, 0x6e,
	0x95, 0x60, 0xcb, 0x0c, 0x7e, 0xeb, 0x5f, 0x51, 0x0a, 0x2b,
	0x52, 0x80, 0x7a, 0xa9, 0x00, 0x99, 0x22, 0x10, 0xed, 0xf0,
	0x54, 0x25, 0x00
};
static const char key_asc[] =
	"-----BEGIN PGP PUBLIC KEY BLOCK-----\n"
	"\n"
	"mDMEawaoShYJKwYBBAHaRw8BAQdA8nBZLiogdQhJLNVVprnsFX+tgsRtW0jWGd2H\n"
	"5R9vO3S0EGZlcnJ5IHRlc3QgPHRAeD6IlgQTFggAPhYhBFbSh9vyhDKbY3RZN8Fa\n"
	"/dSs1h7jBQJrBqhKAhsDBQkB4TOABQsJCAcCBhUKCQgLAgQWAgMBAh4BAheAAAoJ\n"
	"EMFa/dSs1h7jrncBAN8SWASL/jh57QUf0cwL1hMMO3lwa0nq83X3HUs1xRrQAPsG\n"
	"ieVuOws6J26VYMsMfutfUQorUoB6qQCZIhDt8FQlAA==\n"
	"=03In\n"
	"-----END PGP PUBLIC KEY BLOCK-----\n";
#define KEY_FPR		"56D287DBF284329B63745937C15AFDD4ACD61EE3"
#define KEY_CREATED	1795598410

static void
test_site_id_is_the_fingerprint_prefix_in_lower_case(void **state)
{
	uint8_t b[INVITE_FPR_LEN] = { 0x56, 0xd2, 0x87, 0xdb, 0xf2, 0x84,
	    0x32, 0x9b, 0x63, 0x74 };
	char a[PAIR_SITE_ID_LEN + 1], c[PAIR_SITE_ID_LEN + 1];

	(void)state;
	pair_site_id(KEY_FPR, a);
	assert_string_equal(a, "56d287dbf284329b6374");
	pair_site_id_bytes(b, c);
	assert_string_equal(a, c);
}

static void
test_conn_id_round_trips_and_refuses_bad_text(void **state)
{
	char s[PAIR_CONN_ID_LEN + 1];
	uint32_t id = 0;

	(void)state;
	pair_conn_id(0x1a2b3c, s);
	assert_string_equal(s, "001a2b3c");
	assert_true(pair_conn_id_parse(s, &id));
	assert_int_equal(id, 0x1a2b3c);
	assert_true(pair_conn_id_parse("FFFFFFFF", &id));
	assert_int_equal(id, 0xffffffffu);
	assert_false(pair_conn_id_parse("", &id));
	assert_false(pair_conn_id_parse("0", &id));
	assert_false(pair_conn_id_parse("123456789", &id));
	assert_false(pair_conn_id_parse("12g4", &id));
}

static void
test_keyfile_conn_id_is_the_same_from_both_sides(void **state)
{
	const char *a = KEY_FPR, *b = "0123456789abcdef0123456789abcdef01234567";
	const char *bu = "0123456789ABCDEF0123456789ABCDEF01234567";

	(void)state;
	assert_int_equal(pair_keyfile_conn_id(a, b), pair_keyfile_conn_id(b,
	    a));
	assert_int_equal(pair_keyfile_conn_id(a, b), pair_keyfile_conn_id(bu,
	    a));
	assert_int_not_equal(pair_keyfile_conn_id(a, b), 0);
	assert_int_not_equal(pair_keyfile_conn_id(a, b),
	    pair_keyfile_conn_id(a, a));
}

static void
test_key_packet_gives_gpgs_fingerprint_and_creation_time(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct pair_keypkt k;

	(void)state;
	assert_int_equal(pair_key_packet(key_bin, sizeof(key_bin), &k, &err),
	    0);
	assert_int_equal(k.version, 4);
	assert_int_equal(k.created, KEY_CREATED);
	assert_string_equal(k.fpr, KEY_FPR);
	assert_int_equal(pair_key_packet(key_asc, strlen(key_asc), &k, &err),
	    0);
	assert_string_equal(k.fpr, KEY_FPR);
	assert_int_equal(k.created, KEY_CREATED);
}

static void
test_key_packet_refuses_what_is_not_a_public_key(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct pair_keypkt k;
	uint8_t secret[sizeof(key_bin)], old[64];

	(void)state;
	assert_int_equal(pair_key_packet("", 0, &k, &err), FERRY_EREJECT);
	assert_int_equal(pair_key_packet("hello", 5, &k, &err),
	    FERRY_EREJECT);
	/* Truncated in the middle of the packet. */
	assert_int_equal(pair_key_packet(key_bin, 20, &k, &err),
	    FERRY_EREJECT);
	assert_non_null(strstr(err.msg, "truncated"));
	/* Tag 5: a secret key. */
	memcpy(secret, key_bin, sizeof(key_bin));
	secret[0] = 0xc5;
	assert_int_equal(pair_key_packet(secret, sizeof(secret), &k, &err),
	    FERRY_EREJECT);
	assert_non_null(strstr(err.msg, "tag 5"));
	/* An old-format header (tag 6, one length byte) reads the same. */
	old[0] = 0x98;
	old[1] = key_bin[1];
	memcpy(old + 2, key_bin + 2, key_bin[1]);
	assert_int_equal(pair_key_packet(old, 2u + key_bin[1], &k, &err), 0);
	assert_string_equal(k.fpr, KEY_FPR);
	/* Version 3 is not read. */
	old[2] = 3;
	assert_int_equal(pair_key_packet(old, 2u + key_bin[1], &k, &err),
	    FERRY_EREJECT);
}

static void
test_duration_reads_as_a_person_says_it(void **state)
{
	char s[64];

	(void)state;
	pair_duration(45, s, sizeof(s));
	assert_string_equal(s, "45 s");
	pair_duration(-125, s, sizeof(s));
	assert_string_equal(s, "2 min 5 s");
	pair_duration(7200, s, sizeof(s));
	assert_string_equal(s, "2 h 0 min");
	/* A slow run must not turn two hours into "1 h 59 min". */
	pair_duration(7200 - 29, s, sizeof(s));
	assert_string_equal(s, "2 h 0 min");
	pair_duration(7200 - 149, s, sizeof(s));
	assert_string_equal(s, "2 h 0 min");
	pair_duration(7200 + 149, s, sizeof(s));
	assert_string_equal(s, "2 h 0 min");
	pair_duration(7200 - 151, s, sizeof(s));
	assert_string_equal(s, "1 h 55 min");
	pair_duration(86400 + 3 * 3600 + 59, s, sizeof(s));
	assert_string_equal(s, "1 day 3 h");
	pair_duration(3 * 86400, s, sizeof(s));
	assert_string_equal(s, "3 days 0 h");
}

static int
read_code(const char *text, char *out, struct ferry_err *err)
{
	FILE *fp = fmemopen((void *)(uintptr_t)text, strlen(text), "r");
	int rc;

	assert_non_null(fp);
	rc = pair_read_code(fp, out, err);
	fclose(fp);
	return rc;
}

static void
test_read_code_takes_the_first_line_with_text_trimmed(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char code[PAIR_CODE_MAX + 1], *big;

	(void)state;
	assert_int_equal(read_code("\n \t\n  abcde-fghij \r\nsecond\n", code,
	    &err), 0);
	assert_string_equal(code, "abcde-fghij");
	assert_int_equal(read_code("no newline", code, &err), 0);
	assert_string_equal(code, "no newline");
	assert_int_equal(read_code("\n\n", code, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "no invitation code"));
	big = xmalloc(PAIR_CODE_MAX + 10);
	memset(big, 'A', PAIR_CODE_MAX + 8);
	big[PAIR_CODE_MAX + 8] = '\n';
	big[PAIR_CODE_MAX + 9] = '\0';
	assert_int_equal(read_code(big, code, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "too long"));
	free(big);
}

static void
test_paired_project_and_user_are_fixed_others_follow(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct config_conn cc;
	struct store_conn sc;
	bool update;

	(void)state;
	memset(&cc, 0, sizeof(cc));
	memset(&sc, 0, sizeof(sc));
	cc.name = (char *)(uintptr_t)"link";
	cc.project = (char *)(uintptr_t)"DEMO";
	sc.project = (char *)(uintptr_t)"DEMO";
	sc.sync_user = (char *)(uintptr_t)"ferry";
	sc.peer_fpr = (char *)(uintptr_t)KEY_FPR;
	assert_int_equal(site_check_conn("f.conf", &cc, "ferry", &sc, &update,
	    &err), 0);
	assert_false(update);
	cc.project = (char *)(uintptr_t)"OTHER";
	assert_int_equal(site_check_conn("f.conf", &cc, "ferry", &sc, &update,
	    &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "'DEMO'"));
	assert_non_null(strstr(err.msg, "project = OTHER"));
	assert_non_null(strstr(err.msg, "f.conf"));
	cc.project = (char *)(uintptr_t)"DEMO";
	assert_int_equal(site_check_conn("f.conf", &cc, "bob", &sc, &update,
	    &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "'ferry'"));
	assert_non_null(strstr(err.msg, "user = bob"));
	/* Not paired: the section wins and the row follows it. */
	sc.peer_fpr = NULL;
	assert_int_equal(site_check_conn("f.conf", &cc, "bob", &sc, &update,
	    &err), 0);
	assert_true(update);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		    test_site_id_is_the_fingerprint_prefix_in_lower_case),
		cmocka_unit_test(test_conn_id_round_trips_and_refuses_bad_text),
		cmocka_unit_test(
		    test_keyfile_conn_id_is_the_same_from_both_sides),
		cmocka_unit_test(
		    test_key_packet_gives_gpgs_fingerprint_and_creation_time),
		cmocka_unit_test(
		    test_key_packet_refuses_what_is_not_a_public_key),
		cmocka_unit_test(test_duration_reads_as_a_person_says_it),
		cmocka_unit_test(
		    test_read_code_takes_the_first_line_with_text_trimmed),
		cmocka_unit_test(
		    test_paired_project_and_user_are_fixed_others_follow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
