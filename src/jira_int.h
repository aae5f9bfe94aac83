/*
 * jira_int.h: what the jira_*.c files share; not part of the contract.
 * The pure helpers are declared here so the unit tests can reach them.
 */
#ifndef FERRY_JIRA_INT_H
#define FERRY_JIRA_INT_H

#include <curl/curl.h>

#include "ferry/buf.h"
#include "ferry/jira.h"

#define JIRA_DEF_CONNECT_MS	10000
#define JIRA_DEF_TIMEOUT_MS	60000
#define JIRA_DEF_BUDGET_MS	300000
#define JIRA_DEF_ATTEMPTS	5
#define JIRA_DEF_BACKOFF_MS	500
#define JIRA_DEF_BACKOFF_MAX_MS	30000
#define JIRA_DEF_META_PAGE	1000
#define JIRA_DC_PAGE_ASK	1000
#define JIRA_CLOUD_PAGE_ASK	5000

struct jira {
	CURL			*curl;
	char			*base;		/* no trailing slash */
	char			*origin;	/* scheme://host[:port] */
	enum jira_flavor	 flavor;
	bool			 flavor_fixed;	/* configured, not detected */
	bool			 detected;
	struct jira_server	 server;
	enum jira_auth		 auth;
	char			*user;
	char			*secret;
	char			*ca_file;
	char			*proxy;
	long			 connect_ms, timeout_ms, budget_ms;
	long			 backoff_base_ms, backoff_max_ms;
	int			 max_attempts;
	int			 search_page, search_window, meta_page;
	char			*user_tz;	/* from /myself */
	bool			 auth_dead;	/* 401 or CAPTCHA seen */
	char			 auth_why[256];
	uint64_t		 rng;
	struct jira_stats	 stats;
	struct curl_slist	*hdrs_json, *hdrs_nocheck, *hdrs_plain;
};

/* One request. */
struct jira_req {
	const char	*method;	/* GET POST PUT DELETE */
	const char	*path;		/* under base, escaped; or url */
	const char	*url;		/* absolute (downloads), or NULL */
	const char	*body;		/* JSON text or NULL */
	size_t		 body_len;
	curl_mime	*mime;		/* multipart body or NULL */
	bool		 idempotent;	/* safe to repeat */
	int		 sink_fd;	/* >= 0: stream a 2xx body here */
	bool		 follow;	/* follow redirects (manually) */
	bool		 gone_ok;	/* DELETE: 404 after a retry is 0 */
	bool		 keep_errbody;	/* a JSON error body stays in json */
	const char	*what;		/* "get issue 'X'" for messages */
};
#define JIRA_REQ_INIT { "GET", NULL, NULL, NULL, 0, NULL, false, -1, \
	false, false, false, NULL }

struct jira_resp {
	long		 status;
	json_t		*json;		/* parsed body, or NULL if empty */
	int64_t		 streamed;	/* bytes written to sink_fd */
	int		 attempts;
};
#define JIRA_RESP_INIT { 0, NULL, 0, 0 }

/* jira_http.c */
int jira_http(struct jira *j, const struct jira_req *rq,
    struct jira_resp *rs, struct ferry_err *err);
void jira_resp_release(struct jira_resp *rs);
/* JSON-bodied request: dumps body (may be NULL), runs it, keeps json. */
int jira_json(struct jira *j, const char *method, const char *path,
    const json_t *body, bool idempotent, const char *what, json_t **out,
    struct ferry_err *err);
/* As jira_json; if keep_errbody, *out also gets a JSON error answer. */
int jira_json_ex(struct jira *j, const char *method, const char *path,
    const json_t *body, bool idempotent, bool keep_errbody, const char *what,
    json_t **out, struct ferry_err *err);
/* Ensure the flavour is known (detects once). */
int jira_need_flavor(struct jira *j, struct ferry_err *err);
/* Forget the detection (after a 404/410 from a flavour endpoint). */
void jira_forget_flavor(struct jira *j);

/* jira_util.c: pure helpers. */
/* Append s to b percent-escaped for a URL path segment or query value. */
bool jira_url_escape(struct buf *b, const char *s);
/*
 * Join base (maybe with a context path, maybe a trailing slash) and path
 * (starting with '/'), adding "?query" if query is not NULL/empty.
 */
bool jira_url_join(struct buf *out, const char *base, const char *path,
    const char *query);
/* The origin (scheme://host[:port], lower case, default port dropped) of
 * url into out; false if url is not http(s)://host... */
bool jira_url_origin(const char *url, struct buf *out);
/*
 * Jira's error answer as one line: errorMessages joined by "; ", then
 * "field: message" pairs; also the {"message": ...} shape.  An HTML page
 * gives its <title>.  Appends to out; false if nothing was recognised.
 */
bool jira_errbody_format(const char *body, size_t len, struct buf *out);
/* True if the body looks like an HTML page rather than JSON. */
bool jira_body_is_html(const char *body, size_t len, const char *ctype);
/*
 * Backoff before attempt n+1 after n failed attempts (n >= 1): full
 * exponential base * 2^(n-1), capped at max, then "equal jitter": half
 * fixed, half random from r (any 32-bit value).
 */
long jira_backoff_ms(long base, long max, int n, uint32_t r);
/*
 * Retry-After (delta seconds or an HTTP date) or X-RateLimit-Reset (an
 * ISO-8601 instant) as a wait in ms from now_ms; -1 if absent or bad.
 */
long jira_retry_after_ms(const char *retry_after, const char *reset,
    int64_t now_ms);
/*
 * The filename parameters of a multipart Content-Disposition for name:
 * filename="..." with '"' and '\' escaped and control characters
 * replaced, then filename*=UTF-8''<percent-escaped> (RFC 5987/6266) so
 * that any name travels exactly.
 */
bool jira_disposition(struct buf *out, const char *field, const char *name);
/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t jira_days_from_civil(int64_t y, unsigned m, unsigned d);
/* A monotonic clock in ms, and the wall clock in ms. */
int64_t jira_mono_ms(void);
int64_t jira_wall_ms(void);

/*
 * The legacy createmeta answer (projects[].issuetypes[].fields{}) in the
 * shape of the Jira 9 endpoints: the issue types without their fields
 * (issuetype_id NULL), or that type's fields as an array of beans, each
 * with "fieldId".  FERRY_ENOTFOUND if the project or type is missing.
 */
int jira_createmeta_from_legacy(const json_t *ans, const char *issuetype_id,
    json_t **out, struct ferry_err *err);

/* Small JSON accessors: NULL if absent or not a string. */
const char *jira_jstr(const json_t *o, const char *key);
char *jira_jdup(const json_t *o, const char *key);

#endif
