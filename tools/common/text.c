// SPDX-License-Identifier: Apache-2.0
/* Text helpers both sides use (text.h). */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/common/text.h"

int sl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("sluice: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}
int sl_parse_duration_ms(const char *s, uint64_t *ms)
{
	/* Accumulate in microseconds so "250us" and "1.5s" stay exact. */
	static const struct {
		const char *unit;
		uint64_t us;
	} units[] = {
		{ "us", 1 }, { "ms", 1000 }, { "s", 1000000 }, { "m", 60000000 },
		{ "h", 3600000000ull },
	};
	const uint64_t max_us = 24ull * 3600 * 1000000;
	uint64_t total = 0;
	const char *p = s;

	if (!s || !*s)
		return -EINVAL;
	while (*p) {
		uint64_t whole = 0, frac = 0, fdiv = 1, mul = 0;
		size_t i, ulen = 0;
		bool digits = false;

		while (isdigit((unsigned char)*p)) {
			whole = whole * 10 + (uint64_t)(*p++ - '0');
			digits = true;
			if (whole > max_us)
				return -ERANGE;
		}
		if (*p == '.') {
			p++;
			while (isdigit((unsigned char)*p)) {
				if (fdiv < 1000000) {
					frac = frac * 10 + (uint64_t)(*p - '0');
					fdiv *= 10;
				}
				p++;
				digits = true;
			}
		}
		if (!digits)
			return -EINVAL;
		while (isalpha((unsigned char)p[ulen]))
			ulen++;
		if (!ulen) {
			if (p != s + strlen(s) || total)	/* bare number only on its own */
				return -EINVAL;
			mul = 1000000;
		}
		for (i = 0; ulen && i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].unit) == ulen && !strncmp(p, units[i].unit, ulen))
				mul = units[i].us;
		if (!mul)
			return -EINVAL;
		p += ulen;
		if (whole > max_us / mul + 1)
			return -ERANGE;
		total += whole * mul + (frac * mul + fdiv - 1) / fdiv;
		if (total > max_us)
			return -ERANGE;
	}
	if (!total)
		return -EINVAL;
	*ms = (total + 999) / 1000;
	return 0;
}

void sl_format_duration_ms(uint64_t ms, char *buf, size_t cap)
{
	if (ms % 3600000 == 0)
		snprintf(buf, cap, "%lluh", (unsigned long long)(ms / 3600000));
	else if (ms % 60000 == 0)
		snprintf(buf, cap, "%llum", (unsigned long long)(ms / 60000));
	else if (ms % 1000 == 0)
		snprintf(buf, cap, "%llus", (unsigned long long)(ms / 1000));
	else if (ms > 1000)
		snprintf(buf, cap, "%.3gs", (double)ms / 1000.0);
	else
		snprintf(buf, cap, "%llums", (unsigned long long)ms);
}

void sl_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sl_hex_decode(const char *s, uint8_t *out, size_t cap)
{
	size_t i, n = strlen(s);

	if (n % 2)
		return -EINVAL;
	if (n / 2 > cap)
		return -E2BIG;
	for (i = 0; i < n; i += 2) {
		int hi = hexval(s[i]), lo = hexval(s[i + 1]);

		if (hi < 0 || lo < 0)
			return -EINVAL;
		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (int)(n / 2);
}

void sl_json_strn(FILE *f, const char *s, size_t n)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		switch (c) {
		case '"':
			fputs("\\\"", f);
			break;
		case '\\':
			fputs("\\\\", f);
			break;
		case '\n':
			fputs("\\n", f);
			break;
		case '\r':
			fputs("\\r", f);
			break;
		case '\t':
			fputs("\\t", f);
			break;
		default:
			if (c < 0x20 || c == 0x7f)
				fprintf(f, "\\u%04x", c);
			else
				fputc(c, f);
		}
	}
	fputc('"', f);
}

void sl_json_str(FILE *f, const char *s)
{
	sl_json_strn(f, s, strlen(s));
}

bool sl_printable_utf8(const uint8_t *p, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = p[i];
		size_t k, more;
		uint32_t cp;

		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			more = 1, cp = c & 0x1f;
		else if ((c & 0xf0) == 0xe0)
			more = 2, cp = c & 0x0f;
		else if ((c & 0xf8) == 0xf0)
			more = 3, cp = c & 0x07;
		else
			return false;
		for (k = 1; k <= more; k++) {
			if (i + k >= n || (p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and out-of-range code points are not text. */
		if ((more == 1 && cp < 0x80) || (more == 2 && cp < 0x800) ||
		    (more == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
			return false;
		i += more + 1;
	}
	return true;
}

bool sl_node_name_valid(const char *name)
{
	size_t i, n = strlen(name);

	if (!n || n > SL_NODE_NAME_MAX || name[0] == '-' || name[0] == '.')
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!isalnum((unsigned char)c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

int sl_hostport_split(const char *addr, char *host, size_t cap, unsigned *port)
{
	const char *c = strrchr(addr, ':');
	char *end;
	unsigned long p;

	if (!c || c == addr || (size_t)(c - addr) >= cap)
		return -EINVAL;
	p = strtoul(c + 1, &end, 10);
	if (!c[1] || *end || p > 65535)
		return -EINVAL;
	memcpy(host, addr, (size_t)(c - addr));
	host[c - addr] = '\0';
	*port = (unsigned)p;
	return 0;
}

int sl_relay_dir_parse_url(const char *url, char *host, size_t cap, unsigned *port,
			   const char **why)
{
	static const char scheme[] = "redis://";

	*why = "expected redis://HOST:PORT, e.g. redis://127.0.0.1:6379";
	if (strncmp(url, scheme, sizeof(scheme) - 1))
		return -EINVAL;
	if (sl_hostport_split(url + sizeof(scheme) - 1, host, cap, port) || !host[0] || !*port)
		return -EINVAL;
	return 0;
}
