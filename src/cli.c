/* cli.c: output helpers shared by the commands (see cli.h). */
#include "ferry/common.h"
#include "ferry/cli.h"

#include <jansson.h>
#include <time.h>

void
cli_print_json(json_t *o)
{
	char *text;

	assert(o != NULL);
	text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	printf("%s\n", text);
	free(text);
	json_decref(o);
}

void
cli_utc_time(int64_t t, char *out, size_t len)
{
	struct tm tm;
	time_t tt = (time_t)t;

	if (t == 0) {
		snprintf(out, len, "never");
		return;
	}
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
