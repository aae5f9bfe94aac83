/*
 * cmd_config.c: "ferry config show": the effective configuration, with
 * every default filled in, as INI or JSON.  The secret itself is never
 * read here; only where it comes from is shown.
 */
#include "ferry/common.h"
#include "ferry/cli.h"
#include "ferry/config.h"

#include <jansson.h>

FERRY_COMMAND(config, "show: the effective configuration, secrets masked");

static const char *const algo_names[] = { "ed25519", "rsa3072" };
static const char *const flavor_names[] = { "auto", "server", "cloud" };
static const char *const auth_names[] = { "basic", "bearer" };
static const char *const transport_names[] = { "spool", "mail" };

static const char *
yesno(bool b)
{
	return b ? "yes" : "no";
}

static void
show_ini(const struct config *cfg)
{
	const struct config_conn *c;
	size_t i;

	printf("; effective configuration of %s\n", cfg->path);
	printf("[site]\nname = %s\nstate_dir = %s\nkey_algorithm = %s\n"
	    "key_expiry = %" PRIu32 "d\nallow_network_fs = %s\n\n",
	    cfg->site.name, cfg->site.state_dir,
	    algo_names[cfg->site.key_algorithm], cfg->site.key_expiry_days,
	    yesno(cfg->site.allow_network_fs));
	printf("[jira]\nurl = %s\nflavor = %s\nauth = %s\nuser = %s\n",
	    cfg->jira.url, flavor_names[cfg->jira.flavor],
	    auth_names[cfg->jira.auth], cfg->jira.user);
	if (cfg->jira.secret_file != NULL)
		printf("secret_file = %s\n", cfg->jira.secret_file);
	else
		printf("secret_env = %s\n", cfg->jira.secret_env);
	printf("; secret = ******** (never shown)\n");
	if (cfg->jira.ca_file != NULL)
		printf("ca_file = %s\n", cfg->jira.ca_file);
	if (cfg->jira.proxy != NULL)
		printf("proxy = %s\n", cfg->jira.proxy);
	printf("timeout = %" PRIu32 "s\n", cfg->jira.timeout_s);
	for (i = 0; i < cfg->nconns; i++) {
		c = &cfg->conns[i];
		printf("\n[connection %s]\nproject = %s\ntransport = %s\n"
		    "outbox = %s\ninbox = %s\nrequire_mount = %s\n"
		    "scope = %s\nencrypt = %s\nresend_after = %" PRIu32 "s\n"
		    "ack_interval = %" PRIu32 "s\nbundle_max = %" PRIu64 "\n"
		    "invite_expiry = %" PRIu32 "s\n", c->name, c->project,
		    transport_names[c->transport], c->outbox, c->inbox,
		    yesno(c->require_mount), c->scope, yesno(c->encrypt),
		    c->resend_after_s, c->ack_interval_s, c->bundle_max,
		    c->invite_expiry_s);
	}
}

static json_t *
opt_string(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static void
show_json(const struct config *cfg)
{
	const struct config_conn *c;
	json_t *root, *conns;
	size_t i;

	conns = json_array();
	for (i = 0; i < cfg->nconns; i++) {
		c = &cfg->conns[i];
		json_array_append_new(conns, json_pack(
		    "{s:s, s:s, s:s, s:s, s:s, s:b, s:s, s:b, s:I, s:I, s:I,"
		    " s:I}",
		    "name", c->name, "project", c->project,
		    "transport", transport_names[c->transport],
		    "outbox", c->outbox, "inbox", c->inbox,
		    "require_mount", c->require_mount, "scope", c->scope,
		    "encrypt", c->encrypt,
		    "resend_after_s", (json_int_t)c->resend_after_s,
		    "ack_interval_s", (json_int_t)c->ack_interval_s,
		    "bundle_max", (json_int_t)c->bundle_max,
		    "invite_expiry_s", (json_int_t)c->invite_expiry_s));
	}
	root = json_pack("{s:s, s:{s:s, s:s, s:s, s:I, s:b},"
	    " s:{s:s, s:s, s:s, s:s, s:o, s:o, s:s, s:o, s:o, s:I}, s:o}",
	    "path", cfg->path,
	    "site", "name", cfg->site.name, "state_dir", cfg->site.state_dir,
	    "key_algorithm", algo_names[cfg->site.key_algorithm],
	    "key_expiry_days", (json_int_t)cfg->site.key_expiry_days,
	    "allow_network_fs", cfg->site.allow_network_fs,
	    "jira", "url", cfg->jira.url,
	    "flavor", flavor_names[cfg->jira.flavor],
	    "auth", auth_names[cfg->jira.auth], "user", cfg->jira.user,
	    "secret_file", opt_string(cfg->jira.secret_file),
	    "secret_env", opt_string(cfg->jira.secret_env),
	    "secret", "********",
	    "ca_file", opt_string(cfg->jira.ca_file),
	    "proxy", opt_string(cfg->jira.proxy),
	    "timeout_s", (json_int_t)cfg->jira.timeout_s,
	    "connections", conns);
	cli_print_json(root);
}

int
cmd_config(int argc, char **argv, struct ferry_ctx *ctx,
    struct ferry_err *err)
{
	struct config *cfg = NULL;
	int rc;

	if (argc != 2 || strcmp(argv[1], "show") != 0)
		return ferry_err_set(err, FERRY_EUSAGE,
		    "usage: ferry [-c CONFIG] [--json] config show");
	if ((rc = config_load(ctx->config_path, &cfg, err)) < 0)
		return rc;
	if (ctx->json)
		show_json(cfg);
	else
		show_ini(cfg);
	config_free(cfg);
	return 0;
}
