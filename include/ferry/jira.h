/*
 * jira.h: the Jira REST client (libcurl + jansson), Data Center/Server
 * (REST v2) and Cloud (REST v2 writes, enhanced search on v3).
 *
 * Everything ferry does to Jira goes through one struct jira: one curl
 * easy handle reused across requests (keep-alive), compressed responses,
 * TLS verification always on, bounded retries.  docs/jira-client.md is
 * the long form; shared/jira-reference/API-NOTES.md names the quirks.
 *
 * Errors.  Every call returns 0 or a negative FERRY_E* code with err set
 * and, for an HTTP answer, err->http the status.  The message carries
 * Jira's own errorMessages and per-field errors.  The codes:
 *
 *	FERRY_EAUTH	401, a CAPTCHA demand, or basic authentication
 *			disabled.  After a 401 or a CAPTCHA the client makes
 *			no further request (it would lock the account): every
 *			later call fails at once with FERRY_EAUTH.
 *	FERRY_EREFUSED	403 (a missing permission), 400, 409, 422: park it
 *	FERRY_ENOTFOUND	404 (also: no permission to see it), 410
 *	FERRY_ELIMIT	413 (too large), or an answer over JIRA_BODY_MAX
 *	FERRY_ERETRY	5xx, 429, timeouts, dropped connections, HTML or
 *			broken JSON, once the retries and the call's time
 *			budget are spent
 *	FERRY_EINDOUBT	a write that is not safe to repeat (create, comment
 *			add, upload, transition) failed after the request may
 *			have reached Jira: look the result up before writing
 *			again.  Never retried blindly.
 *
 * JSON.  Bodies go in and come out as jansson values.  Inputs are
 * borrowed (const json_t *): the client never keeps or changes them.  An
 * out parameter json_t ** receives a new reference the caller releases
 * with json_decref(); it is NULL after a failure.
 *
 * Identifiers: "idOrKey" is an issue key ("DEMO-12") or numeric id as a
 * string; the client escapes it for the URL.
 *
 * Not thread-safe: one struct jira per thread.
 */
#ifndef FERRY_JIRA_H
#define FERRY_JIRA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct ferry_err;

/* Limits (bytes, counts). */
#define JIRA_BODY_MAX		(64u * 1024 * 1024)	/* one JSON answer */
#define JIRA_ERRBODY_MAX	(256u * 1024)		/* an error answer */
#define JIRA_URL_MAX		8192
#define JIRA_BULK_MAX		50	/* issues per bulk create request */
#define JIRA_UPLOAD_MAX_FILES	60	/* files per upload request */
#define JIRA_REDIRECT_MAX	5
/* jira.search.platform.max.result.window */
#define JIRA_DC_SEARCH_WINDOW	10000

enum jira_flavor {
	JIRA_FLAVOR_AUTO = 0,	/* detect from serverInfo */
	JIRA_FLAVOR_SERVER,	/* Server / Data Center */
	JIRA_FLAVOR_CLOUD,
};

enum jira_auth {
	JIRA_AUTH_BASIC = 0,	/* user + password or API token */
	JIRA_AUTH_BEARER,	/* personal access token (DC 8.14+) */
};

/*
 * Credentials, borrowed by jira_new(), which copies them (and wipes its
 * copies on jira_free()).  Never logged.
 */
struct jira_creds {
	enum jira_auth	 auth;
	const char	*user;		/* basic only */
	const char	*secret;	/* password, API token or PAT */
};

/*
 * Client options.  Start from JIRA_OPTS_INIT; 0 means the default shown.
 * The short timeouts are for tests; ferry uses the defaults or the
 * configured timeout.
 */
struct jira_opts {
	const char	*url;		/* base URL, may carry a context path */
	enum jira_flavor flavor;	/* AUTO: detect */
	struct jira_creds creds;
	const char	*ca_file;	/* NULL: the system CAs */
	const char	*proxy;		/* NULL: none (environment ignored) */
	long		 connect_timeout_ms;	/* 10000 */
	long		 timeout_ms;	/* one request, or a stall of a
					   streamed transfer: 60000 */
	long		 call_budget_ms; /* a whole call, retries included:
					   300000 */
	int		 max_attempts;	/* per request: 5 */
	long		 backoff_base_ms; /* 500 */
	long		 backoff_max_ms; /* 30000 */
	int		 search_page;	/* page size asked for: 0 = largest
					   (DC 1000, Cloud 5000); the server's
					   answer is read back */
	int		 search_window;	/* DC result window: 10000 */
	int		 meta_page;	/* createmeta/comments/changelog page:
					   0 = 1000 (the server caps it) */
};

#define JIRA_OPTS_INIT { NULL, JIRA_FLAVOR_AUTO, \
	{ JIRA_AUTH_BASIC, NULL, NULL }, NULL, NULL, 0, 0, 0, 0, 0, 0, 0, 0, 0 }

struct jira;

/*
 * A new client for opts->url.  Nothing is sent yet.  Fails with
 * FERRY_ECONFIG for a URL that is not http(s)://host[:port][/path] or
 * credentials that are incomplete.  Free with jira_free().
 */
int jira_new(const struct jira_opts *opts, struct jira **out,
    struct ferry_err *err);
void jira_free(struct jira *j);

/*
 * Server.  serverInfo is fetched once, on the first call that needs the
 * flavour, or by jira_detect(); a configured flavour is kept, only the
 * version is read.  A 404/410 from a flavour-specific endpoint makes the
 * client probe again (an upgrade, a migration to Cloud).
 */
struct jira_server {
	enum jira_flavor flavor;	/* SERVER or CLOUD */
	char		*version;	/* "9.12.15", "1001.0.0-SNAPSHOT" */
	int		 version_num[3];
	char		*deployment_type; /* "Server", "Cloud", or NULL */
	char		*server_title;
	char		*time_zone;	/* Cloud serverTimeZone, or NULL */
	int64_t		 server_time_ms; /* Jira's clock at the answer */
};

/* Fetch serverInfo now.  *out is borrowed until jira_free(). */
int jira_detect(struct jira *j, const struct jira_server **out,
    struct ferry_err *err);
/* The flavour known so far (AUTO before detection). */
enum jira_flavor jira_flavor(const struct jira *j);
/* Jira's clock now: serverInfo again, fetched (not cached). */
int jira_server_time(struct jira *j, int64_t *ms, struct ferry_err *err);

/* Identity: /myself.  Strings are new; release with jira_user_release(). */
struct jira_user {
	char	*name;		/* DC user name, NULL on Cloud */
	char	*key;		/* DC user key, NULL on Cloud */
	char	*account_id;	/* Cloud, NULL on DC */
	char	*display_name;
	char	*email;		/* may be NULL (hidden) */
	char	*time_zone;	/* IANA name; the zone of JQL dates */
	bool	 active;
};
#define JIRA_USER_INIT { NULL, NULL, NULL, NULL, NULL, NULL, false }

/*
 * The sync user.  Also remembers the user's time zone for
 * jira_jql_date_user().
 */
int jira_myself(struct jira *j, struct jira_user *out,
    struct ferry_err *err);
void jira_user_release(struct jira_user *u);

/*
 * The sync user's permissions in a project (key or numeric id) as the
 * answer's "permissions" object: KEY -> {havePermission, ...}.  keys is
 * a NULL-terminated list of permission keys; Cloud requires one (NULL
 * there asks for the permissions ferry uses), DC answers all.
 */
int jira_mypermissions(struct jira *j, const char *project,
    const char *const *keys, json_t **out, struct ferry_err *err);
/* True if perms (from jira_mypermissions) grants key. */
bool jira_have_permission(const json_t *perms, const char *key);

/* Project metadata.  Each *out is a new reference. */
int jira_project(struct jira *j, const char *project, json_t **out,
    struct ferry_err *err);			/* incl. issueTypes */
int jira_project_statuses(struct jira *j, const char *project,
    json_t **out, struct ferry_err *err);	/* per issue type */
int jira_priorities(struct jira *j, json_t **out, struct ferry_err *err);
int jira_fields(struct jira *j, json_t **out, struct ferry_err *err);
/*
 * createmeta (Jira 9 / Cloud per-issue-type endpoints), every page read:
 * *out is an array of issue types, or of field beans (each with fieldId,
 * required, schema, allowedValues...).
 */
int jira_createmeta_issuetypes(struct jira *j, const char *project,
    json_t **out, struct ferry_err *err);
int jira_createmeta_fields(struct jira *j, const char *project,
    const char *issuetype_id, json_t **out, struct ferry_err *err);

/*
 * A page of results, handed to a jira_page_fn.  items is borrowed: valid
 * only during the call (take json_incref() to keep an item).  Return 0
 * to go on, or a negative code (with err set) to stop: jira_search()
 * then returns that code.
 */
struct jira_page {
	json_t		*items;		/* array: issues, comments, histories */
	size_t		 first;		/* index of items[0] in the result */
	int64_t		 total;		/* reported total, or -1 (Cloud) */
	bool		 last;		/* no page follows */
};
typedef int jira_page_fn(void *arg, const struct jira_page *page,
    struct ferry_err *err);

/*
 * Search.  jql must have no ORDER BY: the client orders by updated, key
 * so that it can page past Data Center's result window by moving an
 * "updated >= <epoch ms>" bound to the last second handed over (Jira
 * compares dates in whole seconds; the issues of that second already
 * handed over are skipped).  A search of N issues costs ceil(N / page)
 * calls at the largest page the server allows, plus about one per
 * window crossed.  An issue changed during the search may come twice.
 * Data Center uses /rest/api/2/search (startAt, total); Cloud the
 * enhanced /rest/api/3/search/jql (nextPageToken).
 */
struct jira_search {
	const char		*jql;
	const char *const	*fields;	/* NULL-terminated; NULL:
						   "*navigable" */
	bool			 changelog;	/* expand=changelog */
	const char *const	*properties;	/* entity properties (<= 5) */
	const char *const	*reconcile;	/* Cloud: issue ids to read
						   after write (<= 50) */
};
/* Search statistics, for tests and -v. */
struct jira_search_stats {
	int	calls;		/* requests made */
	int	page_size;	/* as read back from the server */
	int64_t	issues;		/* issues handed to fn */
	int	windows;	/* DC result windows crossed */
};
int jira_search(struct jira *j, const struct jira_search *q,
    jira_page_fn *fn, void *arg, struct jira_search_stats *stats,
    struct ferry_err *err);

/*
 * Read known issues (numeric ids or keys) with the fewest calls, page
 * by page, shaped by q's fields, changelog and properties (q->jql is not
 * used): Cloud's /rest/api/3/issue/bulkfetch (JIRA_BULKFETCH_MAX a
 * request, consistent right after a write); Data Center a search
 * "issuekey in (...)", and one GET per issue when Jira refuses that
 * search (it does when one of them no longer exists).  Issues that do
 * not exist or cannot be seen are left out of the pages.
 */
#define JIRA_BULKFETCH_MAX	100
int jira_issues_read(struct jira *j, const char *const *ids, size_t n,
    const struct jira_search *q, jira_page_fn *fn, void *arg,
    struct ferry_err *err);

/*
 * Issues.  fields, expand and properties are comma-separated lists or
 * NULL (Jira's defaults).
 */
int jira_issue_get(struct jira *j, const char *id_or_key, const char *fields,
    const char *expand, const char *properties, json_t **out,
    struct ferry_err *err);

/* What a create returned: new strings, release with jira_created_release. */
struct jira_created {
	char	*id;
	char	*key;
};
#define JIRA_CREATED_INIT { NULL, NULL }
void jira_created_release(struct jira_created *c);

/*
 * Create an issue: body is {fields, update, properties, historyMetadata}.
 * Never repeated after the request may have reached Jira: FERRY_EINDOUBT
 * then (stamp it with a property in body and look it up).
 */
int jira_issue_create(struct jira *j, const json_t *body,
    struct jira_created *out, struct ferry_err *err);
/*
 * Bulk create: issues is an array of create bodies, sent JIRA_BULK_MAX
 * at a time.  *out is {"issues": [...], "errors": [...]} over all of
 * them (failedElementNumber indexes issues).  Returns 0 if at least one
 * was created, FERRY_EREFUSED (with *out set) if all failed, and
 * FERRY_EINDOUBT (with *out holding the earlier requests' results) if
 * a request's outcome is unknown.
 */
int jira_issue_create_bulk(struct jira *j, const json_t *issues,
    json_t **out, struct ferry_err *err);
/*
 * Edit: body is {fields, update, properties, historyMetadata}; all
 * changes to one issue in one request.  query is extra URL parameters
 * ("notifyUsers=false") or NULL.  Retried like a read unless update
 * adds a comment or worklog (then FERRY_EINDOUBT).
 */
int jira_issue_edit(struct jira *j, const char *id_or_key, const json_t *body,
    const char *query, struct ferry_err *err);
/* Delete; sub-tasks too if subtasks.  A retry that finds it gone is 0. */
int jira_issue_delete(struct jira *j, const char *id_or_key, bool subtasks,
    struct ferry_err *err);

/*
 * Changelog, oldest first, handed over page by page: Cloud's paged
 * /issue/{id}/changelog; DC, which has no such endpoint, the issue's
 * expand=changelog (one page).  items are histories.
 */
int jira_changelog(struct jira *j, const char *id_or_key, jira_page_fn *fn,
    void *arg, struct ferry_err *err);

/*
 * Changelogs of several issues (numeric ids), with the fewest calls:
 * Cloud's /rest/api/3/changelog/bulkfetch (JIRA_CHANGELOG_BULK_MAX issues a
 * request, paged by token); Data Center has no bulk form, so one
 * jira_changelog() per issue.  Each page's items are objects
 * {"issueId": "10001", "changeHistories": [...]}; one issue's histories
 * may continue on the next page.
 */
#define JIRA_CHANGELOG_BULK_MAX	1000
int jira_changelogs(struct jira *j, const char *const *ids, size_t n,
    jira_page_fn *fn, void *arg, struct ferry_err *err);

/* Transitions available now (expand=transitions.fields if fields). */
int jira_transitions(struct jira *j, const char *id_or_key, bool fields,
    json_t **out, struct ferry_err *err);
/*
 * Perform: body is {transition:{id}, fields, update, historyMetadata}.
 * Not repeated blindly: FERRY_EINDOUBT.
 */
int jira_transition(struct jira *j, const char *id_or_key, const json_t *body,
    struct ferry_err *err);

/*
 * Comments.  A restriction is {type "role"|"group", value, identifier};
 * Jira drops a restriction that an edit does not resend, so an edit
 * always sends the visibility it is given: pass the current one to keep
 * it (type NULL: visible to all).
 */
struct jira_comment {
	const char	*body;		/* wiki markup (REST v2) */
	const char	*vis_type;	/* NULL, "role" or "group" */
	const char	*vis_value;	/* role or group name */
	const char	*vis_id;	/* Cloud group id, or NULL */
	const json_t	*properties;	/* [{key, value}] or NULL */
};

/* List, oldest first, page by page; expand e.g. "properties" or NULL. */
int jira_comments(struct jira *j, const char *id_or_key, const char *expand,
    jira_page_fn *fn, void *arg, struct ferry_err *err);
/* Add: *out is the new comment.  FERRY_EINDOUBT as for creates. */
int jira_comment_add(struct jira *j, const char *id_or_key,
    const struct jira_comment *c, json_t **out, struct ferry_err *err);
int jira_comment_edit(struct jira *j, const char *id_or_key,
    const char *comment_id, const struct jira_comment *c, json_t **out,
    struct ferry_err *err);
int jira_comment_delete(struct jira *j, const char *id_or_key,
    const char *comment_id, struct ferry_err *err);

/* Attachments. */
/* Whether attachments are on, and the upload limit in bytes. */
int jira_attachment_settings(struct jira *j, bool *enabled, int64_t *limit,
    struct ferry_err *err);
int jira_attachment_meta(struct jira *j, const char *attachment_id,
    json_t **out, struct ferry_err *err);

/*
 * Download an attachment's content into fd (which must be seekable: a
 * retry starts again at the offset fd had).  content_url is the "content"
 * of its metadata, or NULL to ask (DC: the metadata; Cloud:
 * /rest/api/3/attachment/content/{id}).  Redirects are followed, but
 * credentials are only sent to the origin of the base URL, and never
 * from https to http.  *size (may be NULL) gets the bytes written.
 * Never holds the content in memory.
 */
int jira_attachment_download(struct jira *j, const char *attachment_id,
    const char *content_url, int fd, int64_t *size, struct ferry_err *err);
/* As above, into path, written atomically (file_atomic_*) with mode. */
int jira_attachment_download_path(struct jira *j, const char *attachment_id,
    const char *content_url, const char *path, int64_t *size,
    struct ferry_err *err);

/* One file of an upload. */
struct jira_upload {
	const char	*path;		/* read while sending, never loaded */
	const char	*name;		/* name Jira shows; NULL: basename */
	const char	*mime_type;	/* NULL: application/octet-stream */
};
/*
 * Upload n files (<= JIRA_UPLOAD_MAX_FILES) to one issue in one multipart
 * request.  *out is the array of new attachment beans.  FERRY_EINDOUBT
 * if the outcome is unknown.
 */
int jira_attachment_upload(struct jira *j, const char *id_or_key,
    const struct jira_upload *files, size_t n, json_t **out,
    struct ferry_err *err);
int jira_attachment_delete(struct jira *j, const char *attachment_id,
    struct ferry_err *err);

/* Entity properties on issues and comments. */
enum jira_entity { JIRA_ENTITY_ISSUE, JIRA_ENTITY_COMMENT };

/* *out is the property's value; FERRY_ENOTFOUND if not set. */
int jira_property_get(struct jira *j, enum jira_entity e, const char *id,
    const char *key, json_t **out, struct ferry_err *err);
/* *out is the array of keys ({key, self}). */
int jira_property_keys(struct jira *j, enum jira_entity e, const char *id,
    json_t **out, struct ferry_err *err);
int jira_property_set(struct jira *j, enum jira_entity e, const char *id,
    const char *key, const json_t *value, struct ferry_err *err);
int jira_property_delete(struct jira *j, enum jira_entity e, const char *id,
    const char *key, struct ferry_err *err);

/*
 * Remote issue links.  A body with a globalId updates the link with that
 * globalId (so it is safe to repeat); *out (may be NULL) gets {id, self}.
 */
int jira_remotelinks(struct jira *j, const char *id_or_key,
    const char *global_id, json_t **out, struct ferry_err *err);
int jira_remotelink_put(struct jira *j, const char *id_or_key,
    const json_t *body, json_t **out, struct ferry_err *err);
/* By globalId; or by link id if global_id is NULL. */
int jira_remotelink_delete(struct jira *j, const char *id_or_key,
    const char *global_id, const char *link_id, struct ferry_err *err);

/*
 * Generic request, for what has no call of its own: method, a path under
 * the base URL ("/rest/api/2/..."), already escaped, and a JSON body or
 * NULL.  idempotent says whether a failure may be retried (GET always
 * may).  *out (may be NULL) gets the parsed answer, or NULL for an empty
 * one.
 */
int jira_call(struct jira *j, const char *method, const char *path,
    const json_t *body, bool idempotent, json_t **out,
    struct ferry_err *err);

/* Counters since jira_new(), for tests and -v. */
struct jira_stats {
	int	requests;	/* requests sent, retries included */
	int	connects;	/* new connections: 1 while keep-alive holds */
	int	retries;
	int64_t	bytes_in, bytes_out;
};
void jira_get_stats(const struct jira *j, struct jira_stats *out);

/*
 * Times.  Jira writes 2024-01-02T03:04:05.678+0000 (also +01:00, Z, no
 * fraction); each value carries its own offset.  Fails with FERRY_ERR on
 * anything else.
 */
int jira_time_parse(const char *s, int64_t *ms, struct ferry_err *err);
/* Format ms as Jira does, in UTC: 2024-01-02T03:04:05.678+0000. */
void jira_time_format(int64_t ms, char out[32]);

/*
 * A JQL date literal "yyyy-MM-dd HH:mm" for the instant ms in the IANA
 * zone tz (JQL reads offset-less dates in the searching user's zone, at
 * minute precision: the minute is rounded down).  Quoted, ready for JQL.
 * Fails with FERRY_ERR for an unknown zone.  It sets TZ for the
 * conversion and restores it: not for use while other threads run.
 */
int jira_jql_date(int64_t ms, const char *tz, char out[24],
    struct ferry_err *err);
/*
 * The zone-free alternative: epoch milliseconds, unquoted (JQL reads a
 * bare number as an instant; Jira compares to the second).
 */
void jira_jql_epoch(int64_t ms, char out[24]);
/* As jira_jql_date, in the zone of the sync user (jira_myself() first). */
int jira_jql_date_user(struct jira *j, int64_t ms, char out[24],
    struct ferry_err *err);

#endif
