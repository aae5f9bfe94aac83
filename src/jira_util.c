/*
 * jira_util.c: the pure parts of the Jira client: URLs, error bodies,
 * backoff, multipart names, times.  No I/O here except the clocks and
 * the time zone lookup.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/jira.h"
#include "jira_int.h"

#include <ctype.h>
#include <sys/stat.h>
#include <time.h>

static const char hexdig[] = "0123456789ABCDEF";

static bool
is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

bool
jira_url_escape(struct buf *b, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if (is_unreserved(*p))
			buf_addch(b, *p);
		else {
			buf_addch(b, '%');
			buf_addch(b, hexdig[*p >> 4]);
			buf_addch(b, hexdig[*p & 15]);
		}
	}
	return !b->over;
}

bool
jira_url_join(struct buf *out, const char *base, const char *path,
    const char *query)
{
	size_t n = strlen(base);

	while (n > 0 && base[n - 1] == '/')
		n--;
	buf_add(out, base, n);
	if (path[0] != '/')
		buf_addch(out, '/');
	buf_addstr(out, path);
	if (query != NULL && query[0] != '\0') {
		buf_addch(out, strchr(path, '?') != NULL ? '&' : '?');
		buf_addstr(out, query);
	}
	return !out->over;
}

bool
jira_url_origin(const char *url, struct buf *out)
{
	const char *p, *host, *end;
	bool https;
	size_t hl;

	if (strncasecmp(url, "https://", 8) == 0) {
		https = true;
		host = url + 8;
	} else if (strncasecmp(url, "http://", 7) == 0) {
		https = false;
		host = url + 7;
	} else
		return false;
	end = host + strcspn(host, "/?#");
	/* Userinfo in a URL would carry credentials: refuse it. */
	for (p = host; p < end; p++)
		if (*p == '@')
			return false;
	hl = (size_t)(end - host);
	if (hl == 0)
		return false;
	buf_addstr(out, https ? "https://" : "http://");
	for (p = host; p < end; p++)
		buf_addch(out, tolower((unsigned char)*p));
	/* Drop a default port so that two spellings compare equal. */
	if (https && out->len > 4 &&
	    strcmp(out->data + out->len - 4, ":443") == 0)
		buf_setlen(out, out->len - 4);
	else if (!https && out->len > 3 &&
	    strcmp(out->data + out->len - 3, ":80") == 0)
		buf_setlen(out, out->len - 3);
	return !out->over;
}

static void
add_escaped_str(struct buf *out, const char *s)
{
	buf_add_escaped(out, s, strlen(s));
}

/* "field: message" pairs of an errors object; returns whether any. */
static bool
add_field_errors(struct buf *out, const json_t *errs, bool any)
{
	const char *k;
	json_t *v;

	json_object_foreach((json_t *)errs, k, v) {
		if (any)
			buf_addstr(out, "; ");
		add_escaped_str(out, k);
		buf_addstr(out, ": ");
		if (json_is_string(v))
			add_escaped_str(out, json_string_value(v));
		else
			buf_addstr(out, "(invalid)");
		any = true;
	}
	return any;
}

bool
jira_errbody_format(const char *body, size_t len, struct buf *out)
{
	json_t *root, *msgs, *errs, *v, *el;
	const char *s;
	size_t i, start = out->len;
	bool any = false;

	if (len == 0)
		return false;
	if (jira_body_is_html(body, len, NULL)) {
		const char *t = NULL, *e;
		size_t q;

		for (q = 0; q + 7 <= len; q++)
			if (strncasecmp(body + q, "<title>", 7) == 0) {
				t = body + q + 7;
				break;
			}
		if (t == NULL)
			return false;
		for (e = t; e < body + len && *e != '<'; e++)
			;
		while (t < e && isspace((unsigned char)*t))
			t++;
		while (e > t && isspace((unsigned char)e[-1]))
			e--;
		if (e == t)
			return false;
		buf_add_escaped(out, t, (size_t)(e - t));
		return true;
	}
	root = json_loadb(body, len, JSON_DECODE_ANY, NULL);
	if (root == NULL || !json_is_object(root)) {
		json_decref(root);
		return false;
	}
	msgs = json_object_get(root, "errorMessages");
	json_array_foreach(msgs, i, v) {
		if (!json_is_string(v) || json_string_length(v) == 0)
			continue;
		if (any)
			buf_addstr(out, "; ");
		add_escaped_str(out, json_string_value(v));
		any = true;
	}
	errs = json_object_get(root, "errors");
	if (json_is_object(errs))
		any = add_field_errors(out, errs, any);
	/* Bulk create: errors[] of {failedElementNumber, elementErrors}. */
	json_array_foreach(json_is_array(errs) ? errs : NULL, i, el) {
		json_t *ee = json_object_get(el, "elementErrors"), *m;
		size_t q;

		if (any)
			buf_addstr(out, "; ");
		buf_addf(out, "issue %" JSON_INTEGER_FORMAT ": ",
		    json_integer_value(json_object_get(el,
		    "failedElementNumber")));
		any = false;
		json_array_foreach(json_object_get(ee, "errorMessages"), q, m)
			if (json_is_string(m)) {
				if (any)
					buf_addstr(out, ", ");
				add_escaped_str(out, json_string_value(m));
				any = true;
			}
		if (json_is_object(json_object_get(ee, "errors")))
			add_field_errors(out, json_object_get(ee, "errors"),
			    any);
		any = true;
	}
	/* Basic-auth-disabled and proxies: {"message": "..."}; some Cloud
	 * gateways: {"errorMessage": "..."}. */
	if (!any && ((s = jira_jstr(root, "message")) != NULL ||
	    (s = jira_jstr(root, "errorMessage")) != NULL) && s[0] != '\0') {
		add_escaped_str(out, s);
		any = true;
	}
	json_decref(root);
	if (!any)
		buf_setlen(out, start);
	return any;
}

bool
jira_body_is_html(const char *body, size_t len, const char *ctype)
{
	size_t i;

	if (ctype != NULL && strncasecmp(ctype, "text/html", 9) == 0)
		return true;
	for (i = 0; i < len && isspace((unsigned char)body[i]); i++)
		;
	return i < len && body[i] == '<';
}

long
jira_backoff_ms(long base, long max, int n, uint32_t r)
{
	long d = base, half;
	int i;

	if (n < 1)
		n = 1;
	for (i = 1; i < n && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	half = d / 2;
	if (half <= 0)
		return d;
	return d - half + (long)(r % (uint32_t)(half + 1));
}

static int
month_num(const char *s)
{
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	int i;

	for (i = 0; i < 12; i++)
		if (strncasecmp(s, mon[i], 3) == 0)
			return i + 1;
	return 0;
}

long
jira_retry_after_ms(const char *retry_after, const char *reset,
    int64_t now_ms)
{
	int64_t at;
	char *end;
	long v;

	if (retry_after != NULL && retry_after[0] != '\0') {
		errno = 0;
		v = strtol(retry_after, &end, 10);
		while (*end == ' ')
			end++;
		if (errno == 0 && end != retry_after && *end == '\0' &&
		    v >= 0 && v < 86400 * 7)
			return v * 1000;
		{
			/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
			char mon[4] = { 0 };
			int d, y, hh, mm, ss, m;

			if (sscanf(retry_after, "%*3s, %d %3s %d %d:%d:%d GMT",
			    &d, mon, &y, &hh, &mm, &ss) == 6 &&
			    (m = month_num(mon)) != 0) {
				at = (jira_days_from_civil(y, (unsigned)m,
				    (unsigned)d) * 86400 + hh * 3600 +
				    mm * 60 + ss) * 1000;
				return at > now_ms ? (long)(at - now_ms) : 0;
			}
		}
	}
	if (reset != NULL && reset[0] != '\0' &&
	    jira_time_parse(reset, &at, NULL) == 0)
		return at > now_ms ? (long)(at - now_ms) : 0;
	return -1;
}

bool
jira_disposition(struct buf *out, const char *field, const char *name)
{
	const unsigned char *p;

	buf_addf(out, "form-data; name=\"%s\"; filename=\"", field);
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			buf_addch(out, '\\');
			buf_addch(out, *p);
		} else if (*p < 0x20 || *p == 0x7f)
			buf_addch(out, '_');
		else
			buf_addch(out, *p);
	}
	buf_addstr(out, "\"; filename*=UTF-8''");
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		/* RFC 5987 attr-char. */
		if (isalnum(*p) || strchr("!#$&+-.^_`|~", *p) != NULL)
			buf_addch(out, *p);
		else {
			buf_addch(out, '%');
			buf_addch(out, hexdig[*p >> 4]);
			buf_addch(out, hexdig[*p & 15]);
		}
	}
	return !out->over;
}

int64_t
jira_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	/* Howard Hinnant's days_from_civil. */
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y += *m <= 2;
}

int64_t
jira_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
jira_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool
digits(const char **pp, int n, int *out)
{
	const char *p = *pp;
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	*pp = p + n;
	return true;
}

static const unsigned mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
    30, 31 };

int
jira_time_parse(const char *s, int64_t *ms, struct ferry_err *err)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0, nf;

	if (s == NULL)
		return ferry_err_set(err, FERRY_ERR, "no Jira time");
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
	    *p++ != '-' || !digits(&p, 2, &d) || *p++ != 'T' ||
	    !digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
		goto bad;
	sec = 0;
	if (*p == ':') {
		p++;
		if (!digits(&p, 2, &sec))
			goto bad;
		if (*p == '.' || *p == ',') {
			p++;
			for (nf = 0; isdigit((unsigned char)*p); nf++, p++)
				if (nf < 3)
					frac = frac * 10 + (*p - '0');
			if (nf == 0)
				goto bad;
			for (; nf < 3; nf++)
				frac *= 10;
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (!digits(&p, 2, &oh))
			goto bad;
		if (*p == ':')
			p++;
		if (!digits(&p, 2, &om))
			goto bad;
	} else
		goto bad;
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 ||
	    (unsigned)d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60 ||
	    oh > 23 || om > 59)
		goto bad;
	*ms = ((jira_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 +
	    h * 3600 + mi * 60 + sec) - (int64_t)sign * (oh * 3600 + om * 60)) *
	    1000 + frac;
	return 0;
bad:
	{
		struct buf b = BUF_INIT(128);

		buf_add_escaped(&b, s, strlen(s) > 64 ? 64 : strlen(s));
		ferry_err_set(err, FERRY_ERR, "bad Jira time '%s'", b.data);
		buf_release(&b);
	}
	return FERRY_ERR;
}

void
jira_time_format(int64_t ms, char out[32])
{
	int64_t days, y, rem;
	unsigned m, d;
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - secs * 1000);
	char tmp[96];
	size_t n;

	days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	rem = secs - days * 86400;
	civil_from_days(days, &y, &m, &d);
	/* Room for any int64 year; Jira's years have four digits. */
	snprintf(tmp, sizeof(tmp), "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d."
	    "%03d+0000", y, m, d, (int)(rem / 3600), (int)(rem / 60 % 60),
	    (int)(rem % 60), frac);
	n = strlen(tmp);
	if (n > 31)
		n = 31;
	memcpy(out, tmp, n);
	out[n] = '\0';
}

static bool
tz_valid(const char *tz)
{
	const char *dir = getenv("TZDIR");
	const char *p;
	struct stat st;
	char path[512];
	int n;

	if (tz == NULL || tz[0] == '\0' || tz[0] == '/' || strlen(tz) > 64)
		return false;
	for (p = tz; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("/_+-", *p) == NULL)
			return false;
	if (strstr(tz, "..") != NULL)
		return false;
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "GMT") == 0)
		return true;
	n = snprintf(path, sizeof(path), "%s/%s",
	    dir != NULL ? dir : "/usr/share/zoneinfo", tz);
	return n > 0 && (size_t)n < sizeof(path) && stat(path, &st) == 0 &&
	    S_ISREG(st.st_mode);
}

int
jira_jql_date(int64_t ms, const char *tz, char out[24], struct ferry_err *err)
{
	char *saved = NULL;
	const char *old;
	struct tm tm;
	time_t t;
	int rc = FERRY_ERR;

	out[0] = '\0';
	if (!tz_valid(tz))
		return ferry_err_set(err, FERRY_ERR, "unknown time zone '%s'",
		    tz != NULL ? tz : "");
	/*
	 * libc converts only through TZ; swap it for the call and put the
	 * old value back (single-threaded use, documented in jira.h).
	 */
	if ((old = getenv("TZ")) != NULL)
		saved = xstrdup(old);
	setenv("TZ", tz, 1);
	tzset();
	t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
	if (localtime_r(&t, &tm) != NULL &&
	    strftime(out, 24, "\"%Y-%m-%d %H:%M\"", &tm) != 0)
		rc = 0;
	if (saved != NULL)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved);
	if (rc != 0)
		return ferry_err_set(err, FERRY_ERR,
		    "cannot format a JQL date");
	return 0;
}

void
jira_jql_epoch(int64_t ms, char out[24])
{
	snprintf(out, 24, "%" PRId64, ms);
}

const char *
jira_jstr(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

char *
jira_jdup(const json_t *o, const char *key)
{
	const char *s = jira_jstr(o, key);

	return s != NULL ? xstrdup(s) : NULL;
}
