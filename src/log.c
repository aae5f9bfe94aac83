/* log.c: leveled diagnostics on stderr (see log.h). */
#include "ferry/common.h"
#include "ferry/log.h"

static enum log_level	 level = LOG_INFO;
static char		 context[128];
static FILE		*stream;

void
log_set_level(enum log_level l)
{
	level = l;
}

enum log_level
log_get_level(void)
{
	return level;
}

void
log_set_context(const char *conn)
{
	if (conn == NULL)
		context[0] = '\0';
	else
		snprintf(context, sizeof(context), "%s", conn);
}

void
log_set_stream(FILE *fp)
{
	stream = fp;
}

static void log_v(enum log_level, const char *, const char *, va_list)
    __attribute__((format(printf, 3, 0)));

static void
log_v(enum log_level l, const char *tag, const char *fmt, va_list ap)
{
	FILE *fp = stream != NULL ? stream : stderr;

	if (l > level)
		return;
	if (context[0] != '\0')
		fprintf(fp, "ferry: %s: [%s] ", tag, context);
	else
		fprintf(fp, "ferry: %s: ", tag);
	vfprintf(fp, fmt, ap);
	fputc('\n', fp);
	fflush(fp);
}

#define LOG_FN(fn, lvl, tag)				\
void							\
fn(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	va_start(ap, fmt);				\
	log_v(lvl, tag, fmt, ap);			\
	va_end(ap);					\
}

/*
 * Errors show even under -q: -q only silences what cron should not mail
 * (progress, and the expected "another run holds the lock").
 */
LOG_FN(log_error, LOG_QUIET, "error")
LOG_FN(log_warn, LOG_WARN, "warning")
LOG_FN(log_info, LOG_INFO, "info")
LOG_FN(log_debug, LOG_DEBUG, "debug")
LOG_FN(log_trace, LOG_TRACE, "trace")
