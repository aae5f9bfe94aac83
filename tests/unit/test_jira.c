/* test_jira.c: the pure parts of the Jira client. */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/jira.h"
#include "../../src/jira_int.h"
#include "testutil.h"

static void
test_jira_time_parse_reads_jira_format_with_offset(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(jira_time_parse("2024-01-02T03:04:05.678+0000", &ms,
	    NULL), 0);
	assert_int_equal(ms, 1704164645678LL);
	assert_int_equal(jira_time_parse("2024-01-02T04:04:05.678+0100", &ms,
	    NULL), 0);
	assert_int_equal(ms, 1704164645678LL);
	assert_int_equal(jira_time_parse("2024-01-01T22:04:05.678-05:00", &ms,
	    NULL), 0);
	assert_int_equal(ms, 1704164645678LL);
	assert_int_equal(jira_time_parse("2024-01-02T03:04:05Z", &ms, NULL),
	    0);
	assert_int_equal(ms, 1704164645000LL);
	assert_int_equal(jira_time_parse("1970-01-01T00:00:00.000+0000", &ms,
	    NULL), 0);
	assert_int_equal(ms, 0);
	/* Before the epoch, and a leap day. */
	assert_int_equal(jira_time_parse("1969-12-31T23:59:59.999+0000", &ms,
	    NULL), 0);
	assert_int_equal(ms, -1);
	assert_int_equal(jira_time_parse("2024-02-29T00:00:00.000+0000", &ms,
	    NULL), 0);
	assert_int_equal(ms, 1709164800000LL);
	/* More than three fraction digits are cut, not misread. */
	assert_int_equal(jira_time_parse("2024-01-02T03:04:05.678999+0000",
	    &ms, NULL), 0);
	assert_int_equal(ms, 1704164645678LL);
	assert_int_equal(jira_time_parse("2024-01-02T03:04:05.6+0000", &ms,
	    NULL), 0);
	assert_int_equal(ms, 1704164645600LL);
}

static void
test_jira_time_parse_rejects_garbage(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	int64_t ms;
	static const char *const bad[] = {
		"", "2024-01-02", "2024-01-02 03:04:05+0000",
		"2024-13-02T03:04:05.678+0000", "2024-02-30T03:04:05+0000",
		"2024-01-02T24:04:05.678+0000", "2024-01-02T03:04:05.678",
		"2024-01-02T03:04:05.678+0000x", "2024-01-02T03:04:05.+0000",
		"yesterday", "2024-01-02T03:04:05.678+00",
	};
	size_t i;

	(void)state;
	for (i = 0; i < FERRY_ARRAY_SIZE(bad); i++) {
		assert_int_equal(jira_time_parse(bad[i], &ms, &err), FERRY_ERR);
		assert_non_null(strstr(err.msg, "bad Jira time"));
	}
	assert_int_equal(jira_time_parse(NULL, &ms, &err), FERRY_ERR);
}

static void
test_jira_time_format_round_trips(void **state)
{
	static const int64_t v[] = { 0, 1704164645678LL, -1, 951782400123LL,
	    4102444799999LL };
	char out[32];
	int64_t ms;
	size_t i;

	(void)state;
	jira_time_format(1704164645678LL, out);
	assert_string_equal(out, "2024-01-02T03:04:05.678+0000");
	for (i = 0; i < FERRY_ARRAY_SIZE(v); i++) {
		jira_time_format(v[i], out);
		assert_int_equal(jira_time_parse(out, &ms, NULL), 0);
		assert_int_equal(ms, v[i]);
	}
}

static void
test_jira_jql_date_is_in_the_zone_to_the_minute(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char out[24];

	(void)state;
	setenv("TZ", "Asia/Tokyo", 1);
	/* 2024-01-02T03:04:05.678Z */
	assert_int_equal(jira_jql_date(1704164645678LL, "UTC", out, &err), 0);
	assert_string_equal(out, "\"2024-01-02 03:04\"");
	assert_int_equal(jira_jql_date(1704164645678LL, "Europe/Berlin", out,
	    &err), 0);
	assert_string_equal(out, "\"2024-01-02 04:04\"");
	assert_int_equal(jira_jql_date(1704164645678LL, "America/New_York",
	    out, &err), 0);
	assert_string_equal(out, "\"2024-01-01 22:04\"");
	/* Summer time: Berlin is UTC+2 on 2024-07-01. */
	assert_int_equal(jira_jql_date(1719792000000LL, "Europe/Berlin", out,
	    &err), 0);
	assert_string_equal(out, "\"2024-07-01 02:00\"");
	/* The caller's TZ is put back. */
	assert_string_equal(getenv("TZ"), "Asia/Tokyo");
	unsetenv("TZ");
	assert_int_equal(jira_jql_date(0, "UTC", out, &err), 0);
	assert_null(getenv("TZ"));
	jira_jql_epoch(1704164645678LL, out);
	assert_string_equal(out, "1704164645678");
	jira_jql_epoch(-1, out);
	assert_string_equal(out, "-1");
}

static void
test_jira_jql_date_rejects_unknown_zones(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	char out[24];

	(void)state;
	assert_int_equal(jira_jql_date(0, "Mars/Olympus", out, &err),
	    FERRY_ERR);
	assert_non_null(strstr(err.msg, "unknown time zone"));
	assert_int_equal(jira_jql_date(0, "../../etc/passwd", out, &err),
	    FERRY_ERR);
	assert_int_equal(jira_jql_date(0, "", out, &err), FERRY_ERR);
	assert_int_equal(jira_jql_date(0, NULL, out, &err), FERRY_ERR);
}

static void
test_jira_url_join_keeps_the_context_path(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	jira_url_join(&b, "https://h/jira/", "/rest/api/2/myself", NULL);
	assert_string_equal(b.data, "https://h/jira/rest/api/2/myself");
	buf_reset(&b);
	jira_url_join(&b, "https://h/jira", "/rest/api/2/search", "a=1");
	assert_string_equal(b.data, "https://h/jira/rest/api/2/search?a=1");
	buf_reset(&b);
	jira_url_join(&b, "http://h:8080//", "rest/x?b=2", "a=1");
	assert_string_equal(b.data, "http://h:8080/rest/x?b=2&a=1");
	buf_reset(&b);
	jira_url_join(&b, "https://h", "/x", "");
	assert_string_equal(b.data, "https://h/x");
	buf_release(&b);
}

static void
test_jira_url_origin_normalises_and_refuses_userinfo(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	assert_true(jira_url_origin("HTTPS://Jira.Example.com:443/jira/x", &b));
	assert_string_equal(b.data, "https://jira.example.com");
	buf_reset(&b);
	assert_true(jira_url_origin("http://127.0.0.1:8080", &b));
	assert_string_equal(b.data, "http://127.0.0.1:8080");
	buf_reset(&b);
	assert_true(jira_url_origin("http://h:80?x", &b));
	assert_string_equal(b.data, "http://h");
	buf_reset(&b);
	assert_false(jira_url_origin("https://user:pw@h/", &b));
	buf_reset(&b);
	assert_false(jira_url_origin("ftp://h/", &b));
	buf_reset(&b);
	assert_false(jira_url_origin("https:///x", &b));
	buf_release(&b);
}

static void
test_jira_url_escape_escapes_all_but_unreserved(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	jira_url_escape(&b, "DEMO-1 a/b?c&d=e\xc3\xa4~_.");
	assert_string_equal(b.data, "DEMO-1%20a%2Fb%3Fc%26d%3De%C3%A4~_.");
	buf_release(&b);
}

static void
test_jira_errbody_joins_messages_and_field_errors(void **state)
{
	struct buf b = BUF_INIT(0);
	const char *body = "{\"errorMessages\":[\"first\",\"\",\"second\"],"
	    "\"errors\":{\"summary\":\"Summary must be less than 255 "
	    "characters.\"}}";

	(void)state;
	assert_true(jira_errbody_format(body, strlen(body), &b));
	assert_string_equal(b.data, "first; second; summary: Summary must "
	    "be less than 255 characters.");
	buf_reset(&b);
	body = "{\"errorMessages\":[],\"errors\":{\"invalid\":\"Field "
	    "'invalid' is not valid for this operation.\"}}";
	assert_true(jira_errbody_format(body, strlen(body), &b));
	assert_string_equal(b.data, "invalid: Field 'invalid' is not valid "
	    "for this operation.");
	buf_release(&b);
}

static void
test_jira_errbody_reads_bulk_element_errors(void **state)
{
	struct buf b = BUF_INIT(0);
	const char *body = "{\"issues\":[],\"errors\":[{\"status\":400,"
	    "\"elementErrors\":{\"errorMessages\":[],\"errors\":{\"project\":"
	    "\"project is required\"}},\"failedElementNumber\":0},"
	    "{\"status\":400,\"elementErrors\":{\"errorMessages\":[\"no\"]},"
	    "\"failedElementNumber\":3}]}";

	(void)state;
	assert_true(jira_errbody_format(body, strlen(body), &b));
	assert_string_equal(b.data, "issue 0: project: project is required; "
	    "issue 3: no");
	buf_release(&b);
}

static void
test_jira_errbody_reads_the_basic_auth_disabled_shape(void **state)
{
	struct buf b = BUF_INIT(0);
	const char *body = "{\"message\":\"Basic Authentication has been "
	    "disabled on this instance.\"}";

	(void)state;
	assert_true(jira_errbody_format(body, strlen(body), &b));
	assert_string_equal(b.data,
	    "Basic Authentication has been disabled on this instance.");
	buf_release(&b);
}

static void
test_jira_errbody_gives_an_html_title_and_escapes(void **state)
{
	struct buf b = BUF_INIT(0);
	const char *html = "\n<!DOCTYPE html><html><head><TITLE> 502 Bad "
	    "Gateway\x1b </TITLE></head><body>nginx</body></html>";

	(void)state;
	assert_true(jira_body_is_html(html, strlen(html), NULL));
	assert_true(jira_errbody_format(html, strlen(html), &b));
	assert_string_equal(b.data, "502 Bad Gateway\\x1b");
	buf_reset(&b);
	assert_false(jira_errbody_format("{\"errorMessages\":[]}", 20, &b));
	assert_int_equal(b.len, 0);
	assert_false(jira_errbody_format("{\"errorMes", 10, &b));
	assert_false(jira_errbody_format("", 0, &b));
	assert_false(jira_errbody_format("<html>no title</html>", 21, &b));
	assert_true(jira_body_is_html("{}", 2, "text/html; charset=UTF-8"));
	assert_false(jira_body_is_html("{}", 2, "application/json"));
	buf_release(&b);
}

static void
test_jira_backoff_grows_is_capped_and_jittered(void **state)
{
	long d;
	int n;

	(void)state;
	/* Equal jitter: between half and all of the exponential step. */
	for (n = 1; n <= 12; n++) {
		long full = 100L << (n - 1);

		if (full > 5000)
			full = 5000;
		d = jira_backoff_ms(100, 5000, n, 0);
		assert_int_equal(d, full - full / 2);
		d = jira_backoff_ms(100, 5000, n, UINT32_MAX);
		assert_true(d >= full - full / 2 && d <= full);
		d = jira_backoff_ms(100, 5000, n, 12345);
		assert_true(d >= full - full / 2 && d <= full);
	}
	assert_int_equal(jira_backoff_ms(100, 5000, 0, 0), 50);
	assert_int_equal(jira_backoff_ms(1, 1, 100, 7), 1);
	/* Large attempt numbers do not overflow. */
	assert_true(jira_backoff_ms(30000, 30000, 1000, 99) <= 30000);
}

static void
test_jira_retry_after_reads_seconds_dates_and_reset(void **state)
{
	/* 2024-01-02T03:04:05Z */
	int64_t now = 1704164645000LL;

	(void)state;
	assert_int_equal(jira_retry_after_ms("7", NULL, now), 7000);
	assert_int_equal(jira_retry_after_ms("0", NULL, now), 0);
	assert_int_equal(jira_retry_after_ms("Tue, 02 Jan 2024 03:04:15 GMT",
	    NULL, now), 10000);
	assert_int_equal(jira_retry_after_ms("Tue, 02 Jan 2024 03:04:00 GMT",
	    NULL, now), 0);
	assert_int_equal(jira_retry_after_ms(NULL,
	    "2024-01-02T03:04:08.500Z", now), 3500);
	assert_int_equal(jira_retry_after_ms("", "2024-01-02T03:04:08.500+0000",
	    now), 3500);
	assert_int_equal(jira_retry_after_ms("soon", NULL, now), -1);
	assert_int_equal(jira_retry_after_ms("-5", NULL, now), -1);
	assert_int_equal(jira_retry_after_ms(NULL, NULL, now), -1);
	assert_int_equal(jira_retry_after_ms(NULL, "garbage", now), -1);
}

static void
test_jira_disposition_escapes_quotes_and_encodes_utf8(void **state)
{
	struct buf b = BUF_INIT(0);

	(void)state;
	jira_disposition(&b, "file", "a \"b\"\\c.txt");
	assert_string_equal(b.data, "form-data; name=\"file\"; filename="
	    "\"a \\\"b\\\"\\\\c.txt\"; filename*=UTF-8''a%20%22b%22%5Cc.txt");
	buf_reset(&b);
	jira_disposition(&b, "file", "r\xc3\xa9sum\xc3\xa9/x\r\n.pdf");
	assert_string_equal(b.data, "form-data; name=\"file\"; filename="
	    "\"r\xc3\xa9sum\xc3\xa9/x__.pdf\"; filename*=UTF-8''"
	    "r%C3%A9sum%C3%A9%2Fx%0D%0A.pdf");
	buf_release(&b);
}

static void
test_jira_new_rejects_bad_urls_and_missing_credentials(void **state)
{
	struct jira_opts o = JIRA_OPTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct jira *j = NULL;

	(void)state;
	o.creds.user = "ferry";
	o.creds.secret = "s3cret";
	o.url = "ftp://jira";
	assert_int_equal(jira_new(&o, &j, &err), FERRY_ECONFIG);
	assert_null(j);
	o.url = "https://jira/x?y=1";
	assert_int_equal(jira_new(&o, &j, &err), FERRY_ECONFIG);
	o.url = "https://ferry:hunter2@jira.example.com/";
	assert_int_equal(jira_new(&o, &j, &err), FERRY_ECONFIG);
	assert_null(strstr(err.msg, "hunter2"));
	o.url = "https://jira.example.com/jira/";
	o.creds.user = NULL;
	assert_int_equal(jira_new(&o, &j, &err), FERRY_ECONFIG);
	assert_null(strstr(err.msg, "s3cret"));
	o.creds.auth = JIRA_AUTH_BEARER;
	assert_int_equal(jira_new(&o, &j, &err), 0);
	assert_int_equal(jira_flavor(j), JIRA_FLAVOR_AUTO);
	jira_free(j);
	jira_free(NULL);
}

static void
test_jira_legacy_createmeta_takes_the_jira9_shape(void **state)
{
	const char *src = getenv("FERRY_SRCDIR");
	struct ferry_err err = FERRY_ERR_INIT;
	json_t *ans, *out = NULL, *f;
	char *path;
	size_t i;
	bool summary = false;

	(void)state;
	path = xasprintf("%s/tests/emu/reference/payloads/"
	    "dc-v2-createmeta-legacy-expand-fields.json", src ? src : ".");
	ans = json_load_file(path, 0, NULL);
	free(path);
	if (ans == NULL) {
		path = xasprintf("%s/../shared/jira-reference/payloads/"
		    "dc-v2-createmeta-legacy-expand-fields.json",
		    src ? src : ".");
		ans = json_load_file(path, 0, NULL);
		free(path);
	}
	if (ans == NULL)
		skip();
	assert_int_equal(jira_createmeta_from_legacy(ans, NULL, &out, &err),
	    0);
	assert_int_equal(json_array_size(out), 5);
	assert_string_equal(jira_jstr(json_array_get(out, 2), "name"), "Task");
	assert_null(json_object_get(json_array_get(out, 2), "fields"));
	json_decref(out);
	assert_int_equal(jira_createmeta_from_legacy(ans, "3", &out, &err), 0);
	json_array_foreach(out, i, f)
		if (strcmp(jira_jstr(f, "fieldId"), "summary") == 0)
			summary = json_is_true(json_object_get(f, "required"));
	assert_true(summary);
	json_decref(out);
	assert_int_equal(jira_createmeta_from_legacy(ans, "999", &out, &err),
	    FERRY_ENOTFOUND);
	assert_null(out);
	json_decref(ans);
	ans = json_pack("{s:[]}", "projects");
	assert_int_equal(jira_createmeta_from_legacy(ans, NULL, &out, &err),
	    FERRY_ENOTFOUND);
	json_decref(ans);
}

static int
count_page(void *arg, const struct jira_page *page, struct ferry_err *err)
{
	(void)err;
	*(size_t *)arg += json_array_size(page->items);
	return 0;
}

static void
test_jira_unreachable_server_is_retried_then_retry_later(void **state)
{
	struct jira_opts o = JIRA_OPTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct jira_search q = { "project = DEMO", NULL, false, NULL, NULL };
	struct jira_created c = JIRA_CREATED_INIT;
	struct jira_stats st;
	struct jira *j = NULL;
	json_t *body;
	size_t n = 0;

	(void)state;
	/* Port 1 on loopback: connection refused, nothing was sent. */
	o.url = "http://127.0.0.1:1/jira";
	o.creds.user = "ferry";
	o.creds.secret = "s3cret";
	o.flavor = JIRA_FLAVOR_SERVER;
	o.max_attempts = 3;
	o.backoff_base_ms = 1;
	o.backoff_max_ms = 2;
	assert_int_equal(jira_new(&o, &j, &err), 0);
	assert_int_equal(jira_search(j, &q, count_page, &n, NULL, &err),
	    FERRY_ERETRY);
	assert_non_null(strstr(err.msg, "cannot reach Jira"));
	assert_non_null(strstr(err.msg, "after 3 attempts"));
	assert_null(strstr(err.msg, "s3cret"));
	jira_get_stats(j, &st);
	assert_int_equal(st.requests, 3);
	assert_int_equal(st.retries, 2);
	/* A create that never left is safe to repeat: not in doubt. */
	body = json_pack("{s:{s:s}}", "fields", "summary", "x");
	assert_int_equal(jira_issue_create(j, body, &c, &err), FERRY_ERETRY);
	json_decref(body);
	jira_created_release(&c);
	jira_get_stats(j, &st);
	assert_int_equal(st.requests, 6);
	assert_int_equal(n, 0);
	jira_free(j);
}

static void
test_jira_search_refuses_an_order_by(void **state)
{
	struct jira_opts o = JIRA_OPTS_INIT;
	struct ferry_err err = FERRY_ERR_INIT;
	struct jira_search q = { "project = X order  by key", NULL, false,
	    NULL, NULL };
	struct jira *j = NULL;
	size_t n = 0;

	(void)state;
	o.url = "http://127.0.0.1:1";
	o.creds.auth = JIRA_AUTH_BEARER;
	o.creds.secret = "t";
	assert_int_equal(jira_new(&o, &j, &err), 0);
	assert_int_equal(jira_search(j, &q, count_page, &n, NULL, &err),
	    FERRY_ERR);
	assert_non_null(strstr(err.msg, "ORDER BY"));
	q.jql = "summary ~ \"border bypass\"";
	o.max_attempts = 1;
	/* Not an ORDER BY: it gets as far as the network (and fails). */
	assert_int_not_equal(jira_search(j, &q, count_page, &n, NULL, &err),
	    FERRY_ERR);
	jira_free(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jira_time_parse_reads_jira_format_with_offset),
		cmocka_unit_test(test_jira_time_parse_rejects_garbage),
		cmocka_unit_test(test_jira_time_format_round_trips),
		cmocka_unit_test(test_jira_jql_date_is_in_the_zone_to_the_minute),
		cmocka_unit_test(test_jira_jql_date_rejects_unknown_zones),
		cmocka_unit_test(test_jira_url_join_keeps_the_context_path),
		cmocka_unit_test(test_jira_url_origin_normalises_and_refuses_userinfo),
		cmocka_unit_test(test_jira_url_escape_escapes_all_but_unreserved),
		cmocka_unit_test(test_jira_errbody_joins_messages_and_field_errors),
		cmocka_unit_test(test_jira_errbody_reads_bulk_element_errors),
		cmocka_unit_test(test_jira_errbody_reads_the_basic_auth_disabled_shape),
		cmocka_unit_test(test_jira_errbody_gives_an_html_title_and_escapes),
		cmocka_unit_test(test_jira_backoff_grows_is_capped_and_jittered),
		cmocka_unit_test(test_jira_retry_after_reads_seconds_dates_and_reset),
		cmocka_unit_test(test_jira_disposition_escapes_quotes_and_encodes_utf8),
		cmocka_unit_test(test_jira_new_rejects_bad_urls_and_missing_credentials),
		cmocka_unit_test(test_jira_legacy_createmeta_takes_the_jira9_shape),
		cmocka_unit_test(test_jira_unreachable_server_is_retried_then_retry_later),
		cmocka_unit_test(test_jira_search_refuses_an_order_by),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
