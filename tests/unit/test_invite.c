/* test_invite.c: invitation codes survive a person, and catch their slips. */
#include "ferry/common.h"
#include "ferry/invite.h"
#include "testutil.h"

#include <ctype.h>

static const char fpr[] = "0123456789ABCDEF0123456789ABCDEF01234567";

static void
test_code_round_trips_in_eight_groups_of_five(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite a, b;
	char code[INVITE_CODE_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(invite_new(fpr, 0, &a, &err), 0);
	assert_int_not_equal(a.conn_id, 0);
	invite_encode(&a, code);
	assert_int_equal(strlen(code), 47);
	for (i = 0; i < 47; i++) {
		if (i % 6 == 5)
			assert_int_equal(code[i], '-');
		else
			assert_non_null(strchr("0123456789ABCDEFGHJKMNPQRSTVWXYZ",
			    code[i]));
	}
	assert_int_equal(invite_decode(code, &b, &err), 0);
	assert_int_equal(b.conn_id, a.conn_id);
	assert_memory_equal(b.secret, a.secret, INVITE_SECRET_LEN);
	assert_true(invite_matches_key(&b, fpr));
}

static void
test_decode_forgives_case_spaces_and_lookalikes(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite a, b;
	char code[INVITE_CODE_LEN + 1], typed[128];
	size_t i, o = 0;

	(void)state;
	invite_new(fpr, 42, &a, &err);
	invite_encode(&a, code);
	/* Lower case, spaces instead of dashes, o for 0 and l for 1. */
	for (i = 0; code[i] != '\0'; i++) {
		char c = code[i];

		if (c == '-')
			c = ' ';
		else if (c == '0')
			c = 'o';
		else if (c == '1')
			c = 'l';
		else
			c = (char)tolower((unsigned char)c);
		typed[o++] = c;
	}
	typed[o++] = '\n';
	typed[o] = '\0';
	assert_int_equal(invite_decode(typed, &b, &err), 0);
	assert_int_equal(b.conn_id, 42);
	assert_memory_equal(b.secret, a.secret, INVITE_SECRET_LEN);
}

static void
test_every_single_typo_is_caught_by_the_checksum(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite a, b;
	char code[INVITE_CODE_LEN + 1], bad[INVITE_CODE_LEN + 1];
	size_t i, caught = 0, tried = 0;
	const char *alt = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	size_t k;

	(void)state;
	/* A fixed secret keeps the test deterministic. */
	invite_new(fpr, 7, &a, &err);
	for (i = 0; i < INVITE_SECRET_LEN; i++)
		a.secret[i] = (uint8_t)(i * 37 + 11);
	invite_encode(&a, code);
	for (i = 0; i < INVITE_CODE_LEN; i++) {
		if (code[i] == '-')
			continue;
		for (k = 0; alt[k] != '\0'; k++) {
			if (alt[k] == code[i])
				continue;
			memcpy(bad, code, sizeof(bad));
			bad[i] = alt[k];
			tried++;
			if (invite_decode(bad, &b, &err) == FERRY_EUSAGE &&
			    strstr(err.msg, "mistyped") != NULL)
				caught++;
		}
	}
	assert_int_equal(tried, 40 * 31);
	assert_int_equal(caught, tried);
}

static void
test_wrong_length_and_alphabet_are_named(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite b;

	(void)state;
	assert_int_equal(invite_decode("ABCDE-FGHJK", &b, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "fewer than 40 characters"));
	assert_int_equal(invite_decode("ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-"
	    "89ABC-DEFGH-J", &b, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "more than 40"));
	assert_int_equal(invite_decode("ABCDE-FGHJK-MNPQR-STVWX-YZ012-34567-"
	    "89ABC-DEFGU", &b, &err), FERRY_EUSAGE);
	assert_non_null(strstr(err.msg, "'U' is not one of its characters"));
}

static void
test_unknown_version_names_both_versions(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite a, b;
	char code[INVITE_CODE_LEN + 1];

	(void)state;
	invite_new(fpr, 9, &a, &err);
	a.version = 9;
	invite_encode(&a, code);
	assert_int_equal(invite_decode(code, &b, &err), FERRY_EVERSION);
	assert_non_null(strstr(err.msg, "format version 9, but this ferry "
	    "reads version 1"));
}

static void
test_key_match_uses_the_fingerprint_prefix(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite a;

	(void)state;
	invite_new(fpr, 1, &a, &err);
	assert_true(invite_matches_key(&a,
	    "0123456789abcdef0123ffffffffffffffffffff"));
	assert_false(invite_matches_key(&a,
	    "1123456789ABCDEF0123456789ABCDEF01234567"));
	assert_false(invite_matches_key(&a, "0123"));
	assert_int_equal(invite_new("not-hex", 1, &a, &err), FERRY_ERR);
}

static void
test_mac_binds_secret_connection_site_and_key(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct invite a, other;
	uint8_t m1[INVITE_MAC_LEN], m2[INVITE_MAC_LEN];

	(void)state;
	invite_new(fpr, 5, &a, &err);
	invite_mac(&a, "beta", "KEY", 3, m1);
	invite_mac(&a, "beta", "KEY", 3, m2);
	assert_true(invite_mac_equal(m1, m2));
	invite_mac(&a, "beta", "KEZ", 3, m2);
	assert_false(invite_mac_equal(m1, m2));
	invite_mac(&a, "betb", "KEY", 3, m2);
	assert_false(invite_mac_equal(m1, m2));
	other = a;
	other.conn_id = 6;
	invite_mac(&other, "beta", "KEY", 3, m2);
	assert_false(invite_mac_equal(m1, m2));
	other = a;
	other.secret[0] ^= 1;
	invite_mac(&other, "beta", "KEY", 3, m2);
	assert_false(invite_mac_equal(m1, m2));
	invite_wipe(&other);
	assert_int_equal(other.secret[0], 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_round_trips_in_eight_groups_of_five),
		cmocka_unit_test(test_decode_forgives_case_spaces_and_lookalikes),
		cmocka_unit_test(test_every_single_typo_is_caught_by_the_checksum),
		cmocka_unit_test(test_wrong_length_and_alphabet_are_named),
		cmocka_unit_test(test_unknown_version_names_both_versions),
		cmocka_unit_test(test_key_match_uses_the_fingerprint_prefix),
		cmocka_unit_test(test_mac_binds_secret_connection_site_and_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
