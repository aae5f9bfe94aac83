/* test_hex.c: bytes to hex text and back. */
#include "ferry/common.h"
#include "ferry/hex.h"
#include "testutil.h"

static void
test_hex_encode_is_lower_case_and_terminated(void **state)
{
	static const uint8_t b[] = { 0x00, 0x01, 0x7f, 0x80, 0xab, 0xff };
	char out[2 * sizeof(b) + 2];

	(void)state;
	memset(out, 'x', sizeof(out));
	hex_encode(b, sizeof(b), out);
	assert_string_equal(out, "00017f80abff");
	assert_int_equal(out[2 * sizeof(b) + 1], 'x');
	hex_encode(b, 0, out);
	assert_string_equal(out, "");
}

static void
test_hex_decode_takes_either_case(void **state)
{
	uint8_t d[3];

	(void)state;
	assert_true(hex_decode("00aBfF", d, 3));
	assert_int_equal(d[0], 0x00);
	assert_int_equal(d[1], 0xab);
	assert_int_equal(d[2], 0xff);
	assert_true(hex_decode("", d, 0));
}

static void
test_hex_decode_wants_exact_length(void **state)
{
	uint8_t d[3] = { 1, 2, 3 };

	(void)state;
	assert_false(hex_decode("00abf", d, 3));	/* short */
	assert_false(hex_decode("00abff0", d, 3));	/* long */
	assert_false(hex_decode("00abff00", d, 3));
	assert_false(hex_decode("", d, 3));
	assert_false(hex_decode("x", d, 0));
	/* Refused strings leave the output alone. */
	assert_int_equal(d[0], 1);
	assert_int_equal(d[1], 2);
	assert_int_equal(d[2], 3);
}

static void
test_hex_decode_refuses_non_digits(void **state)
{
	uint8_t d[2] = { 7, 7 };

	(void)state;
	assert_false(hex_decode("0g00", d, 2));
	assert_false(hex_decode("00 0", d, 2));
	assert_false(hex_decode("+1ff", d, 2));
	assert_false(hex_decode("0x1f", d, 2));
	assert_int_equal(d[0], 7);
	assert_int_equal(d[1], 7);
}

static void
test_hex_round_trip_every_byte(void **state)
{
	uint8_t b[256], back[256];
	char text[2 * sizeof(b) + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(b); i++)
		b[i] = (uint8_t)i;
	hex_encode(b, sizeof(b), text);
	assert_int_equal(strlen(text), 2 * sizeof(b));
	assert_true(hex_decode(text, back, sizeof(back)));
	assert_memory_equal(b, back, sizeof(b));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hex_encode_is_lower_case_and_terminated),
		cmocka_unit_test(test_hex_decode_takes_either_case),
		cmocka_unit_test(test_hex_decode_wants_exact_length),
		cmocka_unit_test(test_hex_decode_refuses_non_digits),
		cmocka_unit_test(test_hex_round_trip_every_byte),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
