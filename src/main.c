/*
 * main.c: global options, the command table, and the one place where a
 * FERRY_E* code becomes an exit status.
 */
#include "ferry/common.h"
#include "ferry/cli.h"
#include "ferry/log.h"

#include <getopt.h>
#include <locale.h>

/* cmdlist.h is generated from the FERRY_COMMAND() lines of src/cmd_*.c. */
#define FERRY_CMD(n) extern const struct ferry_cmd ferry_cmd_##n;
#include "cmdlist.h"
#undef FERRY_CMD

static const struct ferry_cmd *const commands[] = {
#define FERRY_CMD(n) &ferry_cmd_##n,
#include "cmdlist.h"
#undef FERRY_CMD
	NULL
};

static void
usage(FILE *fp)
{
	size_t i;

	fprintf(fp,
	    "usage: ferry [-c CONFIG] [-v|-q] [--json] COMMAND [ARGS]\n"
	    "\n"
	    "Keep Jira issues in sync between sites that cannot reach each "
	    "other.\n\ncommands:\n");
	for (i = 0; commands[i] != NULL; i++)
		fprintf(fp, "  %-22s %s\n", commands[i]->name,
		    commands[i]->summary);
	fprintf(fp,
	    "\noptions:\n"
	    "  -c, --config FILE      configuration file (default %s)\n"
	    "  -v, --verbose          more detail on stderr (twice: trace)\n"
	    "  -q, --quiet            only errors; quiet when another run "
	    "holds the lock\n"
	    "  --json                 machine-readable results on stdout\n"
	    "  -h, --help             this text\n"
	    "  --version              print the version\n"
	    "\nSee ferry(1) and ferry.conf(5).\n", FERRY_DEFAULT_CONFIG);
}

static const struct ferry_cmd *
find_command(const char *name)
{
	size_t i;

	for (i = 0; commands[i] != NULL; i++)
		if (strcmp(commands[i]->name, name) == 0)
			return commands[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ferry_ctx ctx = { FERRY_DEFAULT_CONFIG, false, 0, false };
	struct ferry_err err = FERRY_ERR_INIT;
	const struct ferry_cmd *cmd;
	const char *env;
	int ch, rc;

	setlocale(LC_CTYPE, "");
	if ((env = getenv("FERRY_CONFIG")) != NULL && *env != '\0') {
		ctx.config_path = env;
		ctx.config_given = true;
	}
	/* "+": options stop at the command name; the rest are its own. */
	while ((ch = getopt_long(argc, argv, "+c:vqh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctx.config_path = optarg;
			ctx.config_given = true;
			break;
		case 'v':
			ctx.verbosity = ctx.verbosity < 0 ? 1 : ctx.verbosity + 1;
			break;
		case 'q':
			ctx.verbosity = -1;
			break;
		case 'j':
			ctx.json = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("ferry %s\n", FERRY_VERSION);
			return 0;
		default:
			usage(stderr);
			return ferry_exit_status(FERRY_EUSAGE);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		usage(stderr);
		return ferry_exit_status(FERRY_EUSAGE);
	}
	log_set_level(ctx.verbosity < 0 ? LOG_QUIET :
	    ctx.verbosity == 0 ? LOG_INFO :
	    ctx.verbosity == 1 ? LOG_DEBUG : LOG_TRACE);
	if (strcmp(argv[0], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if ((cmd = find_command(argv[0])) == NULL) {
		fprintf(stderr, "ferry: unknown command '%s'; "
		    "'ferry --help' lists the commands\n", argv[0]);
		return ferry_exit_status(FERRY_EUSAGE);
	}
	/* Commands see getopt afresh: their argv[0] is their own name. */
	optind = 0;
	rc = cmd->run(argc, argv, &ctx, &err);
	if (rc < 0) {
		/* A held lock is expected under cron: -q keeps it quiet. */
		if (!(rc == FERRY_ELOCKED && ctx.verbosity < 0))
			fprintf(stderr, "ferry: %s\n", err.msg[0] != '\0' ?
			    err.msg : ferry_code_name(rc));
		return ferry_exit_status(rc);
	}
	return rc;
}
