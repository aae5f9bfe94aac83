/*
 * jira_http.c: the client's HTTP core: one curl easy handle, one request
 * with its retries, and the mapping of every failure to a FERRY_E* code
 * and a sentence.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/jira.h"
#include "ferry/log.h"
#include "jira_int.h"

#include <time.h>
#include <unistd.h>

/* What one attempt saw, beyond the body. */
struct xfer {
	struct jira		*j;
	const struct jira_req	*rq;
	struct buf		 body;		/* JSON, or an error body */
	int			 fd;		/* sink, or -1 */
	int64_t			 written;
	int			 sink_errno;
	bool			 over;		/* body past its limit */
	bool			 streaming;
	bool			 stalled;
	bool			 auth_sent;	/* credentials went along */
	int64_t			 last_move_ms;
	curl_off_t		 last_dl, last_ul;
	char			 retry_after[64];
	char			 rl_reset[64];
	char			 seraph[128];
	char			 denied[256];
	char			 ausername[128];
	char			 ctype[128];
};

/* How an attempt ended, for the retry decision. */
enum outcome {
	OUT_OK,			/* 2xx with a usable body */
	OUT_FINAL,		/* an answer that retrying will not change */
	OUT_NOTSENT,		/* failed before the request left: repeatable */
	OUT_TRANSIENT,		/* 5xx, timeout, reset, bad body: maybe done */
	OUT_THROTTLED,		/* 429: Jira did not process it */
};

static uint32_t
rng_next(struct jira *j)
{
	/* xorshift64*: jitter only, no secrets. */
	j->rng ^= j->rng >> 12;
	j->rng ^= j->rng << 25;
	j->rng ^= j->rng >> 27;
	return (uint32_t)((j->rng * 2685821657736338717ULL) >> 32);
}

static void
sleep_ms(long ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

int
jira_new(const struct jira_opts *o, struct jira **out, struct ferry_err *err)
{
	struct jira *j = NULL;
	struct buf origin = BUF_INIT(JIRA_URL_MAX);
	size_t n;
	int rc = FERRY_ECONFIG;

	*out = NULL;
	if (o->url != NULL && strchr(o->url, '@') != NULL) {
		/* Not echoed: it may hold a password. */
		ferry_err_set(err, FERRY_ECONFIG, "the Jira URL must not "
		    "carry credentials (user@ or user:password@): give them "
		    "as user and secret");
		goto out;
	}
	if (o->url == NULL || !jira_url_origin(o->url, &origin)) {
		ferry_err_set(err, FERRY_ECONFIG, "Jira URL '%s' is not "
		    "http(s)://host[:port][/path]", o->url ? o->url : "");
		goto out;
	}
	if (strpbrk(o->url, "?# \t\r\n") != NULL) {
		ferry_err_set(err, FERRY_ECONFIG, "Jira URL '%s' must not "
		    "carry a query, fragment or spaces", o->url);
		goto out;
	}
	if (o->creds.secret == NULL || o->creds.secret[0] == '\0' ||
	    (o->creds.auth == JIRA_AUTH_BASIC &&
	    (o->creds.user == NULL || o->creds.user[0] == '\0'))) {
		ferry_err_set(err, FERRY_ECONFIG, "Jira credentials are "
		    "incomplete: %s", o->creds.auth == JIRA_AUTH_BASIC ?
		    "basic authentication needs a user and a password or "
		    "token" : "bearer authentication needs a token");
		goto out;
	}
	j = xcalloc(1, sizeof(*j));
	if ((j->curl = curl_easy_init()) == NULL) {
		rc = ferry_err_set(err, FERRY_ERR, "cannot start libcurl");
		goto out;
	}
	j->base = xstrdup(o->url);
	n = strlen(j->base);
	while (n > 0 && j->base[n - 1] == '/')
		j->base[--n] = '\0';
	j->origin = buf_detach(&origin, NULL);
	j->flavor = o->flavor;
	j->flavor_fixed = o->flavor != JIRA_FLAVOR_AUTO;
	j->auth = o->creds.auth;
	j->user = dup_or_null(o->creds.user);
	j->secret = xstrdup(o->creds.secret);
	j->ca_file = dup_or_null(o->ca_file);
	j->proxy = dup_or_null(o->proxy);
	j->connect_ms = o->connect_timeout_ms > 0 ? o->connect_timeout_ms :
	    JIRA_DEF_CONNECT_MS;
	j->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms :
	    JIRA_DEF_TIMEOUT_MS;
	j->budget_ms = o->call_budget_ms > 0 ? o->call_budget_ms :
	    JIRA_DEF_BUDGET_MS;
	j->max_attempts = o->max_attempts > 0 ? o->max_attempts :
	    JIRA_DEF_ATTEMPTS;
	j->backoff_base_ms = o->backoff_base_ms > 0 ? o->backoff_base_ms :
	    JIRA_DEF_BACKOFF_MS;
	j->backoff_max_ms = o->backoff_max_ms > 0 ? o->backoff_max_ms :
	    JIRA_DEF_BACKOFF_MAX_MS;
	j->search_page = o->search_page;
	j->search_window = o->search_window > 0 ? o->search_window :
	    JIRA_DC_SEARCH_WINDOW;
	j->meta_page = o->meta_page > 0 ? o->meta_page : JIRA_DEF_META_PAGE;
	j->rng = (uint64_t)jira_wall_ms() ^ ((uint64_t)getpid() << 32) ^
	    0x9e3779b97f4a7c15ULL;
	j->hdrs_plain = curl_slist_append(NULL, "Accept: application/json");
	j->hdrs_plain = curl_slist_append(j->hdrs_plain, "Expect:");
	j->hdrs_json = curl_slist_append(NULL, "Accept: application/json");
	j->hdrs_json = curl_slist_append(j->hdrs_json,
	    "Content-Type: application/json; charset=utf-8");
	j->hdrs_json = curl_slist_append(j->hdrs_json, "Expect:");
	j->hdrs_nocheck = curl_slist_append(NULL, "Accept: application/json");
	j->hdrs_nocheck = curl_slist_append(j->hdrs_nocheck,
	    "X-Atlassian-Token: no-check");
	j->hdrs_nocheck = curl_slist_append(j->hdrs_nocheck, "Expect:");
	if (j->hdrs_plain == NULL || j->hdrs_json == NULL ||
	    j->hdrs_nocheck == NULL) {
		rc = ferry_err_set(err, FERRY_ERR, "cannot build headers");
		goto out;
	}
	*out = j;
	j = NULL;
	rc = 0;
out:
	buf_release(&origin);
	jira_free(j);
	return rc;
}

static void
server_release(struct jira_server *s)
{
	FREE_AND_NULL(s->version);
	FREE_AND_NULL(s->deployment_type);
	FREE_AND_NULL(s->server_title);
	FREE_AND_NULL(s->time_zone);
}

void
jira_free(struct jira *j)
{
	if (j == NULL)
		return;
	if (j->curl != NULL)
		curl_easy_cleanup(j->curl);
	curl_slist_free_all(j->hdrs_plain);
	curl_slist_free_all(j->hdrs_json);
	curl_slist_free_all(j->hdrs_nocheck);
	free(j->base);
	free(j->origin);
	if (j->user != NULL)
		free_secret(j->user, strlen(j->user));
	if (j->secret != NULL)
		free_secret(j->secret, strlen(j->secret));
	free(j->ca_file);
	free(j->proxy);
	free(j->user_tz);
	server_release(&j->server);
	free(j);
}

void
jira_get_stats(const struct jira *j, struct jira_stats *out)
{
	*out = j->stats;
}

/* Keep a header's value (trimmed) if its name matches. */
static void
grab(const char *line, size_t len, const char *name, char *dst, size_t dsz)
{
	size_t nl = strlen(name), vl;
	const char *v;

	if (len <= nl || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return;
	v = line + nl + 1;
	vl = len - nl - 1;
	while (vl > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vl--;
	}
	while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' ||
	    v[vl - 1] == ' '))
		vl--;
	if (vl >= dsz)
		vl = dsz - 1;
	memcpy(dst, v, vl);
	dst[vl] = '\0';
}

static size_t
on_header(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;

	/* A new status line: a redirect or 100-continue; forget the last. */
	if (len > 5 && strncmp(data, "HTTP/", 5) == 0) {
		x->retry_after[0] = x->rl_reset[0] = x->seraph[0] = '\0';
		x->denied[0] = x->ctype[0] = x->ausername[0] = '\0';
		return len;
	}
	grab(data, len, "Retry-After", x->retry_after, sizeof(x->retry_after));
	grab(data, len, "X-RateLimit-Reset", x->rl_reset,
	    sizeof(x->rl_reset));
	grab(data, len, "X-Seraph-LoginReason", x->seraph, sizeof(x->seraph));
	grab(data, len, "X-Authentication-Denied-Reason", x->denied,
	    sizeof(x->denied));
	grab(data, len, "Content-Type", x->ctype, sizeof(x->ctype));
	grab(data, len, "X-AUSERNAME", x->ausername, sizeof(x->ausername));
	return len;
}

static size_t
on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * nmemb;
	long status = 0;
	ssize_t w;
	size_t off;

	curl_easy_getinfo(x->j->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->fd >= 0 && status >= 200 && status < 300) {
		for (off = 0; off < len; off += (size_t)w) {
			w = write(x->fd, data + off, len - off);
			if (w < 0 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w <= 0) {
				x->sink_errno = w < 0 ? errno : EIO;
				return 0;
			}
		}
		x->written += (int64_t)len;
		return len;
	}
	if (!buf_add(&x->body, data, len)) {
		x->over = true;
		return 0;
	}
	return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow,
    curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	int64_t now;

	(void)dltotal;
	(void)ultotal;
	if (!x->streaming)
		return 0;
	/*
	 * A streamed transfer may take as long as it moves: give up only
	 * when nothing has moved for the timeout (in ms, finer than curl's
	 * low-speed limit).
	 */
	now = jira_mono_ms();
	if (dlnow != x->last_dl || ulnow != x->last_ul) {
		x->last_dl = dlnow;
		x->last_ul = ulnow;
		x->last_move_ms = now;
		return 0;
	}
	if (now - x->last_move_ms > x->j->timeout_ms) {
		x->stalled = true;
		return 1;
	}
	return 0;
}

static void
set_auth(struct jira *j, bool send)
{
	CURL *c = j->curl;

	if (!send) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_NONE);
		return;
	}
	if (j->auth == JIRA_AUTH_BEARER) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BEARER);
		curl_easy_setopt(c, CURLOPT_XOAUTH2_BEARER, j->secret);
	} else {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, j->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, j->secret);
	}
}

/*
 * Set up the handle for one request to url.  curl_easy_reset keeps the
 * live connections, so keep-alive survives it; everything else is set
 * again, so nothing of one request leaks into the next (credentials
 * above all).
 */
static void
setup(struct jira *j, struct xfer *x, const char *url, bool same_origin,
    long remaining_ms)
{
	const struct jira_req *rq = x->rq;
	CURL *c = j->curl;
	struct curl_slist *h;

	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_USERAGENT, "ferry/" FERRY_VERSION);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, j->connect_ms);
	/* Verification stays on (the default): set it anyway, never off. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (j->ca_file != NULL)
		curl_easy_setopt(c, CURLOPT_CAINFO, j->ca_file);
	/* "" disables proxies, including the environment's. */
	curl_easy_setopt(c, CURLOPT_PROXY, j->proxy != NULL ? j->proxy : "");
	/* Redirects are followed by hand (see run_chain), never by curl. */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_UNRESTRICTED_AUTH, 0L);
	set_auth(j, same_origin);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	if (x->streaming) {
		long s = (j->timeout_ms + 999) / 1000;

		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s > 0 ? s : 1L);
	} else {
		long t = j->timeout_ms;

		if (remaining_ms > 0 && remaining_ms < t)
			t = remaining_ms;
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, t > 0 ? t : 1L);
	}
	if (rq->mime != NULL)
		h = j->hdrs_nocheck;
	else if (rq->body != NULL)
		h = j->hdrs_json;
	else
		h = j->hdrs_plain;
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (rq->mime != NULL) {
		curl_easy_setopt(c, CURLOPT_MIMEPOST, rq->mime);
	} else if (rq->body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)rq->body_len);
		if (strcmp(rq->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
	} else if (strcmp(rq->method, "GET") == 0) {
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)0);
	} else {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, rq->method);
		if (strcmp(rq->method, "HEAD") == 0)
			curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	}
	if (j->proxy != NULL)
		curl_easy_setopt(c, CURLOPT_HTTPPROXYTUNNEL, 0L);
}

static void
xfer_reset(struct xfer *x)
{
	buf_reset(&x->body);
	x->over = false;
	x->stalled = false;
	x->sink_errno = 0;
	x->last_dl = x->last_ul = 0;
	x->last_move_ms = jira_mono_ms();
	x->retry_after[0] = x->rl_reset[0] = x->seraph[0] = '\0';
	x->denied[0] = x->ctype[0] = x->ausername[0] = '\0';
}

/*
 * The path and query of url, escaped, for log lines.  The query of a
 * redirect's target is left out: it may carry a signed token (Cloud's
 * media URLs do); the client's own queries carry none.
 */
static void
url_for_log(const char *url, const char *base, bool query, struct buf *out)
{
	size_t bl = strlen(base), n;
	const char *p = url;

	if (strncmp(url, base, bl) == 0 && (url[bl] == '/' || url[bl] == '\0'))
		p = url + bl;
	n = query ? strlen(p) : strcspn(p, "?#");
	buf_add_escaped(out, p, n > 300 ? 300 : n);
	if (n > 300)
		buf_addstr(out, "...");
	else if (p[n] == '?')
		buf_addstr(out, "?...");
}

static bool
http_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

/*
 * One attempt: the request, and any redirects (downloads).  Credentials
 * go only to the base URL's origin and never from https to http: curl is
 * not trusted with that decision, each hop is a new request whose
 * authentication is chosen here.  Returns the curl code of the last hop.
 */
static CURLcode
run_chain(struct jira *j, struct xfer *x, const char *url0, long remaining,
    long *status, char *errbuf, bool *refused)
{
	struct buf url = BUF_INIT(JIRA_URL_MAX), org = BUF_INIT(JIRA_URL_MAX);
	struct buf log = BUF_INIT(512);
	CURLcode cc = CURLE_OK;
	const char *loc;
	char *next;
	int64_t t0;
	int hops;
	bool same, was_https;

	*refused = false;
	buf_addstr(&url, url0);
	for (hops = 0; ; hops++) {
		buf_reset(&org);
		same = jira_url_origin(url.data, &org) &&
		    strcmp(org.data, j->origin) == 0;
		setup(j, x, url.data, same, remaining);
		x->auth_sent = same;
		curl_easy_setopt(j->curl, CURLOPT_ERRORBUFFER, errbuf);
		errbuf[0] = '\0';
		t0 = jira_mono_ms();
		j->stats.requests++;
		cc = curl_easy_perform(j->curl);
		*status = 0;
		curl_easy_getinfo(j->curl, CURLINFO_RESPONSE_CODE, status);
		buf_reset(&log);
		url_for_log(url.data, j->base, hops == 0, &log);
		if (cc == CURLE_OK)
			log_debug("jira: %s %s -> %ld (%" PRId64 " ms)%s",
			    x->rq->method, log.data, *status,
			    jira_mono_ms() - t0,
			    same ? "" : " (no credentials)");
		else
			log_debug("jira: %s %s -> %s (%" PRId64 " ms)",
			    x->rq->method, log.data, curl_easy_strerror(cc),
			    jira_mono_ms() - t0);
		{
			curl_off_t dl = 0, ul = 0;
			long nc = 0;

			CURL *c = j->curl;

			curl_easy_getinfo(c, CURLINFO_SIZE_DOWNLOAD_T, &dl);
			curl_easy_getinfo(c, CURLINFO_SIZE_UPLOAD_T, &ul);
			curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &nc);
			j->stats.connects += (int)nc;
			j->stats.bytes_in += dl;
			j->stats.bytes_out += ul;
		}
		if (cc != CURLE_OK || !x->rq->follow || !http_redirect(*status))
			break;
		loc = NULL;
		curl_easy_getinfo(j->curl, CURLINFO_REDIRECT_URL, &loc);
		if (loc == NULL || hops >= JIRA_REDIRECT_MAX) {
			snprintf(errbuf, CURL_ERROR_SIZE, "%s",
			    loc == NULL ? "redirect without a location" :
			    "too many redirects");
			*refused = true;
			break;
		}
		was_https = strncasecmp(url.data, "https:", 6) == 0;
		if (was_https && strncasecmp(loc, "https:", 6) != 0) {
			snprintf(errbuf, CURL_ERROR_SIZE,
			    "refusing a redirect from https to '%.200s'", loc);
			*refused = true;
			break;
		}
		next = xstrdup(loc);
		buf_reset(&url);
		buf_addstr(&url, next);
		free(next);
		/* The body of a redirect is not the content. */
		xfer_reset(x);
	}
	buf_release(&url);
	buf_release(&org);
	buf_release(&log);
	return cc;
}

static const char *
reason_phrase(long s)
{
	switch (s) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Payload Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "";
	}
}

static bool
is_captcha(const struct xfer *x)
{
	return x->denied[0] != '\0' ||
	    strstr(x->seraph, "AUTHENTICATION_DENIED") != NULL;
}

/*
 * Classify a finished HTTP answer, setting err for anything but success.
 * Jira's own messages come along in err->msg.
 */
static enum outcome
classify_http(struct jira *j, struct xfer *x, long status,
    struct jira_resp *rs, struct ferry_err *err)
{
	struct buf m = BUF_INIT(FERRY_ERR_MSG_MAX);
	const char *what = x->rq->what;
	enum outcome oc = OUT_FINAL;
	json_error_t je;
	bool jm;

	jm = jira_errbody_format(x->body.data, x->body.len, &m);
	if ((status == 401 || status == 403) && !x->auth_sent) {
		/* Another host (a redirect): our credentials are not at
		 * stake, and were not sent. */
		ferry_err_http(err, FERRY_ERR, status, "%s: the host it was "
		    "redirected to refused it (HTTP %ld): %s", what, status,
		    jm ? m.data : "no message");
		goto out;
	}
	if ((status == 401 || status == 403) && is_captcha(x)) {
		j->auth_dead = true;
		snprintf(j->auth_why, sizeof(j->auth_why), "Jira demands a "
		    "CAPTCHA for user '%s' after failed logins: an "
		    "administrator must log in once as that user in a browser "
		    "(and check the password) before ferry can go on",
		    j->user ? j->user : "(token)");
		ferry_err_http(err, FERRY_EAUTH, status, "%s", j->auth_why);
		goto out;
	}
	/*
	 * Rejected credentials do not always mean 401: Cloud answers reads
	 * that anonymous users may make as to an anonymous caller (200 with
	 * no issues, 404, []) and only says so in X-Seraph-LoginReason; DC
	 * names the user it served in X-AUSERNAME.  A dead token must not
	 * look like an empty result.
	 */
	if (status == 401 || (x->auth_sent &&
	    (strstr(x->seraph, "AUTHENTICATED_FAILED") != NULL ||
	    strcmp(x->ausername, "anonymous") == 0))) {
		j->auth_dead = true;
		snprintf(j->auth_why, sizeof(j->auth_why), "Jira refused the "
		    "credentials%s%s%s (%s: wrong %s, or unknown user); "
		    "ferry makes no further request until they are fixed, so "
		    "that the account is not locked",
		    j->user ? " of user '" : "", j->user ? j->user : "",
		    j->user ? "'" : "", status == 401 ? "HTTP 401" :
		    "answered as to an anonymous user",
		    j->auth == JIRA_AUTH_BEARER ? "or expired token" :
		    "password or API token");
		ferry_err_http(err, FERRY_EAUTH, status, "%s", j->auth_why);
		goto out;
	}
	if (status == 403 && strstr(m.data, "Basic Authentication has been "
	    "disabled") != NULL) {
		ferry_err_http(err, FERRY_EAUTH, status, "%s: Jira has basic "
		    "authentication disabled (\"%s\"): use a personal access "
		    "token (bearer) for the sync user", what, m.data);
		goto out;
	}
	if (status >= 200 && status < 300) {
		if (x->fd >= 0 || x->body.len == 0) {
			oc = OUT_OK;
			goto out;
		}
		if (jira_body_is_html(x->body.data, x->body.len, x->ctype)) {
			ferry_err_http(err, FERRY_ERETRY, status, "%s: Jira "
			    "answered with an HTML page instead of JSON%s%s%s "
			    "(a proxy or login page?)", what,
			    jm ? " ('" : "", jm ? m.data : "", jm ? "')" : "");
			oc = OUT_TRANSIENT;
			goto out;
		}
		rs->json = json_loadb(x->body.data, x->body.len,
		    JSON_DECODE_ANY, &je);
		if (rs->json == NULL) {
			ferry_err_http(err, FERRY_ERETRY, status, "%s: invalid "
			    "or truncated JSON from Jira (%zu bytes): %s at "
			    "position %d", what, x->body.len, je.text,
			    je.position);
			oc = OUT_TRANSIENT;
			goto out;
		}
		oc = OUT_OK;
		goto out;
	}
	if (x->rq->keep_errbody && x->body.len > 0)
		rs->json = json_loadb(x->body.data, x->body.len,
		    JSON_DECODE_ANY, NULL);
	if (jira_body_is_html(x->body.data, x->body.len, x->ctype)) {
		/* A proxy's or a login page, not Jira's REST API. */
		struct buf t = BUF_INIT(FERRY_ERR_MSG_MAX);

		buf_addstr(&t, "an HTML page instead of JSON (a proxy?)");
		if (jm)
			buf_addf(&t, ": '%s'", m.data);
		buf_reset(&m);
		buf_addstr(&m, t.data);
		buf_release(&t);
		jm = true;
	}
	if (!jm && m.len == 0 && x->body.len > 0) {
		buf_addstr(&m, "unreadable answer: ");
		buf_add_escaped(&m, x->body.data,
		    x->body.len > 120 ? 120 : x->body.len);
	}
	if (m.len == 0)
		buf_addstr(&m, "no message");
	switch (status) {
	case 403:
		ferry_err_http(err, FERRY_EREFUSED, status, "%s: permission "
		    "denied (HTTP 403): %s", what, m.data);
		break;
	case 404:
	case 410:
		ferry_err_http(err, FERRY_ENOTFOUND, status, "%s: not found "
		    "(HTTP %ld%s%s): %s", what, status, status == 404 ?
		    ", or no permission to see it" : "", status == 410 ?
		    ", the API was removed" : "", m.data);
		break;
	case 413:
		ferry_err_http(err, FERRY_ELIMIT, status, "%s: too large for "
		    "Jira (HTTP 413): %s", what, m.data);
		break;
	case 429:
		ferry_err_http(err, FERRY_ERETRY, status, "%s: rate limited by "
		    "Jira (HTTP 429%s%s): %s", what, x->retry_after[0] ?
		    ", Retry-After " : "", x->retry_after, m.data);
		oc = OUT_THROTTLED;
		break;
	default:
		if (status >= 500) {
			ferry_err_http(err, FERRY_ERETRY, status, "%s: Jira "
			    "failed (HTTP %ld %s): %s", what, status,
			    reason_phrase(status), m.data);
			oc = OUT_TRANSIENT;
		} else if (status >= 300 && status < 400) {
			char *loc = NULL;

			curl_easy_getinfo(j->curl, CURLINFO_REDIRECT_URL, &loc);
			ferry_err_http(err, FERRY_ERR, status, "%s: unexpected "
			    "redirect (HTTP %ld) to '%.200s': is the Jira URL "
			    "right?", what, status, loc ? loc : "");
		} else
			ferry_err_http(err, FERRY_EREFUSED, status, "%s: Jira "
			    "refused it (HTTP %ld %s): %s", what, status,
			    reason_phrase(status), m.data);
		break;
	}
out:
	buf_release(&m);
	return oc;
}

static enum outcome
classify_curl(struct jira *j, struct xfer *x, CURLcode cc, const char *eb,
    bool refused, struct ferry_err *err)
{
	const char *what = x->rq->what;
	curl_off_t pre = 0;
	const char *detail = eb[0] != '\0' ? eb : curl_easy_strerror(cc);

	if (refused) {
		ferry_err_set(err, FERRY_ERR, "%s: %s", what, detail);
		return OUT_FINAL;
	}
	if (x->over) {
		ferry_err_set(err, FERRY_ELIMIT, "%s: Jira's answer is larger "
		    "than %zu bytes", what, x->body.max);
		return OUT_FINAL;
	}
	if (x->sink_errno != 0) {
		errno = x->sink_errno;
		ferry_err_sys(err, FERRY_EIO, "%s: cannot write the content",
		    what);
		return OUT_FINAL;
	}
	switch (cc) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		ferry_err_set(err, FERRY_ECONFIG, "%s: %s", what, detail);
		return OUT_FINAL;
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
		ferry_err_set(err, FERRY_ECONFIG, "%s: TLS verification of "
		    "'%s' failed (%s): set the CA file, verification is never "
		    "turned off", what, j->origin, detail);
		return OUT_FINAL;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		ferry_err_set(err, FERRY_ERETRY, "%s: cannot reach Jira: %s",
		    what, detail);
		return OUT_NOTSENT;
	default:
		break;
	}
	if (x->stalled || cc == CURLE_OPERATION_TIMEDOUT)
		ferry_err_set(err, FERRY_ERETRY, "%s: Jira did not answer "
		    "within %ld ms: %s", what, j->timeout_ms, detail);
	else
		ferry_err_set(err, FERRY_ERETRY, "%s: connection to Jira "
		    "failed: %s", what, detail);
	/* Never got as far as sending: repeatable even for a create. */
	curl_easy_getinfo(j->curl, CURLINFO_PRETRANSFER_TIME_T, &pre);
	return pre == 0 ? OUT_NOTSENT : OUT_TRANSIENT;
}

void
jira_resp_release(struct jira_resp *rs)
{
	json_decref(rs->json);
	rs->json = NULL;
}

int
jira_http(struct jira *j, const struct jira_req *rq, struct jira_resp *rs,
    struct ferry_err *err)
{
	struct xfer x;
	struct buf url = BUF_INIT(JIRA_URL_MAX);
	char errbuf[CURL_ERROR_SIZE];
	enum outcome oc = OUT_FINAL;
	int64_t start = jira_mono_ms(), deadline, now;
	off_t fd_start = 0;
	long status = 0, wait, after;
	int attempt, rc = FERRY_ERR;
	bool refused, doubt = false;
	CURLcode cc;

	memset(&x, 0, sizeof(x));
	buf_init(&x.body, rq->sink_fd >= 0 ? JIRA_ERRBODY_MAX : JIRA_BODY_MAX);
	x.j = j;
	x.rq = rq;
	x.fd = rq->sink_fd;
	x.streaming = rq->sink_fd >= 0 || rq->mime != NULL;
	rs->status = 0;
	rs->json = NULL;
	rs->streamed = 0;
	rs->attempts = 0;
	if (j->auth_dead) {
		rc = ferry_err_set(err, FERRY_EAUTH, "%s: not sent: %s",
		    rq->what, j->auth_why);
		goto out;
	}
	if (rq->url != NULL)
		buf_addstr(&url, rq->url);
	else
		jira_url_join(&url, j->base, rq->path, NULL);
	if (url.over) {
		rc = ferry_err_set(err, FERRY_ELIMIT, "%s: URL longer than %d "
		    "bytes", rq->what, JIRA_URL_MAX);
		goto out;
	}
	if (x.fd >= 0 && (fd_start = lseek(x.fd, 0, SEEK_CUR)) == (off_t)-1) {
		rc = ferry_err_sys(err, FERRY_EIO, "%s: the content file is "
		    "not seekable", rq->what);
		goto out;
	}
	deadline = start + j->budget_ms;
	for (attempt = 1; ; attempt++) {
		rs->attempts = attempt;
		xfer_reset(&x);
		if (x.fd >= 0 && attempt > 1 &&
		    (lseek(x.fd, fd_start, SEEK_SET) == (off_t)-1 ||
		    ftruncate(x.fd, fd_start) == -1)) {
			rc = ferry_err_sys(err, FERRY_EIO, "%s: cannot rewind "
			    "the content file", rq->what);
			goto out;
		}
		x.written = 0;
		ferry_err_clear(err);
		cc = run_chain(j, &x, url.data,
		    (long)(deadline - jira_mono_ms()), &status, errbuf,
		    &refused);
		rs->status = status;
		if (cc != CURLE_OK || refused)
			oc = classify_curl(j, &x, cc, errbuf, refused, err);
		else
			oc = classify_http(j, &x, status, rs, err);
		if (oc == OUT_OK)
			break;
		if (oc == OUT_FINAL)
			break;
		if (oc == OUT_TRANSIENT && !rq->idempotent) {
			/*
			 * The request may have reached Jira and done its
			 * work: repeating a create could make a duplicate.
			 */
			doubt = true;
			break;
		}
		if (attempt >= j->max_attempts)
			break;
		after = -1;
		if (oc == OUT_THROTTLED || status == 503)
			after = jira_retry_after_ms(x.retry_after, x.rl_reset,
			    jira_wall_ms());
		wait = after >= 0 ? after : jira_backoff_ms(j->backoff_base_ms,
		    j->backoff_max_ms, attempt, rng_next(j));
		now = jira_mono_ms();
		if (now + wait >= deadline) {
			ferry_err_prefix(err, "giving up within the %ld ms "
			    "budget%s: ", j->budget_ms, after >= 0 ?
			    " (Jira asks to wait longer)" : "");
			break;
		}
		log_debug("jira: retry %d of '%s' in %ld ms", attempt + 1,
		    rq->what, wait);
		j->stats.retries++;
		sleep_ms(wait);
	}
	if (oc == OUT_OK) {
		rs->streamed = x.written;
		rc = 0;
		goto out;
	}
	if (rq->gone_ok && attempt > 1 && status == 404) {
		/* An earlier attempt did the delete before it failed. */
		ferry_err_clear(err);
		rs->status = 204;
		rc = 0;
		goto out;
	}
	if (doubt) {
		long http = err->http;

		ferry_err_prefix(err, "in doubt, not repeated: ");
		err->code = FERRY_EINDOUBT;
		err->http = http;
	} else if (attempt > 1)
		ferry_err_prefix(err, "after %d attempts: ", attempt);
	rc = err->code;
out:
	if (rc != 0 && !(rq->keep_errbody && oc == OUT_FINAL))
		jira_resp_release(rs);
	buf_release(&x.body);
	buf_release(&url);
	return rc;
}

int
jira_json(struct jira *j, const char *method, const char *path,
    const json_t *body, bool idempotent, const char *what, json_t **out,
    struct ferry_err *err)
{
	return jira_json_ex(j, method, path, body, idempotent, false, what,
	    out, err);
}

int
jira_json_ex(struct jira *j, const char *method, const char *path,
    const json_t *body, bool idempotent, bool keep_errbody, const char *what,
    json_t **out, struct ferry_err *err)
{
	struct jira_req rq = JIRA_REQ_INIT;
	struct jira_resp rs = JIRA_RESP_INIT;
	char *text = NULL;
	int rc;

	if (out != NULL)
		*out = NULL;
	rq.method = method;
	rq.path = path;
	rq.idempotent = idempotent;
	rq.what = what;
	rq.gone_ok = strcmp(method, "DELETE") == 0;
	rq.keep_errbody = keep_errbody;
	if (body != NULL) {
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
		if (text == NULL) {
			rc = ferry_err_set(err, FERRY_ERR, "%s: cannot encode "
			    "the request", what);
			goto out;
		}
		rq.body = text;
		rq.body_len = strlen(text);
	}
	rc = jira_http(j, &rq, &rs, err);
	if (out != NULL && (rc == 0 || keep_errbody)) {
		*out = rs.json;
		rs.json = NULL;
	}
out:
	jira_resp_release(&rs);
	free(text);
	return rc;
}

int
jira_call(struct jira *j, const char *method, const char *path,
    const json_t *body, bool idempotent, json_t **out, struct ferry_err *err)
{
	char what[128];

	snprintf(what, sizeof(what), "%s %.100s", method, path);
	if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
		idempotent = true;
	return jira_json(j, method, path, body, idempotent, what, out, err);
}
