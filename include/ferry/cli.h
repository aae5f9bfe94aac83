/*
 * cli.h: what main.c hands to each command.
 *
 * Each command lives in src/cmd_<name>.c and declares itself with one
 * line at file scope:
 *
 *	FERRY_COMMAND(init, "create the state directory, database and key");
 *
 * The build collects these lines into the command table, so adding a
 * command touches no shared file.  A command parses its own arguments,
 * calls modules, prints results on stdout, and returns 0 or a FERRY_E*
 * code with err filled; main prints the error once and maps the code to
 * an exit status (sysexits(3)).
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_err;

struct ferry_ctx {
	const char	*config_path;	/* -c, or the default */
	bool		 config_given;	/* -c was on the command line */
	int		 verbosity;	/* -1 for -q, 0, 1 for -v, 2 for -vv */
	bool		 json;		/* --json */
};

#define FERRY_DEFAULT_CONFIG "/etc/ferry/ferry.conf"

struct json_t;

/*
 * Print o on stdout as indented JSON, keys in insertion order, and drop
 * the reference: the one way every command's --json output is written.
 */
void cli_print_json(struct json_t *o);

/* t (Unix seconds) as "2026-11-25T10:20:00Z" in UTC; 0 is "never". */
void cli_utc_time(int64_t t, char *out, size_t len);

typedef int ferry_cmd_fn(int argc, char **argv, struct ferry_ctx *ctx,
    struct ferry_err *err);

struct ferry_cmd {
	const char	*name;
	const char	*summary;
	ferry_cmd_fn	*run;
};

#define FERRY_COMMAND(name, summary) \
	int cmd_##name(int, char **, struct ferry_ctx *, struct ferry_err *); \
	const struct ferry_cmd ferry_cmd_##name = { #name, summary, cmd_##name }

#endif
