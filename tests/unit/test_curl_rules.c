/* Unit tests for applets/curl_rules.c: -w templates, --resolve, Location targets, seconds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "applets/curl.h"

static void write_out_expands_like_curl(void **state)
{
	struct curl_stats st = { .t_namelookup = 0.0012345, .t_connect = 0.002, .t_total = 1.5,
				 .http_code = 200, .size_download = 42, .url_effective = "http://x/" };
	char buf[256], unknown[32];
	(void)state;

	snprintf(st.remote_ip, sizeof(st.remote_ip), "::1");
	curl_write_out("%{http_code} %{time_namelookup} %{time_connect}\\n%{time_total}%%\\t%{size_download}",
		       &st, buf, sizeof(buf), unknown, sizeof(unknown));
	assert_string_equal(buf, "200 0.001234 0.002000\n1.500000%\t42");
	assert_string_equal(unknown, "");
	curl_write_out("[%{remote_ip}] %{url_effective} %{content_type}|%{bogus}|%{", &st, buf, sizeof(buf),
		       unknown, sizeof(unknown));
	assert_string_equal(buf, "[::1] http://x/ ||%{");
	assert_string_equal(unknown, "bogus");
	st.http_code = 0;
	curl_write_out("%{http_code}", &st, buf, sizeof(buf), unknown, sizeof(unknown));
	assert_string_equal(buf, "000");
	/* truncation keeps a terminated string */
	assert_int_equal(curl_write_out("%{time_total}%{time_total}", &st, buf, 8, unknown, sizeof(unknown)), 7);
	assert_string_equal(buf, "1.50000");
}

static void resolve_entries(void **state)
{
	char host[256], t[64];
	uint16_t port;
	struct ipaddr a;
	(void)state;

	assert_int_equal(curl_resolve_parse("example.com:443:10.0.0.1", host, &port, &a), 0);
	assert_string_equal(host, "example.com");
	assert_int_equal(port, 443);
	assert_string_equal(ipaddr_format(&a, t, sizeof(t)), "10.0.0.1");
	assert_int_equal(curl_resolve_parse("h:80:[2001:db8::1]", host, &port, &a), 0);
	assert_string_equal(ipaddr_format(&a, t, sizeof(t)), "2001:db8::1");
	assert_int_equal(curl_resolve_parse("h:80:::1", host, &port, &a), 0);
	assert_int_equal(curl_resolve_parse("h:80:name.example", host, &port, &a), -1);
	assert_int_equal(curl_resolve_parse("h:0:10.0.0.1", host, &port, &a), -1);
	assert_int_equal(curl_resolve_parse(":80:10.0.0.1", host, &port, &a), -1);
	assert_int_equal(curl_resolve_parse("h:80", host, &port, &a), -1);
	assert_int_equal(curl_resolve_parse("h:80:", host, &port, &a), -1);
}

static void location_targets(void **state)
{
	struct http_url u;
	char err[128], out[256];
	(void)state;

	assert_int_equal(http_url_parse("http://a.test:8080/dir/page?q=1", &u, err, sizeof(err)), 0);
	assert_int_equal(curl_location(&u, "/root", out, sizeof(out)), 0);
	assert_string_equal(out, "http://a.test:8080/root");
	assert_int_equal(curl_location(&u, "next?x", out, sizeof(out)), 0);
	assert_string_equal(out, "http://a.test:8080/dir/next?x");
	assert_int_equal(curl_location(&u, "https://b.test/", out, sizeof(out)), 0);
	assert_string_equal(out, "https://b.test/");
	assert_int_equal(curl_location(&u, "//c.test/p", out, sizeof(out)), 0);
	assert_string_equal(out, "http://c.test/p");
	assert_int_equal(curl_location(&u, "ftp://d.test/", out, sizeof(out)), -1);
	assert_int_equal(http_url_parse("https://[::1]/", &u, err, sizeof(err)), 0);
	assert_int_equal(curl_location(&u, "x", out, sizeof(out)), 0);
	assert_string_equal(out, "https://[::1]/x");
	assert_int_equal(curl_location(&u, "/a-long-path", out, 10), -1);
}

static void seconds(void **state)
{
	int ms;
	(void)state;

	assert_int_equal(curl_parse_seconds("5", &ms), 0);
	assert_int_equal(ms, 5000);
	assert_int_equal(curl_parse_seconds("0.25", &ms), 0);
	assert_int_equal(ms, 250);
	assert_int_equal(curl_parse_seconds("0.0001", &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(curl_parse_seconds("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(curl_parse_seconds("-1", &ms), -1);
	assert_int_equal(curl_parse_seconds("1s", &ms), -1);
	assert_int_equal(curl_parse_seconds("nan", &ms), -1);
	assert_int_equal(curl_parse_seconds("", &ms), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(write_out_expands_like_curl),
		cmocka_unit_test(resolve_entries),
		cmocka_unit_test(location_targets),
		cmocka_unit_test(seconds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
