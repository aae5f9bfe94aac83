/* test_config.c: the configuration file, good and bad, message by message. */
#include "ferry/common.h"
#include "ferry/config.h"
#include "testutil.h"

#include <sys/stat.h>
#include <unistd.h>

struct fixture {
	char	*dir;
	char	*conf;
	char	*secret;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof(*f));

	f->dir = tu_mkdtemp();
	f->conf = xasprintf("%s/ferry.conf", f->dir);
	f->secret = xasprintf("%s/secret", f->dir);
	tu_write_file(f->secret, "pa55word\n", 9);
	chmod(f->secret, 0600);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	tu_rmtree(f->dir);
	free(f->dir);
	free(f->conf);
	free(f->secret);
	free(f);
	return 0;
}

/* A valid base; extra text is appended (later sections, bad keys). */
static int
load(struct fixture *f, const char *site_extra, const char *jira_extra,
    const char *tail, struct config **cfg, struct ferry_err *err)
{
	char *text;
	int rc;

	text = xasprintf("[site]\nname = alpha\nstate_dir = /var/lib/ferry\n"
	    "%s[jira]\nurl = https://jira.example.com/jira/\nuser = ferry\n"
	    "secret_file = %s\n%s%s", site_extra, f->secret, jira_extra, tail);
	tu_write_file(f->conf, text, strlen(text));
	free(text);
	rc = config_load(f->conf, cfg, err);
	return rc;
}

static void
test_valid_config_fills_defaults(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;
	const struct config_conn *c;

	assert_int_equal(load(f, "", "", "[connection alpha-beta]\n"
	    "project = DEMO\noutbox = /mnt/usb/out/\ninbox = /mnt/usb/in\n",
	    &cfg, &err), 0);
	assert_string_equal(cfg->site.name, "alpha");
	assert_int_equal(cfg->site.key_algorithm, CONFIG_KEY_ED25519);
	assert_int_equal(cfg->site.key_expiry_days, 730);
	/* Trailing slashes go: paths and URLs are joined later. */
	assert_string_equal(cfg->jira.url, "https://jira.example.com/jira");
	assert_int_equal(cfg->jira.flavor, CONFIG_FLAVOR_AUTO);
	assert_int_equal(cfg->nconns, 1);
	c = config_conn_find(cfg, "alpha-beta");
	assert_non_null(c);
	assert_null(config_conn_find(cfg, "nope"));
	assert_string_equal(c->outbox, "/mnt/usb/out");
	assert_string_equal(c->scope, "project = DEMO");
	assert_true(c->encrypt);
	assert_true(c->require_mount);
	assert_int_equal(c->resend_after_s, 86400);
	assert_int_equal(c->ack_interval_s, 3600);
	assert_int_equal(c->bundle_max, 64ULL << 20);
	assert_int_equal(c->invite_expiry_s, 7 * 86400);
	config_free(cfg);
}

static void
test_values_of_each_type_are_parsed(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;
	const struct config_conn *c;

	assert_int_equal(load(f, "key_algorithm = RSA3072\nkey_expiry = 365\n",
	    "flavor = cloud\nauth = bearer\ntimeout = 2m\n",
	    "[connection x]\nproject = OPS_2\noutbox = /s\ninbox = /s\n"
	    "encrypt = off\nresend_after = 12h\nack_interval = 30m\n"
	    "bundle_max = 10M\nrequire_mount = no\ninvite_expiry = 2w\n"
	    "scope = project = OPS_2 AND labels = sync\n"
	    "  AND status != Done\n", &cfg, &err), 0);
	assert_int_equal(cfg->site.key_algorithm, CONFIG_KEY_RSA3072);
	assert_int_equal(cfg->site.key_expiry_days, 365);
	assert_int_equal(cfg->jira.flavor, CONFIG_FLAVOR_CLOUD);
	assert_int_equal(cfg->jira.auth, CONFIG_AUTH_BEARER);
	assert_int_equal(cfg->jira.timeout_s, 120);
	c = &cfg->conns[0];
	assert_false(c->encrypt);
	assert_false(c->require_mount);
	assert_int_equal(c->resend_after_s, 12 * 3600);
	assert_int_equal(c->ack_interval_s, 1800);
	assert_int_equal(c->bundle_max, 10ULL << 20);
	assert_int_equal(c->invite_expiry_s, 14 * 86400);
	/* An indented line continues the scope (inih stops at 200 bytes). */
	assert_string_equal(c->scope,
	    "project = OPS_2 AND labels = sync AND status != Done");
	config_free(cfg);
}

struct bad {
	const char	*site, *jira, *tail;
	const char	*want;		/* substring of the message */
};

static const struct bad bads[] = {
	{ "", "", "[connection a]\nproject = DEMO\noutbx = /s\ninbox = /s\n",
	    ":10: unknown key 'outbx' in [connection a]; did you mean "
	    "'outbox'?" },
	{ "stat_dir = /x\n", "", "", ":4: unknown key 'stat_dir' in [site]; "
	    "did you mean 'state_dir'?" },
	{ "", "", "[jria]\nx = 1\n", ":8: unknown section [jria]; did you "
	    "mean [jira]?" },
	{ "", "", "[bogus]\n", ":8: unknown section [bogus]; the sections "
	    "are" },
	{ "", "", "[connection]\n", "[connection] needs a name" },
	{ "", "", "[connection a/b]\n", "'a/b' is not a valid connection "
	    "name" },
	{ "", "", "[connection a]\nproject = DEMO\noutbox = /s\ninbox = /s\n"
	    "[connection a]\n", ":12: [connection a] appears twice" },
	{ "", "url = https://x\n", "", "'url' is set twice in [jira]" },
	{ "", "password = hunter2\n", "", "'password' cannot be in the "
	    "configuration file" },
	{ "", "", "[connection a]\noutbox = /s\ninbox = /s\n",
	    "[connection a] needs 'project'" },
	{ "", "", "[connection a]\nproject = demo\n", "'project' = 'demo' is "
	    "not a Jira project key" },
	{ "", "", "[connection a]\nproject = DEMO\n", "needs 'outbox' and "
	    "'inbox'" },
	{ "", "", "[connection a]\nproject = DEMO\ntransport = mail\n"
	    "outbox = /s\ninbox = /s\n", "transport 'mail' is not available" },
	{ "", "", "[connection a]\nproject = DEMO\ntransport = carrier-pigeon"
	    "\n", "'transport' = 'carrier-pigeon' is not valid; use spool" },
	{ "", "", "[connection a]\nproject = DEMO\noutbox = relative/p\n",
	    "'outbox' = 'relative/p' is not an absolute path" },
	{ "", "", "[connection a]\nproject = DEMO\nresend_after = soon\n",
	    "'resend_after' = 'soon' is not a duration" },
	{ "", "", "[connection a]\nproject = DEMO\nbundle_max = 1K\n",
	    "'bundle_max' = '1K' is not valid; use a size from 64K to 4095M" },
	{ "", "", "[connection a]\nproject = DEMO\nbundle_max = 5G\n",
	    "'bundle_max' = '5G' is not valid" },
	{ "", "", "[connection a]\nproject = DEMO\nencrypt = maybe\n",
	    "'encrypt' = 'maybe' is not yes or no" },
	{ "key_expiry = 0\n", "", "", "'key_expiry' = '0' is not valid" },
	{ "key_expiry = 99999\n", "", "", "'key_expiry' = '99999' is not "
	    "valid" },
	{ "", "flavor = saas\n", "", "'flavor' = 'saas' is not valid; use "
	    "auto, server or cloud" },
	{ "", "", "[connection a b]\n", "'a b' is not a valid connection "
	    "name" },
	{ "", "proxy =\n", "", "'proxy' in [jira] is empty" },
	{ "", "secret_env = X\n", "", "exactly one of 'secret_file' and "
	    "'secret_env'" },
	{ "", "", "this is not ini\n", ":8: not a valid line" },
	{ "", "timeout = 1x\n", "", "'timeout' = '1x' is not a duration" },
	{ "", "", "[connection a]\nproject = DEMO\n  continued\n",
	    "indented line continues 'project', which takes one line" },
};

static void
test_each_bad_config_names_file_line_key_and_fix(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err;
	struct config *cfg;
	size_t i;

	for (i = 0; i < FERRY_ARRAY_SIZE(bads); i++) {
		ferry_err_clear(&err);
		cfg = (struct config *)1;
		if (load(f, bads[i].site, bads[i].jira, bads[i].tail, &cfg,
		    &err) != FERRY_ECONFIG || strstr(err.msg, bads[i].want) ==
		    NULL || strncmp(err.msg, f->conf, strlen(f->conf)) != 0) {
			print_error("case %zu: got '%s', want '%s'\n", i,
			    err.msg, bads[i].want);
			fail();
		}
		assert_null(cfg);
	}
}

static void
test_line_too_long_for_inih_is_refused_with_its_number(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;
	char tail[600];

	snprintf(tail, sizeof(tail), "[connection a]\nproject = DEMO\n"
	    "scope = project = DEMO AND summary ~ \"%0400d\"\n", 7);
	assert_int_equal(load(f, "", "", tail, &cfg, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, ":10: line longer than 198 "
	    "characters"));
}

static void
test_secret_file_readable_by_others_is_refused(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;

	chmod(f->secret, 0644);
	assert_int_equal(load(f, "", "", "", &cfg, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "is readable by others (mode 0644); "
	    "run: chmod 600"));
}

static void
test_missing_secret_file_is_refused(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;

	unlink(f->secret);
	assert_int_equal(load(f, "", "", "", &cfg, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "cannot be read: No such file"));
}

static void
test_missing_config_file_says_how_to_give_one(void **state)
{
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;

	(void)state;
	assert_int_equal(config_load("/nonexistent/ferry.conf", &cfg, &err),
	    FERRY_ENOTFOUND);
	assert_non_null(strstr(err.msg, "-c FILE"));
	assert_non_null(strstr(err.msg, "/nonexistent/ferry.conf"));
}

static void
test_secret_is_read_from_file_without_newline(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;
	char *s;

	assert_int_equal(load(f, "", "", "", &cfg, &err), 0);
	assert_int_equal(config_read_secret(cfg, &s, &err), 0);
	assert_string_equal(s, "pa55word");
	free_secret(s, strlen(s));
	/* Made readable after the load: refused at the read too. */
	chmod(f->secret, 0640);
	assert_int_equal(config_read_secret(cfg, &s, &err), FERRY_ECONFIG);
	assert_null(s);
	config_free(cfg);
}

static void
test_secret_from_environment(void **state)
{
	struct fixture *f = *state;
	struct ferry_err err = FERRY_ERR_INIT;
	struct config *cfg;
	char *text, *s;

	text = xasprintf("[site]\nname = a\nstate_dir = /s\n[jira]\n"
	    "url = http://127.0.0.1:1\nuser = u\nsecret_env = FERRY_T_SECRET\n");
	tu_write_file(f->conf, text, strlen(text));
	free(text);
	assert_int_equal(config_load(f->conf, &cfg, &err), 0);
	unsetenv("FERRY_T_SECRET");
	assert_int_equal(config_read_secret(cfg, &s, &err), FERRY_ECONFIG);
	assert_non_null(strstr(err.msg, "'FERRY_T_SECRET'"));
	setenv("FERRY_T_SECRET", "tok", 1);
	assert_int_equal(config_read_secret(cfg, &s, &err), 0);
	assert_string_equal(s, "tok");
	free_secret(s, strlen(s));
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_valid_config_fills_defaults),
		T(test_values_of_each_type_are_parsed),
		T(test_each_bad_config_names_file_line_key_and_fix),
		T(test_line_too_long_for_inih_is_refused_with_its_number),
		T(test_secret_file_readable_by_others_is_refused),
		T(test_missing_secret_file_is_refused),
		T(test_missing_config_file_says_how_to_give_one),
		T(test_secret_is_read_from_file_without_newline),
		T(test_secret_from_environment),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
