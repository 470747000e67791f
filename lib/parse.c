/* Parsers for command-line values: numbers and durations. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/retina.h"

int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Go's time.ParseDuration units, as kubectl users type them. */
static const struct { const char *unit; uint64_t ms; } units[] = {
	{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
};

int parse_duration_ms(const char *s, uint64_t *ms)
{
	uint64_t total = 0;
	const uint64_t limit = UINT64_MAX / 2;

	if (!s || !*s)
		return -1;
	if (!parse_u64(s, 0, limit / 1000, &total)) {	/* bare number: seconds */
		*ms = total * 1000;
		return 0;
	}
	while (*s) {
		char *end;
		size_t i;

		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		unsigned long long n = strtoull(s, &end, 10);
		if (errno || end == s)
			return -1;
		s = end;
		for (i = 0; i < ARRAY_SIZE(units); i++) {
			size_t len = strlen(units[i].unit);
			/* "m" must not swallow the "m" of "ms" */
			if (!strncmp(s, units[i].unit, len) && !isalpha((unsigned char)s[len]))
				break;
		}
		if (i == ARRAY_SIZE(units))
			return -1;
		if (n > (limit - total) / units[i].ms)
			return -1;
		total += n * units[i].ms;
		s += strlen(units[i].unit);
	}
	*ms = total;
	return 0;
}
