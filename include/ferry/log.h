/*
 * log.h: diagnostics on stderr, one line each, prefixed with the level and,
 * when set, the connection.  stdout is for results only.  Never log a
 * secret, a token or an Authorization header; escape text that came from
 * Jira or a bundle (buf_add_escaped) before logging it.
 */
#ifndef FERRY_LOG_H
#define FERRY_LOG_H

enum log_level {
	LOG_QUIET = 0,		/* -q: errors only when they are not expected */
	LOG_ERROR = 1,
	LOG_WARN = 2,
	LOG_INFO = 3,		/* default */
	LOG_DEBUG = 4,		/* -v */
	LOG_TRACE = 5,		/* -vv */
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* The connection named in each line, or NULL; the string is copied. */
void log_set_context(const char *conn);

void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Redirect output (tests); NULL restores stderr. */
#include <stdio.h>
void log_set_stream(FILE *fp);

#endif
