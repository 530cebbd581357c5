// SPDX-License-Identifier: Apache-2.0
/*
 * What `sluice load` prints: the live progress line (stderr, a terminal),
 * the plain summary, the JSON document (schema "sluice-load/1", README), the
 * HdrHistogram percentile-distribution file, and the CI gates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/common/text.h"
#include "tools/load/load.h"

static const char *const err_names[SL_LERR_KINDS] = {
	[SL_LERR_TIMEOUT] = "timeouts",
	[SL_LERR_REFUSED] = "refused",
	[SL_LERR_CLOSED] = "closed",
	[SL_LERR_AUTH] = "auth",
	[SL_LERR_OTHER] = "other",
};

static const char *const mode_names[] = {
	[SL_LOAD_RR] = "request-response",
	[SL_LOAD_BULK] = "bulk",
	[SL_LOAD_HANDSHAKE] = "handshake",
};

#define LD(x) atomic_load_explicit(&(x), memory_order_relaxed)

uint64_t sl_load_errors_total(const struct sl_load_counters *c)
{
	uint64_t n = 0;

	for (int k = 0; k < SL_LERR_KINDS; k++)
		n += atomic_load_explicit(&c->errors[k], memory_order_relaxed);
	return n;
}

static void add(_Atomic uint64_t *dst, _Atomic uint64_t *src)
{
	atomic_fetch_add_explicit(dst, LD(*src), memory_order_relaxed);
}

void sl_load_merge(struct sl_load_result *r, struct sl_load_gen *g, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct sl_load_counters *c = &g[i].c;

		add(&r->c.sent, &c->sent);
		add(&r->c.received, &c->received);
		add(&r->c.bytes_sent, &c->bytes_sent);
		add(&r->c.bytes_received, &c->bytes_received);
		add(&r->c.sent_late, &c->sent_late);
		add(&r->c.sent_all, &c->sent_all);
		add(&r->c.handshakes, &c->handshakes);
		add(&r->c.hs_errors, &c->hs_errors);
		add(&r->c.inflight, &c->inflight);
		for (int k = 0; k < SL_LERR_KINDS; k++)
			add(&r->c.errors[k], &c->errors[k]);
		sl_hist_merge(r->hist, &g[i].hist);
		sl_hist_merge(r->hs_hist, &g[i].hs_hist);
		sl_hist_merge(r->lag, &g[i].lag);
	}
}

/* Progress: a snapshot of each generator's histogram, taken on its own thread. */

static struct sl_hist *progress_hist;
static bool progress_shown;

void sl_load_progress(struct sl_load_gen *g, unsigned n, double elapsed_s, double asked)
{
	uint64_t sent = 0, errors = 0, inflight = 0;
	static uint64_t last_sent;
	static double last_t;
	double rate;

	if (!progress_hist && !(progress_hist = malloc(sizeof(*progress_hist))))
		return;
	sl_hist_init(progress_hist);
	for (unsigned i = 0; i < n; i++)
		atomic_store_explicit(&g[i].snap_req, 1, memory_order_release);
	for (unsigned i = 0; i < n; i++) {
		struct timespec ms = { 0, 1000000 };

		/* a generator serves it within a turn (1 ms); a drained one never will */
		for (int k = 0; k < 100 && atomic_load_explicit(&g[i].snap_req, memory_order_acquire) &&
				!atomic_load(&g[i].drained); k++)
			nanosleep(&ms, NULL);
		if (!atomic_load_explicit(&g[i].snap_req, memory_order_acquire))
			sl_hist_merge(progress_hist, &g[i].snap);
		sent += LD(g[i].c.sent);
		errors += sl_load_errors_total(&g[i].c);
		inflight += LD(g[i].c.inflight);
	}
	if (elapsed_s < last_t || !progress_shown)
		last_sent = 0, last_t = 0;
	rate = elapsed_s > last_t ? (double)(sent - last_sent) / (elapsed_s - last_t) : 0;
	last_sent = sent;
	last_t = elapsed_s;
	if (asked > 0)
		fprintf(stderr, "\r\033[K%6.1fs  %.0f/%.0f msg/s  p99 %.3f ms  errors %llu  in flight %llu",
			elapsed_s, rate, asked, (double)sl_hist_percentile(progress_hist, 99) / 1000,
			(unsigned long long)errors, (unsigned long long)inflight);
	else
		fprintf(stderr, "\r\033[K%6.1fs  %.0f msg/s (closed loop)  p99 %.3f ms  errors %llu  in flight %llu",
			elapsed_s, rate, (double)sl_hist_percentile(progress_hist, 99) / 1000,
			(unsigned long long)errors, (unsigned long long)inflight);
	progress_shown = true;
}

void sl_load_progress_end(void)
{
	if (progress_shown)
		fputs("\r\033[K", stderr);
	progress_shown = false;
	free(progress_hist);
	progress_hist = NULL;
}

/* Figures. */

struct figures {
	double achieved, received_rate, bytes_sent_s, bytes_recv_s, error_rate, hs_rate;
	uint64_t errors, attempts;
};

static void figures(const struct sl_load_result *r, struct figures *f)
{
	const struct sl_load_counters *c = &r->c;
	uint64_t sent = LD(c->sent), late = LD(c->sent_late);

	f->achieved = (double)(sent - late) / r->window_s;
	f->received_rate = (double)LD(c->received) / r->window_s;
	f->bytes_sent_s = (double)LD(c->bytes_sent) / r->window_s;
	f->bytes_recv_s = (double)LD(c->bytes_received) / r->window_s;
	f->errors = sl_load_errors_total(c);
	f->attempts = sent + (r->cfg->mode == SL_LOAD_HANDSHAKE ? 0 : LD(c->handshakes) + LD(c->hs_errors));
	f->error_rate = f->attempts ? (double)f->errors / (double)f->attempts : 0;
	if (r->cfg->mode == SL_LOAD_HANDSHAKE)
		f->hs_rate = (double)LD(c->handshakes) / r->window_s;
	else
		f->hs_rate = r->setup_s > 0 ? (double)LD(c->handshakes) / r->setup_s : 0;
}

/* The harness's CPU over the window per message sent in it (or per handshake in a storm). */
static double cpu_us_per(const struct sl_load_result *r)
{
	const struct sl_load_counters *c = &r->c;
	uint64_t n = r->cfg->mode == SL_LOAD_HANDSHAKE ? LD(c->handshakes) :
		     LD(c->sent) - LD(c->sent_late);

	return n ? r->cpu_s * 1e6 / (double)n : 0;
}

static void print_latency_plain(const char *what, const struct sl_hist *h)
{
	printf("%-14s p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  p99.99 %.3f  max %.3f ms  "
	       "(mean %.3f, %llu samples)\n", what,
	       (double)sl_hist_percentile(h, 50) / 1000, (double)sl_hist_percentile(h, 90) / 1000,
	       (double)sl_hist_percentile(h, 99) / 1000, (double)sl_hist_percentile(h, 99.9) / 1000,
	       (double)sl_hist_percentile(h, 99.99) / 1000, (double)h->max / 1000,
	       sl_hist_mean(h) / 1000, (unsigned long long)h->total);
}

void sl_load_print_plain(const struct sl_load_result *r)
{
	const struct sl_load_cfg *cfg = r->cfg;
	const struct sl_load_counters *c = &r->c;
	struct figures f;

	figures(r, &f);
	printf("%-14s %s\n", "Target", r->target);
	printf("%-14s %s, %s", "Scenario", mode_names[cfg->mode], cfg->rate > 0 ? "open loop" : "closed loop");
	if (cfg->rate > 0 && cfg->ramp_ns)
		printf(", ramp %.0f..%.0f/s over %.1f s", cfg->rate0, cfg->rate, (double)cfg->ramp_ns / 1e9);
	else if (cfg->rate > 0)
		printf(" at %.0f/s", cfg->rate);
	if (cfg->concurrency)
		printf(", %s %u", cfg->rate > 0 ? "at most in flight" : "concurrency", cfg->concurrency);
	if (cfg->mode != SL_LOAD_HANDSHAKE)
		printf(", %u B", cfg->size);
	printf(", %.2f s measured (+%.1f s warmup), %u generator%s, %u connection%s\n", r->window_s,
	       (double)cfg->warmup_ns / 1e9, cfg->gens, cfg->gens == 1 ? "" : "s", r->conns_made,
	       r->conns_made == 1 ? "" : "s");
	if (cfg->mode == SL_LOAD_HANDSHAKE) {
		printf("%-14s %llu made (%.1f/s), %llu failed\n", "Handshakes",
		       (unsigned long long)LD(c->handshakes), f.hs_rate, (unsigned long long)LD(c->hs_errors));
		print_latency_plain("Handshake", r->hist);
	} else {
		printf("%-14s %llu (%.1f msg/s, %.2f MB/s)", "Sent", (unsigned long long)LD(c->sent),
		       f.achieved, f.bytes_sent_s / 1e6);
		if (cfg->rate > 0)
			printf("; asked %.1f msg/s", cfg->ramp_ns ? (cfg->rate0 + cfg->rate) / 2 : cfg->rate);
		if (LD(c->sent_late))
			printf("; %llu went out after the window", (unsigned long long)LD(c->sent_late));
		printf("\n%-14s %llu (%.1f msg/s, %.2f MB/s)\n", "Received",
		       (unsigned long long)LD(c->received), f.received_rate, f.bytes_recv_s / 1e6);
		if (r->node)
			printf("%-14s %llu discarded at node %s of %llu sent in all, warmup included "
			       "(%lld lost)\n", "Node", (unsigned long long)r->node_discarded, r->node,
			       (unsigned long long)LD(c->sent_all),
			       (long long)(LD(c->sent_all) - r->node_discarded));
		if (cfg->mode == SL_LOAD_RR)
			print_latency_plain("Latency", r->hist);
		if (cfg->rate > 0)
			print_latency_plain("Send lag", r->lag);
		if (LD(c->handshakes) || LD(c->hs_errors)) {
			printf("%-14s %llu made in %.2f s (%.0f/s), %llu failed\n", "Channels",
			       (unsigned long long)LD(c->handshakes), r->setup_s, f.hs_rate,
			       (unsigned long long)LD(c->hs_errors));
			print_latency_plain("Handshake", r->hs_hist);
		}
	}
	printf("%-14s", "Errors");
	for (int k = 0; k < SL_LERR_KINDS; k++)
		printf(" %s %llu", err_names[k], (unsigned long long)LD(c->errors[k]));
	printf("  (%.4f%% of %llu)\n", f.error_rate * 100, (unsigned long long)f.attempts);
	if (LD(c->sent) || LD(c->handshakes))
		printf("%-14s %.2f CPU-s over the window (%.2f cores), %.3f CPU-us per %s\n",
		       "Harness", r->cpu_s, r->cpu_s / r->window_s, cpu_us_per(r),
		       cfg->mode == SL_LOAD_HANDSHAKE ? "handshake" : "message");
}

static void print_latency_json(const struct sl_hist *h)
{
	printf("{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu,\"p999\":%llu,\"p9999\":%llu,\"max\":%llu,"
	       "\"min\":%llu,\"mean\":%.1f,\"stddev\":%.1f,\"count\":%llu}",
	       (unsigned long long)sl_hist_percentile(h, 50), (unsigned long long)sl_hist_percentile(h, 90),
	       (unsigned long long)sl_hist_percentile(h, 99), (unsigned long long)sl_hist_percentile(h, 99.9),
	       (unsigned long long)sl_hist_percentile(h, 99.99), (unsigned long long)h->max,
	       (unsigned long long)(h->total ? h->min : 0), sl_hist_mean(h), sl_hist_stddev(h),
	       (unsigned long long)h->total);
}

static void print_buckets_json(const struct sl_hist *h)
{
	uint64_t lo, hi, n;
	size_t i = 0;
	bool first = true;

	printf("{\"unit\":\"us\",\"significant_digits\":%d,\"buckets\":[", SL_HIST_DIGITS);
	while (sl_hist_next_bucket(h, &i, &lo, &hi, &n)) {
		printf("%s[%llu,%llu,%llu]", first ? "" : ",", (unsigned long long)lo,
		       (unsigned long long)hi, (unsigned long long)n);
		first = false;
	}
	printf("]}");
}

void sl_load_print_json(const struct sl_load_result *r)
{
	const struct sl_load_cfg *cfg = r->cfg;
	const struct sl_load_counters *c = &r->c;
	struct figures f;

	figures(r, &f);
	printf("{\"schema\":\"sluice-load/1\",\"target\":");
	sl_json_str(stdout, r->target);
	printf(",\"mode\":\"%s\",\"loop\":\"%s\",\"size\":%u,\"generators\":%u,\"connections\":%u,",
	       mode_names[cfg->mode], cfg->rate > 0 ? "open" : "closed", cfg->size, cfg->gens,
	       r->conns_made);
	if (cfg->rate > 0)
		printf("\"asked_rate\":%.1f,", cfg->ramp_ns ? (cfg->rate0 + cfg->rate) / 2 : cfg->rate);
	else
		printf("\"asked_rate\":null,");
	printf("\"ramp\":");
	if (cfg->ramp_ns)
		printf("{\"from\":%.1f,\"to\":%.1f,\"seconds\":%.3f}", cfg->rate0, cfg->rate,
		       (double)cfg->ramp_ns / 1e9);
	else
		printf("null");
	printf(",\"concurrency\":%u,\"duration_s\":%.3f,\"warmup_s\":%.3f,", cfg->concurrency,
	       r->window_s, (double)cfg->warmup_ns / 1e9);
	printf("\"sent\":%llu,\"sent_late\":%llu,\"received\":%llu,\"in_flight_at_end\":%llu,"
	       "\"achieved_rate\":%.1f,\"received_rate\":%.1f,"
	       "\"bytes_per_s\":{\"sent\":%.1f,\"received\":%.1f},",
	       (unsigned long long)LD(c->sent), (unsigned long long)LD(c->sent_late),
	       (unsigned long long)LD(c->received), (unsigned long long)LD(c->inflight), f.achieved,
	       f.received_rate, f.bytes_sent_s, f.bytes_recv_s);
	printf("\"latency_us\":");
	print_latency_json(r->hist);
	printf(",\"send_lag_us\":");
	print_latency_json(r->lag);
	printf(",\"errors\":{");
	for (int k = 0; k < SL_LERR_KINDS; k++)
		printf("\"%s\":%llu,", err_names[k], (unsigned long long)LD(c->errors[k]));
	printf("\"total\":%llu},\"error_rate\":%.6f,", (unsigned long long)f.errors, f.error_rate);
	printf("\"handshakes\":{\"made\":%llu,\"failed\":%llu,\"per_s\":%.1f,\"setup_s\":%.3f,\"latency_us\":",
	       (unsigned long long)LD(c->handshakes), (unsigned long long)LD(c->hs_errors), f.hs_rate,
	       r->setup_s);
	print_latency_json(cfg->mode == SL_LOAD_HANDSHAKE ? r->hist : r->hs_hist);
	printf("},\"harness\":{\"cpu_s\":%.3f,\"cpu_us_per_message\":%.3f,\"cores\":%.3f},",
	       r->cpu_s, cpu_us_per(r), r->cpu_s / r->window_s);
	printf("\"node\":");
	if (r->node) {
		printf("{\"name\":");
		sl_json_str(stdout, r->node);
		printf(",\"discarded\":%llu,\"sent_all\":%llu,\"lost\":%lld},",
		       (unsigned long long)r->node_discarded, (unsigned long long)LD(c->sent_all),
		       (long long)(LD(c->sent_all) - r->node_discarded));
	} else {
		printf("null,");
	}
	printf("\"gates\":{\"max_p99_us\":");
	if (r->max_p99_us >= 0)
		printf("%lld", (long long)r->max_p99_us);
	else
		printf("null");
	printf(",\"max_error_rate\":");
	if (r->max_error_rate >= 0)
		printf("%g", r->max_error_rate);
	else
		printf("null");
	printf(",\"passed\":%s},\"histogram\":", r->gates_passed ? "true" : "false");
	print_buckets_json(r->hist);
	printf("}\n");
}

int sl_load_write_histogram(const struct sl_load_result *r, const char *path)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -errno;
	ret = sl_hist_print_percentiles(r->hist, f, 5, 1000.0);
	if (fclose(f) && !ret)
		ret = -errno;
	return ret;
}

bool sl_load_check_gates(struct sl_load_result *r)
{
	struct figures f;
	uint64_t p99 = sl_hist_percentile(r->hist, 99);

	figures(r, &f);
	r->gates_passed = true;
	if (r->max_p99_us >= 0 && p99 > (uint64_t)r->max_p99_us) {
		sl_err("gate failed: p99 latency %.3f ms is over --max-p99 %.3f ms", (double)p99 / 1000,
		       (double)r->max_p99_us / 1000);
		r->gates_passed = false;
	}
	if (r->max_error_rate >= 0 && f.error_rate > r->max_error_rate) {
		sl_err("gate failed: error rate %.4f%% (%llu of %llu) is over --max-error-rate %g%%",
		       f.error_rate * 100, (unsigned long long)f.errors, (unsigned long long)f.attempts,
		       r->max_error_rate * 100);
		r->gates_passed = false;
	}
	return r->gates_passed;
}
