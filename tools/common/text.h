/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Text helpers that the CLI, the daemon and the load harness all use: the
 * user-facing error line, durations, hex, JSON strings, node names and
 * host:port addresses. Nothing here knows a command or a node.
 */
#ifndef SL_TEXT_H
#define SL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Durations: "10s", "500ms", "1m30s", "2h", "250us"; a bare number means
 * seconds. Result in milliseconds (microsecond inputs round up). 0, -EINVAL
 * (syntax, or zero), -ERANGE (over a day).
 */
int sl_parse_duration_ms(const char *s, uint64_t *ms);
/* "10s", "1.5s", "500ms", "2m" into buf (for messages). */
void sl_format_duration_ms(uint64_t ms, char *buf, size_t cap);

/* Hex: lowercase. sl_hex_decode accepts upper and lower case, no separators. */
void sl_hex_encode(const uint8_t *p, size_t n, char *out);
/* Bytes written, or -EINVAL (odd length, bad digit), -E2BIG. */
int sl_hex_decode(const char *s, uint8_t *out, size_t cap);

/* JSON string literal (quotes included) of s[0..n), valid UTF-8 assumed. */
void sl_json_str(FILE *f, const char *s);
void sl_json_strn(FILE *f, const char *s, size_t n);
/* True when p[0..n) is valid UTF-8 without control characters (tab/newline ok). */
bool sl_printable_utf8(const uint8_t *p, size_t n);

/*
 * Errors for the user: "sluice: " + message + newline on stderr. The message
 * says what was wrong and what to do. Returns -1 so a command can
 * `return sl_err(...)`; the dispatcher turns any non-zero into exit status 1.
 */
int sl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Split "host:port" / "[v6]:port" at the last ':' (host into host[cap]). 0 or -EINVAL. */
int sl_hostport_split(const char *addr, char *host, size_t cap, unsigned *port);
/*
 * A relay fleet's directory, "redis://HOST:PORT", into host and port (node create, node
 * run, the config file, the directory thread). 0, or -EINVAL with the user's message in why.
 */
int sl_relay_dir_parse_url(const char *url, char *host, size_t cap, unsigned *port,
			   const char **why);

/* Node names: 1..64 of [A-Za-z0-9_-.], not starting with '-' or '.'. */
#define SL_NODE_NAME_MAX 64
bool sl_node_name_valid(const char *name);

#endif
