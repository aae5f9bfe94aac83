/*
 * config.c: read and validate the INI configuration (see config.h).
 *
 * inih calls back for each key; Debian builds it without line numbers in
 * the callback, so lines are counted by our own reader (ini_parse_stream),
 * which also rejects a line too long for inih instead of letting inih cut
 * it in two.  Every problem is collected as the first error, naming file,
 * line and key, with the nearest valid key when the name looks like a typo.
 */
#include "ferry/common.h"
#include "ferry/buf.h"
#include "ferry/config.h"
#include "ferry/file.h"

#include <ctype.h>
#include <fcntl.h>
#include <ini.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_SCOPE_MAX	8192	/* a scope over continuation lines */
#define CONFIG_NAME_MAX		32
#define CONFIG_MAX_CONNS	64

enum key_type {
	K_STR, K_NAME, K_PATH, K_URL, K_PROJECT, K_BOOL, K_DURATION, K_SIZE,
	K_DAYS, K_ENUM
};

struct key_def {
	const char	*section;	/* "site", "jira" or "connection" */
	const char	*name;
	enum key_type	 type;
	size_t		 offset;	/* in the section's struct */
	const char	*const *choices; /* K_ENUM: NULL-terminated */
	const char	*help;		/* what a valid value looks like */
};

static const char *const algos[] = { "ed25519", "rsa3072", NULL };
static const char *const flavors[] = { "auto", "server", "cloud", NULL };
static const char *const auths[] = { "basic", "bearer", NULL };
static const char *const transports[] = { "spool", "mail", NULL };

#define S(f) offsetof(struct config_site, f)
#define J(f) offsetof(struct config_jira, f)
#define C(f) offsetof(struct config_conn, f)
static const struct key_def keys[] = {
	{ "site", "name", K_NAME, S(name), NULL,
	    "1 to 32 letters, digits or '-'" },
	{ "site", "state_dir", K_PATH, S(state_dir), NULL, "an absolute path" },
	{ "site", "key_algorithm", K_ENUM, S(key_algorithm), algos,
	    "ed25519 or rsa3072" },
	{ "site", "key_expiry", K_DAYS, S(key_expiry_days), NULL,
	    "a number of days from 1 to 3650, e.g. 730 or 730d" },
	{ "site", "allow_network_fs", K_BOOL, S(allow_network_fs), NULL,
	    "yes or no" },
	{ "jira", "url", K_URL, J(url), NULL,
	    "http(s)://host[:port][/context], e.g. https://jira.example.com/jira" },
	{ "jira", "flavor", K_ENUM, J(flavor), flavors,
	    "auto, server or cloud" },
	{ "jira", "auth", K_ENUM, J(auth), auths, "basic or bearer" },
	{ "jira", "user", K_STR, J(user), NULL,
	    "the sync user's name (Cloud: its email address)" },
	{ "jira", "secret_file", K_PATH, J(secret_file), NULL,
	    "an absolute path to a file readable only by its owner" },
	{ "jira", "secret_env", K_STR, J(secret_env), NULL,
	    "the name of an environment variable" },
	{ "jira", "ca_file", K_PATH, J(ca_file), NULL, "an absolute path" },
	{ "jira", "proxy", K_STR, J(proxy), NULL,
	    "a proxy URL, e.g. http://proxy.example.com:3128" },
	{ "jira", "timeout", K_DURATION, J(timeout_s), NULL,
	    "a duration, e.g. 60s or 2m" },
	{ "connection", "project", K_PROJECT, C(project), NULL,
	    "a Jira project key, e.g. DEMO" },
	{ "connection", "transport", K_ENUM, C(transport), transports,
	    "spool" },
	{ "connection", "outbox", K_PATH, C(outbox), NULL, "an absolute path" },
	{ "connection", "inbox", K_PATH, C(inbox), NULL, "an absolute path" },
	{ "connection", "require_mount", K_BOOL, C(require_mount), NULL,
	    "yes or no" },
	{ "connection", "scope", K_STR, C(scope), NULL,
	    "a JQL query, e.g. project = DEMO AND labels = sync" },
	{ "connection", "encrypt", K_BOOL, C(encrypt), NULL, "yes or no" },
	{ "connection", "resend_after", K_DURATION, C(resend_after_s), NULL,
	    "a duration, e.g. 12h or 1d" },
	{ "connection", "ack_interval", K_DURATION, C(ack_interval_s), NULL,
	    "a duration, e.g. 1h" },
	{ "connection", "bundle_max", K_SIZE, C(bundle_max), NULL,
	    "a size from 64K to 4095M, e.g. 64M" },
	{ "connection", "invite_expiry", K_DURATION, C(invite_expiry_s), NULL,
	    "a duration, e.g. 7d" },
};
#undef S
#undef J
#undef C

static const char *const sections[] = { "site", "jira", "connection NAME" };

struct parse {
	struct config	*cfg;
	const char	*path;
	FILE		*fp;
	int		 line;
	bool		 long_line;
	struct ferry_err *err;
	bool		 failed;
	/* Which keys were set, to refuse duplicates: one bit per key. */
	uint64_t	 seen_site, seen_jira;
	uint64_t	*seen_conn;
	struct config_conn *cur;	/* the connection being read */
	bool		 continuation;	/* the line read is indented */
	const struct key_def *last;	/* the key set last */
	char		 cur_section[128];
};

/*
 * Edit distance with transpositions (optimal string alignment), for "did
 * you mean": "jria" is one slip from "jira", not two.
 */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, cost, v;
	static size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			cost = tolower((unsigned char)a[i - 1]) !=
			    tolower((unsigned char)b[j - 1]);
			v = d[i - 1][j - 1] + cost;
			if (d[i - 1][j] + 1 < v)
				v = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < v)
				v = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
				v = d[i - 2][j - 2] + 1;
			d[i][j] = v;
		}
	}
	return d[la][lb];
}

/* The nearest of candidates to word, if near enough to be a typo. */
static const char *
nearest(const char *word, const char *const *cand, size_t n)
{
	const char *best = NULL;
	size_t i, d, bestd = SIZE_MAX, limit;

	limit = strlen(word) <= 4 ? 1 : strlen(word) <= 8 ? 2 : 3;
	for (i = 0; i < n; i++) {
		d = distance(word, cand[i]);
		if (d < bestd) {
			bestd = d;
			best = cand[i];
		}
	}
	return bestd <= limit ? best : NULL;
}

static int
parse_fail(struct parse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
parse_fail(struct parse *p, const char *fmt, ...)
{
	char msg[FERRY_ERR_MSG_MAX];
	va_list ap;

	if (p->failed)
		return 0;	/* the first error is the one reported */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ferry_err_set(p->err, FERRY_ECONFIG, "%s:%d: %s", p->path, p->line,
	    msg);
	p->failed = true;
	return 0;
}

static bool
valid_name(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > CONFIG_NAME_MAX || s[0] == '-')
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

static bool
valid_project(const char *s)
{
	size_t i, n = strlen(s);

	/* Jira's default project key pattern: ([A-Z][A-Z0-9_]+). */
	if (n < 2 || n > 255 || !isupper((unsigned char)s[0]))
		return false;
	for (i = 1; i < n; i++)
		if (!isupper((unsigned char)s[i]) &&
		    !isdigit((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* "30", "30s", "15m", "12h", "7d", "2w" -> seconds. */
static bool
parse_duration(const char *s, uint32_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	switch (*end) {
	case '\0': case 's': break;
	case 'm': mul = 60; break;
	case 'h': mul = 3600; break;
	case 'd': mul = 86400; break;
	case 'w': mul = 7 * 86400; break;
	default: return false;
	}
	if (*end != '\0' && end[1] != '\0')
		return false;
	if (v == 0 || v > UINT32_MAX / mul)
		return false;
	*out = (uint32_t)(v * mul);
	return true;
}

/* "1048576", "512K", "64M", "2G" (binary units) -> bytes. */
static bool
parse_size(const char *s, uint64_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return false;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': mul = 1ULL << 10; break;
	case 'M': mul = 1ULL << 20; break;
	case 'G': mul = 1ULL << 30; break;
	default: return false;
	}
	if (*end != '\0' && end[1] != '\0' &&
	    !(toupper((unsigned char)end[1]) == 'B' && end[2] == '\0') &&
	    !(end[1] == 'i' && end[2] == 'B' && end[3] == '\0'))
		return false;
	if (v > UINT64_MAX / mul)
		return false;
	*out = v * mul;
	return true;
}

static int
parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < FERRY_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 1;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 1;
		}
	}
	return 0;
}

static bool
valid_url(const char *s)
{
	const char *host;

	if (strncmp(s, "https://", 8) == 0)
		host = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		host = s + 7;
	else
		return false;
	if (*host == '\0' || *host == '/' || *host == ':')
		return false;
	for (; *s != '\0'; s++)
		if (isspace((unsigned char)*s) || *s == '?' || *s == '#')
			return false;
	return true;
}

static void
set_string(char **dst, const char *value)
{
	free(*dst);
	*dst = xstrdup(value);
}

static int
set_value(struct parse *p, const struct key_def *k, void *base,
    const char *value)
{
	void *field = (char *)base + k->offset;
	size_t i, n;
	uint32_t u32;

	if (*value == '\0')
		return parse_fail(p, "'%s' in [%s] is empty; give %s",
		    k->name, p->cur_section, k->help);
	switch (k->type) {
	case K_STR:
		set_string(field, value);
		return 1;
	case K_NAME:
		if (!valid_name(value))
			return parse_fail(p, "'%s' = '%s' is not a valid name; "
			    "use %s", k->name, value, k->help);
		set_string(field, value);
		return 1;
	case K_PATH:
		if (value[0] != '/')
			return parse_fail(p, "'%s' = '%s' is not an absolute "
			    "path; give the full path from /", k->name, value);
		set_string(field, value);
		/* Trailing slashes would double up in joined paths. */
		n = strlen(*(char **)field);
		while (n > 1 && (*(char **)field)[n - 1] == '/')
			(*(char **)field)[--n] = '\0';
		return 1;
	case K_URL:
		if (!valid_url(value))
			return parse_fail(p, "'%s' = '%s' is not a Jira base "
			    "URL; use %s", k->name, value, k->help);
		set_string(field, value);
		n = strlen(*(char **)field);
		while (n > 0 && (*(char **)field)[n - 1] == '/')
			(*(char **)field)[--n] = '\0';
		return 1;
	case K_PROJECT:
		if (!valid_project(value))
			return parse_fail(p, "'%s' = '%s' is not a Jira project "
			    "key; use the key in capitals, e.g. DEMO", k->name,
			    value);
		set_string(field, value);
		return 1;
	case K_BOOL:
		if (!parse_bool(value, field))
			return parse_fail(p, "'%s' = '%s' is not yes or no",
			    k->name, value);
		return 1;
	case K_DURATION:
		if (!parse_duration(value, field))
			return parse_fail(p, "'%s' = '%s' is not a duration; "
			    "use %s", k->name, value, k->help);
		return 1;
	case K_DAYS:
		/* A bare number means days here, not seconds. */
		if (strspn(value, "0123456789") == strlen(value)) {
			errno = 0;
			n = strtoul(value, NULL, 10);
			u32 = errno != 0 || n > 3650 ? 0 : (uint32_t)n;
		} else if (parse_duration(value, &u32) && u32 % 86400 == 0) {
			u32 /= 86400;
		} else {
			u32 = 0;
		}
		if (u32 < 1 || u32 > 3650)
			return parse_fail(p, "'%s' = '%s' is not valid; use %s",
			    k->name, value, k->help);
		*(uint32_t *)field = u32;
		return 1;
	case K_SIZE:
		if (!parse_size(value, field) ||
		    *(uint64_t *)field < (64ULL << 10) ||
		    *(uint64_t *)field > (4095ULL << 20))
			return parse_fail(p, "'%s' = '%s' is not valid; use %s",
			    k->name, value, k->help);
		return 1;
	case K_ENUM:
		for (i = 0; k->choices[i] != NULL; i++) {
			if (strcasecmp(value, k->choices[i]) == 0) {
				*(int *)field = (int)i;
				return 1;
			}
		}
		return parse_fail(p, "'%s' = '%s' is not valid; use %s",
		    k->name, value, k->help);
	}
	return parse_fail(p, "internal: bad key type");
}

static void
conn_defaults(struct config_conn *c)
{
	memset(c, 0, sizeof(*c));
	c->transport = CONFIG_TRANSPORT_SPOOL;
	c->require_mount = true;
	c->encrypt = true;
	c->resend_after_s = 86400;
	c->ack_interval_s = 3600;
	c->bundle_max = 64ULL << 20;
	c->invite_expiry_s = 7 * 86400;
}

static int
open_section(struct parse *p, const char *section)
{
	const char *name;
	size_t i;

	snprintf(p->cur_section, sizeof(p->cur_section), "%s", section);
	p->cur = NULL;
	if (strcmp(section, "site") == 0 || strcmp(section, "jira") == 0)
		return 1;
	if (strncmp(section, "connection ", 11) == 0) {
		name = section + 11;
		while (*name == ' ')
			name++;
		if (!valid_name(name))
			return parse_fail(p, "[%s]: '%s' is not a valid "
			    "connection name; use 1 to 32 letters, digits or "
			    "'-'", section, name);
		for (i = 0; i < p->cfg->nconns; i++)
			if (strcmp(p->cfg->conns[i].name, name) == 0)
				return parse_fail(p, "[%s] appears twice; merge "
				    "the two sections", section);
		if (p->cfg->nconns == CONFIG_MAX_CONNS)
			return parse_fail(p, "more than %d connections",
			    CONFIG_MAX_CONNS);
		p->cfg->conns = xreallocarray(p->cfg->conns,
		    p->cfg->nconns + 1, sizeof(*p->cfg->conns));
		p->seen_conn = xreallocarray(p->seen_conn, p->cfg->nconns + 1,
		    sizeof(*p->seen_conn));
		p->cur = &p->cfg->conns[p->cfg->nconns];
		conn_defaults(p->cur);
		p->cur->name = xstrdup(name);
		p->cur->line = p->line;
		p->seen_conn[p->cfg->nconns] = 0;
		p->cfg->nconns++;
		return 1;
	}
	if (strcmp(section, "connection") == 0)
		return parse_fail(p, "[connection] needs a name: "
		    "[connection NAME]");
	name = nearest(section, sections, FERRY_ARRAY_SIZE(sections));
	if (name == NULL && strncasecmp(section, "conn", 4) == 0)
		name = "connection NAME";
	if (name != NULL)
		return parse_fail(p, "unknown section [%s]; did you mean "
		    "[%s]?", section, name);
	return parse_fail(p, "unknown section [%s]; the sections are [site], "
	    "[jira] and [connection NAME]", section);
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	const char *cand[FERRY_ARRAY_SIZE(keys)];
	const char *kind, *near;
	uint64_t *seen, bit;
	char *joined;
	void *base;
	size_t i, n = 0;

	if (p->failed)
		return 0;
	if (p->continuation) {
		/*
		 * inih hands an indented line to the key above it.  Only the
		 * scope may span lines (inih's lines stop at 200 bytes).
		 */
		if (p->last == NULL || strcmp(p->last->name, "scope") != 0 ||
		    p->cur == NULL)
			return parse_fail(p, "indented line continues '%s', "
			    "which takes one line; remove the indentation",
			    p->last != NULL ? p->last->name : name);
		if (strlen(p->cur->scope) + strlen(value) + 2 > CONFIG_SCOPE_MAX)
			return parse_fail(p, "'scope' is longer than %d "
			    "characters", CONFIG_SCOPE_MAX);
		joined = xasprintf("%s %s", p->cur->scope, value);
		free(p->cur->scope);
		p->cur->scope = joined;
		return 1;
	}
	p->last = NULL;
	if (section[0] == '\0')
		return parse_fail(p, "'%s' is outside any section; put it under "
		    "[site], [jira] or [connection NAME]", name);
	/* reader() opened the section when it read its header line. */
	assert(strcmp(section, p->cur_section) == 0);
	if (name == NULL)
		return 1;
	if (p->cur != NULL) {
		kind = "connection";
		base = p->cur;
		seen = &p->seen_conn[p->cur - p->cfg->conns];
	} else if (strcmp(section, "site") == 0) {
		kind = "site";
		base = &p->cfg->site;
		seen = &p->seen_site;
	} else {
		kind = "jira";
		base = &p->cfg->jira;
		seen = &p->seen_jira;
	}
	for (i = 0; i < FERRY_ARRAY_SIZE(keys); i++) {
		if (strcmp(keys[i].section, kind) != 0)
			continue;
		cand[n++] = keys[i].name;
		if (strcmp(keys[i].name, name) != 0)
			continue;
		bit = 1ULL << i;
		if (*seen & bit)
			return parse_fail(p, "'%s' is set twice in [%s]; keep "
			    "one", name, section);
		*seen |= bit;
		p->last = &keys[i];
		return set_value(p, &keys[i], base, value);
	}
	if (strcmp(name, "secret") == 0 || strcmp(name, "password") == 0 ||
	    strcmp(name, "token") == 0)
		return parse_fail(p, "'%s' cannot be in the configuration "
		    "file; put the secret in a file named by 'secret_file' "
		    "(mode 0600) or an environment variable named by "
		    "'secret_env'", name);
	near = nearest(name, cand, n);
	if (near != NULL)
		return parse_fail(p, "unknown key '%s' in [%s]; did you mean "
		    "'%s'?", name, section, near);
	return parse_fail(p, "unknown key '%s' in [%s]; see ferry.conf(5)",
	    name, section);
}

/* fgets for inih that counts lines and notices lines too long. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	char *start, *end;
	size_t len;

	if (fgets(str, num, p->fp) == NULL)
		return NULL;
	p->line++;
	len = strlen(str);
	if (len == (size_t)num - 1 && str[len - 1] != '\n' && !feof(p->fp)) {
		/* Swallow the rest so the counts stay right; then fail. */
		int c;

		while ((c = fgetc(p->fp)) != EOF && c != '\n')
			;
		p->long_line = true;
		parse_fail(p, "line longer than %d characters; split a long "
		    "scope over several lines, indenting each continuation "
		    "line", num - 2);
	}
	/*
	 * Open sections here rather than in the handler: inih calls the
	 * handler only for keys, so an empty or misspelt section would
	 * otherwise pass unnoticed, and errors would name the wrong line.
	 */
	start = str + strspn(str, " \t");
	p->continuation = start != str && *start != '\0' && *start != '\n' &&
	    *start != ';' && *start != '#';
	if (*start == '[' && !p->failed && !p->long_line) {
		end = strchr(start + 1, ']');
		if (end == NULL)
			parse_fail(p, "section header without ']'");
		else {
			*end = '\0';
			open_section(p, start + 1);
			*end = ']';
		}
	}
	return str;
}

static int
check_required(struct parse *p)
{
	struct config *cfg = p->cfg;
	struct config_conn *c;
	struct stat st;
	size_t i;

	p->line = 0;
#define REQUIRE(val, sect, key, what)					\
	do {								\
		if ((val) == NULL) {					\
			ferry_err_set(p->err, FERRY_ECONFIG,		\
			    "%s: [%s] needs '%s' (%s)", p->path, sect,	\
			    key, what);					\
			return FERRY_ECONFIG;				\
		}							\
	} while (0)
	REQUIRE(cfg->site.name, "site", "name",
	    "this site's name, e.g. name = alpha");
	REQUIRE(cfg->site.state_dir, "site", "state_dir",
	    "where ferry keeps its database and keys, e.g. /var/lib/ferry");
	REQUIRE(cfg->jira.url, "jira", "url",
	    "the Jira base URL, e.g. https://jira.example.com");
	REQUIRE(cfg->jira.user, "jira", "user", "the sync user's name");
	if ((cfg->jira.secret_file == NULL) == (cfg->jira.secret_env == NULL))
		return ferry_err_set(p->err, FERRY_ECONFIG, "%s: [jira] needs "
		    "exactly one of 'secret_file' and 'secret_env' (where the "
		    "password or token comes from)", p->path);
	if (cfg->jira.secret_file != NULL) {
		if (stat(cfg->jira.secret_file, &st) == -1)
			return ferry_err_sys(p->err, FERRY_ECONFIG, "%s: [jira] "
			    "secret_file '%s' cannot be read", p->path,
			    cfg->jira.secret_file);
		if (!S_ISREG(st.st_mode))
			return ferry_err_set(p->err, FERRY_ECONFIG, "%s: [jira] "
			    "secret_file '%s' is not a regular file", p->path,
			    cfg->jira.secret_file);
		if (st.st_mode & 077)
			return ferry_err_set(p->err, FERRY_ECONFIG, "%s: [jira] "
			    "secret_file '%s' is readable by others (mode %04o);"
			    " run: chmod 600 '%s'", p->path,
			    cfg->jira.secret_file,
			    (unsigned)(st.st_mode & 07777),
			    cfg->jira.secret_file);
	}
	for (i = 0; i < cfg->nconns; i++) {
		c = &cfg->conns[i];
		if (c->project == NULL)
			return ferry_err_set(p->err, FERRY_ECONFIG, "%s:%d: "
			    "[connection %s] needs 'project' (the local Jira "
			    "project key)", p->path, c->line, c->name);
		if (c->transport == CONFIG_TRANSPORT_MAIL)
			return ferry_err_set(p->err, FERRY_ECONFIG, "%s:%d: "
			    "[connection %s]: transport 'mail' is not available "
			    "in this version of ferry; use transport = spool",
			    p->path, c->line, c->name);
		if (c->outbox == NULL || c->inbox == NULL)
			return ferry_err_set(p->err, FERRY_ECONFIG, "%s:%d: "
			    "[connection %s] needs 'outbox' and 'inbox' (the "
			    "spool folders; they may be the same)", p->path,
			    c->line, c->name);
		if (c->scope == NULL)
			c->scope = xasprintf("project = %s", c->project);
	}
#undef REQUIRE
	return 0;
}

int
config_load(const char *path, struct config **out, struct ferry_err *err)
{
	struct parse p;
	struct config *cfg;
	int rc, r;

	*out = NULL;
	memset(&p, 0, sizeof(p));
	cfg = xcalloc(1, sizeof(*cfg));
	cfg->path = xstrdup(path);
	cfg->site.key_algorithm = CONFIG_KEY_ED25519;
	cfg->site.key_expiry_days = 730;
	cfg->jira.flavor = CONFIG_FLAVOR_AUTO;
	cfg->jira.auth = CONFIG_AUTH_BASIC;
	cfg->jira.timeout_s = 60;
	p.cfg = cfg;
	p.path = path;
	p.err = err;
	if ((p.fp = fopen(path, "r")) == NULL) {
		rc = ferry_err_sys(err, errno == ENOENT ? FERRY_ENOTFOUND :
		    FERRY_EIO, "cannot read configuration '%s'", path);
		if (rc == FERRY_ENOTFOUND)
			ferry_err_prefix(err, "no configuration: give one with "
			    "-c FILE (see ferry.conf(5)); ");
		goto out;
	}
	r = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.fp);
	if (p.failed) {
		rc = FERRY_ECONFIG;
		goto out;
	}
	if (r != 0) {
		/* inih's own syntax error: a line that is not key = value. */
		rc = ferry_err_set(err, FERRY_ECONFIG, "%s:%d: not a valid line;"
		    " use 'key = value', '[section]' or a comment starting "
		    "with ';' or '#'", path, r > 0 ? r : p.line);
		goto out;
	}
	if ((rc = check_required(&p)) < 0)
		goto out;
	*out = cfg;
	cfg = NULL;
	rc = 0;
out:
	free(p.seen_conn);
	config_free(cfg);
	return rc;
}

void
config_free(struct config *cfg)
{
	size_t i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nconns; i++) {
		free(cfg->conns[i].name);
		free(cfg->conns[i].project);
		free(cfg->conns[i].outbox);
		free(cfg->conns[i].inbox);
		free(cfg->conns[i].scope);
	}
	free(cfg->conns);
	free(cfg->site.name);
	free(cfg->site.state_dir);
	free(cfg->jira.url);
	free(cfg->jira.user);
	free(cfg->jira.secret_file);
	free(cfg->jira.secret_env);
	free(cfg->jira.ca_file);
	free(cfg->jira.proxy);
	free(cfg->path);
	free(cfg);
}

const struct config_conn *
config_conn_find(const struct config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->nconns; i++)
		if (strcmp(cfg->conns[i].name, name) == 0)
			return &cfg->conns[i];
	return NULL;
}

int
config_read_secret(const struct config *cfg, char **secret,
    struct ferry_err *err)
{
	struct buf b = BUF_INIT(64 * 1024);
	const char *v;
	struct stat st;
	int rc;

	*secret = NULL;
	if (cfg->jira.secret_env != NULL) {
		v = getenv(cfg->jira.secret_env);
		if (v == NULL || *v == '\0')
			return ferry_err_set(err, FERRY_ECONFIG, "the environment"
			    " variable '%s' named by secret_env in [jira] is "
			    "not set; set it to the sync user's password or "
			    "token", cfg->jira.secret_env);
		*secret = xstrdup(v);
		return 0;
	}
	/* Checked again: the file may have changed since the load. */
	if (stat(cfg->jira.secret_file, &st) == 0 && (st.st_mode & 077))
		return ferry_err_set(err, FERRY_ECONFIG, "secret_file '%s' is "
		    "readable by others; run: chmod 600 '%s'",
		    cfg->jira.secret_file, cfg->jira.secret_file);
	if ((rc = file_read(cfg->jira.secret_file, &b, err)) < 0) {
		buf_release_secret(&b);
		return rc == FERRY_ENOTFOUND ? ferry_err_prefix(err,
		    "secret_file: ") : rc;
	}
	/* One line: the trailing newline an editor adds is not part of it. */
	while (b.len > 0 && (b.data[b.len - 1] == '\n' ||
	    b.data[b.len - 1] == '\r'))
		b.len--;
	b.data[b.len] = '\0';
	if (b.len == 0 || memchr(b.data, '\n', b.len) != NULL) {
		buf_release_secret(&b);
		return ferry_err_set(err, FERRY_ECONFIG, "secret_file '%s' must "
		    "hold the password or token on one line",
		    cfg->jira.secret_file);
	}
	*secret = buf_detach(&b, NULL);
	return 0;
}
