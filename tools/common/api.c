// SPDX-License-Identifier: Apache-2.0
/* The control API's CBOR (api.h). */
#include <errno.h>
#include <string.h>

#include "tools/common/api.h"

void sl_api_put_request(struct sl_cbor_writer *w, const char *method, bool has_body)
{
	sl_cbor_put_array(w, has_body ? 2 : 1);
	sl_cbor_put_text(w, method, strlen(method));
}

void sl_api_put_response(struct sl_cbor_writer *w, uint16_t status, const char *error,
			 bool has_body)
{
	bool has_error = error && *error;

	sl_cbor_put_array(w, has_body ? 3 : has_error ? 2 : 1);
	sl_cbor_put_uint(w, status);
	if (has_error)
		sl_cbor_put_text(w, error, strlen(error));
	else if (has_body)
		sl_cbor_put_null(w);
}

/* An optional trailing item as a view of its encoding (NULL when absent or null). */
static int opt_item(struct sl_cbor_reader *rd, struct sl_cbor_array *a, const uint8_t **p,
		    size_t *n)
{
	const uint8_t *start;
	bool present;
	int ret;

	*p = NULL;
	*n = 0;
	ret = sl_cbor_field_opt(rd, a, &present);
	if (ret || !present)
		return ret;
	start = rd->p;
	ret = sl_cbor_skip(rd);
	if (ret)
		return ret;
	*p = start;
	*n = (size_t)(rd->p - start);
	return 0;
}

/* Copy a text field into dst[cap], which must hold it. */
static int get_text_copy(struct sl_cbor_reader *rd, char *dst, size_t cap)
{
	const char *s;
	size_t n;
	int ret = sl_cbor_get_text(rd, &s, &n);

	if (ret)
		return ret;
	if (n >= cap || memchr(s, '\0', n))
		return -EBADMSG;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* The next required struct field, an unsigned integer <= max. */
static int field_uint(struct sl_cbor_reader *rd, struct sl_cbor_array *a, uint64_t max,
		      uint64_t *v)
{
	int ret = sl_cbor_field(rd, a);

	return ret ? ret : sl_cbor_get_uint_max(rd, max, v);
}

/* The whole payload must be the one item. */
static int finish(struct sl_cbor_reader *rd, struct sl_cbor_array *a)
{
	int ret = sl_cbor_array_leave(rd, a);

	if (ret)
		return ret;
	return sl_cbor_at_end(rd) ? 0 : -EBADMSG;
}

int sl_api_request_decode(const uint8_t *p, size_t n, struct sl_api_request *r)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	int ret;

	memset(r, 0, sizeof(*r));
	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = get_text_copy(&rd, r->method, sizeof(r->method));
	if (!ret)
		ret = opt_item(&rd, &a, &r->body, &r->body_len);
	if (!ret)
		ret = finish(&rd, &a);
	return ret ? -EBADMSG : 0;
}

int sl_api_response_decode(const uint8_t *p, size_t n, struct sl_api_response *r)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	uint64_t status;
	bool present;
	int ret;

	memset(r, 0, sizeof(*r));
	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = field_uint(&rd, &a, 999, &status);
	if (ret)
		return -EBADMSG;
	r->status = (uint16_t)status;
	ret = sl_cbor_field_opt(&rd, &a, &present);
	if (!ret && present) {
		const char *s;
		size_t len;

		/* A long error is cut, not refused: the user should still see it. */
		ret = sl_cbor_get_text(&rd, &s, &len);
		if (!ret) {
			if (len > SL_API_ERROR_MAX)
				len = SL_API_ERROR_MAX;
			memcpy(r->error, s, len);
			r->error[len] = '\0';
		}
	}
	if (!ret)
		ret = opt_item(&rd, &a, &r->body, &r->body_len);
	if (!ret)
		ret = finish(&rd, &a);
	return ret ? -EBADMSG : 0;
}

void sl_api_put_send(struct sl_cbor_writer *w, const struct sl_api_send *s)
{
	sl_cbor_put_array(w, 3);
	sl_route_encode(w, &s->route);
	sl_cbor_put_bytes(w, s->payload, s->len);
	sl_cbor_put_uint(w, s->timeout_ms);
}

int sl_api_send_decode(const uint8_t *p, size_t n, struct sl_api_send *s)
{
	struct sl_cbor_reader rd;
	struct sl_cbor_array a;
	uint64_t t = 0;
	int ret;

	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_route_decode(&rd, &s->route);
	if (ret == -E2BIG)
		return ret;
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_cbor_get_bytes(&rd, &s->payload, &s->len);
	if (!ret)
		ret = field_uint(&rd, &a, SL_API_TIMEOUT_MAX_MS, &t);
	if (!ret)
		ret = finish(&rd, &a);
	if (ret || !t || sl_route_empty(&s->route))
		return -EBADMSG;
	s->timeout_ms = (uint32_t)t;
	return 0;
}

void sl_api_put_status(struct sl_cbor_writer *w, const struct sl_api_status *s)
{
	sl_cbor_put_array(w, 6);
	sl_cbor_put_text(w, s->name, strlen(s->name));
	sl_cbor_put_uint(w, s->tcp_port);
	sl_cbor_put_uint(w, s->shards);
	sl_cbor_put_uint(w, s->uptime_ms);
	sl_cbor_put_uint(w, s->pid);
	sl_cbor_put_array(w, 10);
	sl_cbor_put_uint(w, s->stats.delivered);
	sl_cbor_put_uint(w, s->stats.to_transport);
	sl_cbor_put_uint(w, s->stats.drop_unknown);
	sl_cbor_put_uint(w, s->stats.drop_route);
	sl_cbor_put_uint(w, s->stats.drop_other);
	sl_cbor_put_uint(w, s->stats.control_requests);
	sl_cbor_put_uint(w, s->stats.sends);
	sl_cbor_put_uint(w, s->stats.replies);
	sl_cbor_put_uint(w, s->stats.timeouts);
	sl_cbor_put_uint(w, s->stats.frame_timeouts);
}

int sl_api_status_decode(const uint8_t *p, size_t n, struct sl_api_status *s)
{
	uint64_t *stats[] = {
		&s->stats.delivered, &s->stats.to_transport, &s->stats.drop_unknown,
		&s->stats.drop_route, &s->stats.drop_other, &s->stats.control_requests,
		&s->stats.sends, &s->stats.replies, &s->stats.timeouts, &s->stats.frame_timeouts,
	};
	struct sl_cbor_reader rd;
	struct sl_cbor_array a, b;
	uint64_t v = 0;
	size_t i;
	int ret;

	memset(s, 0, sizeof(*s));
	sl_cbor_reader_init(&rd, p, n);
	ret = sl_cbor_array_enter(&rd, &a);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = get_text_copy(&rd, s->name, sizeof(s->name));
	if (!ret)
		ret = field_uint(&rd, &a, UINT16_MAX, &v);
	s->tcp_port = (uint16_t)v;
	if (!ret)
		ret = field_uint(&rd, &a, UINT32_MAX, &v);
	s->shards = (uint32_t)v;
	if (!ret)
		ret = field_uint(&rd, &a, UINT64_MAX, &s->uptime_ms);
	if (!ret)
		ret = field_uint(&rd, &a, UINT64_MAX, &s->pid);
	if (!ret)
		ret = sl_cbor_field(&rd, &a);
	if (!ret)
		ret = sl_cbor_array_enter(&rd, &b);
	/* Stats: tolerant of fewer (older node) or more (newer node) counters. */
	for (i = 0; !ret && i < sizeof(stats) / sizeof(stats[0]); i++) {
		ret = sl_cbor_array_next(&rd, &b);
		if (ret <= 0)
			break;
		ret = sl_cbor_get_uint(&rd, stats[i]);
	}
	if (ret >= 0)
		ret = sl_cbor_array_leave(&rd, &b);
	if (!ret)
		ret = finish(&rd, &a);
	return ret ? -EBADMSG : 0;
}
