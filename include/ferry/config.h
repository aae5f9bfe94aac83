/*
 * config.h: the site's configuration file (INI, read with inih).
 *
 * Loaded and validated once, at start: an unknown section or key, a
 * missing required key, a bad value or a secret file readable by others is
 * a FERRY_ECONFIG error naming the file, the line, the key and what to do.
 * The reference is docs/configuration.md and ferry.conf(5).
 *
 *	[site]
 *	name = alpha
 *	state_dir = /var/lib/ferry
 *	[jira]
 *	url = https://jira.example.com/jira
 *	user = ferry
 *	secret_file = /etc/ferry/jira.secret
 *	[connection alpha-beta]
 *	project = DEMO
 *	transport = spool
 *	outbox = /media/usb/ferry
 *	inbox = /media/usb/ferry
 */
#ifndef FERRY_CONFIG_H
#define FERRY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ferry_err;

enum config_key_algo { CONFIG_KEY_ED25519, CONFIG_KEY_RSA3072 };
enum config_flavor { CONFIG_FLAVOR_AUTO, CONFIG_FLAVOR_SERVER,
    CONFIG_FLAVOR_CLOUD };
enum config_auth { CONFIG_AUTH_BASIC, CONFIG_AUTH_BEARER };
enum config_transport { CONFIG_TRANSPORT_SPOOL, CONFIG_TRANSPORT_MAIL };

struct config_site {
	char			*name;		/* [A-Za-z0-9-], <= 32 */
	char			*state_dir;	/* absolute */
	enum config_key_algo	 key_algorithm;	/* default ed25519 */
	uint32_t		 key_expiry_days; /* default 730 */
	bool			 allow_network_fs; /* default false */
};

struct config_jira {
	char			*url;		/* http(s)://host[:port][/path] */
	enum config_flavor	 flavor;	/* default auto */
	enum config_auth	 auth;		/* default basic */
	char			*user;		/* the sync user */
	char			*secret_file;	/* one of these two */
	char			*secret_env;
	char			*ca_file;	/* NULL: system CAs */
	char			*proxy;		/* NULL: none (env ignored) */
	uint32_t		 timeout_s;	/* default 60 */
};

struct config_conn {
	char			*name;		/* [connection NAME] */
	int			 line;		/* where the section starts */
	char			*project;	/* local project key */
	enum config_transport	 transport;
	char			*outbox;	/* spool: folder to write to */
	char			*inbox;		/* spool: folder to read from */
	bool			 require_mount;	/* spool: refuse an unmounted
						   mount point; default true */
	char			*scope;		/* JQL; default "project = KEY" */
	bool			 encrypt;	/* default true */
	uint32_t		 resend_after_s; /* default 1 day */
	uint32_t		 ack_interval_s; /* default 1 hour */
	uint64_t		 bundle_max;	/* bytes; default 64 MiB */
	uint32_t		 invite_expiry_s; /* default 7 days */
};

struct config {
	char			*path;
	struct config_site	 site;
	struct config_jira	 jira;
	struct config_conn	*conns;
	size_t			 nconns;
};

/*
 * Read and validate path.  On success *out is a new config the caller
 * frees with config_free().  Fails with FERRY_ECONFIG (message: file, line,
 * key, what to do) or FERRY_ENOTFOUND/FERRY_EIO for an unreadable file.
 */
int config_load(const char *path, struct config **out, struct ferry_err *err);
void config_free(struct config *cfg);

/* The connection named name, or NULL. */
const struct config_conn *config_conn_find(const struct config *cfg,
    const char *name);

/*
 * Read the Jira secret from the file or environment variable the config
 * names.  The file must not be readable by group or others.  *secret is a
 * new string the caller wipes and frees with free_secret(s, strlen(s)).
 */
int config_read_secret(const struct config *cfg, char **secret,
    struct ferry_err *err);

#endif
