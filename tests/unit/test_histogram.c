// SPDX-License-Identifier: Apache-2.0
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/load/histogram.h"

TestSuite(histogram, .timeout = 20);

static struct sl_hist *hist_new(void)
{
	struct sl_hist *h = malloc(sizeof(*h));

	cr_assert(h);
	sl_hist_init(h);
	return h;
}

/* A deterministic generator, so a failure reproduces. */
static uint64_t rng = 88172645463325252ull;
static double uniform01(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

Test(histogram, small_values_are_exact)
{
	for (uint64_t v = 0; v < 2048; v++) {
		cr_assert_eq(sl_hist_index(v), v);
		cr_assert_eq(sl_hist_lowest_equiv(v), v);
		cr_assert_eq(sl_hist_highest_equiv(v), v);
	}
}

Test(histogram, three_significant_digits_over_the_whole_range)
{
	size_t prev = 0;

	for (uint64_t v = 1; v <= SL_HIST_HIGHEST; v = v * 1.01 + 1) {
		uint64_t lo = sl_hist_lowest_equiv(v), hi = sl_hist_highest_equiv(v);
		size_t i = sl_hist_index(v);

		cr_assert(lo <= v && v <= hi, "%lu not in [%lu, %lu]", v, lo, hi);
		cr_assert((double)(hi - lo) <= (double)v / 1000.0, "range at %lu: %lu", v, hi - lo);
		cr_assert_lt(i, SL_HIST_COUNTS);
		cr_assert_geq(i, prev, "indexes must grow with values");
		cr_assert_eq(sl_hist_value_at_index(i), lo);
		cr_assert_eq(sl_hist_index(hi + 1), i + 1, "ranges must tile at %lu", v);
		prev = i;
	}
	cr_assert_lt(sl_hist_index(SL_HIST_HIGHEST), SL_HIST_COUNTS);
}

Test(histogram, uniform_distribution_percentiles)
{
	struct sl_hist *h = hist_new();
	static const double ps[] = { 10, 50, 90, 99, 99.9, 99.99 };

	for (uint64_t v = 1; v <= 1000000; v++)
		sl_hist_record(h, v);
	cr_assert_eq(h->total, 1000000);
	cr_assert_eq(h->min, 1);
	cr_assert_eq(h->max, 1000000);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		double want = ps[i] * 10000, got = (double)sl_hist_percentile(h, ps[i]);

		cr_assert(fabs(got - want) <= want / 1000 + 1, "p%g: %g, want %g", ps[i], got, want);
	}
	cr_assert_eq(sl_hist_percentile(h, 100), sl_hist_highest_equiv(1000000));
	cr_assert(fabs(sl_hist_mean(h) - 500000.5) < 500, "mean %g", sl_hist_mean(h));
	/* The standard deviation of a uniform distribution: range / sqrt(12). */
	cr_assert(fabs(sl_hist_stddev(h) - 1e6 / sqrt(12)) < 500, "stddev %g", sl_hist_stddev(h));
	free(h);
}

Test(histogram, exponential_distribution_percentiles)
{
	struct sl_hist *h = hist_new();
	const double mean = 2000;	/* us */
	static const double ps[] = { 50, 90, 99, 99.9 };

	for (int i = 0; i < 2000000; i++)
		sl_hist_record(h, (uint64_t)(-mean * log(1 - uniform01())));
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		double want = -mean * log(1 - ps[i] / 100), got = (double)sl_hist_percentile(h, ps[i]);

		/* sampling noise at 2 M samples is well under 2% up to p99.9 */
		cr_assert(fabs(got - want) < want * 0.02 + 2, "p%g: %g, want %g", ps[i], got, want);
	}
	cr_assert(fabs(sl_hist_mean(h) - mean) < mean * 0.01, "mean %g", sl_hist_mean(h));
	free(h);
}

Test(histogram, percentile_of_a_few_values)
{
	struct sl_hist *h = hist_new();

	cr_assert_eq(sl_hist_percentile(h, 50), 0, "empty");
	sl_hist_record_n(h, 100, 99);
	sl_hist_record(h, 5000000);
	cr_assert_eq(sl_hist_percentile(h, 50), 100);
	cr_assert_eq(sl_hist_percentile(h, 99), 100);
	cr_assert_eq(sl_hist_percentile(h, 99.9), sl_hist_highest_equiv(5000000));
	cr_assert_eq(sl_hist_percentile(h, 100), sl_hist_highest_equiv(5000000));
	cr_assert_eq(h->max, 5000000);
	free(h);
}

Test(histogram, merge_equals_recording_into_one)
{
	struct sl_hist *a = hist_new(), *b = hist_new(), *all = hist_new(), *m = hist_new();

	for (int i = 0; i < 100000; i++) {
		uint64_t v = (uint64_t)(uniform01() * 1e7);

		sl_hist_record(i & 1 ? a : b, v);
		sl_hist_record(all, v);
	}
	sl_hist_merge(m, a);
	sl_hist_merge(m, b);
	cr_assert_eq(m->total, all->total);
	cr_assert_eq(m->min, all->min);
	cr_assert_eq(m->max, all->max);
	cr_assert_eq(memcmp(m->counts, all->counts, sizeof(m->counts)), 0);
	for (double p = 1; p < 100; p += 7.7)
		cr_assert_eq(sl_hist_percentile(m, p), sl_hist_percentile(all, p));
	free(a), free(b), free(all), free(m);
}

Test(histogram, values_over_the_top_are_clamped_and_counted)
{
	struct sl_hist *h = hist_new();

	sl_hist_record(h, SL_HIST_HIGHEST * 10);
	cr_assert_eq(h->total, 1);
	cr_assert_eq(h->clamped, 1);
	cr_assert_eq(h->max, SL_HIST_HIGHEST * 10, "max stays exact");
	cr_assert_eq(sl_hist_percentile(h, 50), sl_hist_highest_equiv(SL_HIST_HIGHEST));
	free(h);
}

Test(histogram, buckets_iterate_in_order)
{
	struct sl_hist *h = hist_new();
	uint64_t lo, hi, n, sum = 0, last = 0;
	size_t i = 0;

	sl_hist_record_n(h, 3, 2);
	sl_hist_record_n(h, 100000, 5);
	sl_hist_record(h, 100001);		/* the same counter: 64 per counter up there */
	cr_assert_eq(sl_hist_next_bucket(h, &i, &lo, &hi, &n), 1);
	cr_assert(lo == 3 && hi == 3 && n == 2);
	cr_assert_eq(sl_hist_next_bucket(h, &i, &lo, &hi, &n), 1);
	cr_assert(lo <= 100000 && hi >= 100001 && n == 6, "lo %lu hi %lu n %lu", lo, hi, n);
	sum = n + 2;
	last = hi;
	cr_assert_eq(sl_hist_next_bucket(h, &i, &lo, &hi, &n), 0);
	cr_assert_eq(sum, h->total);
	cr_assert_gt(last, 3);
	free(h);
}

/*
 * The percentile-distribution text, as HdrHistogram's
 * outputPercentileDistribution writes it (values in ms from us): header,
 * lines at the percentile levels 0, 10, 20, ... 50, 55, ... with 5 ticks
 * per half distance, the first line at 0%, the last at 100% without the
 * 1/(1-P) column, and the footer.
 */
Test(histogram, percentile_distribution_text)
{
	struct sl_hist *h = hist_new();
	char *buf = NULL, line[256];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	unsigned lines = 0;
	double last_p = -1, v, p, inv;
	unsigned long long cnt, last_cnt = 0;

	for (uint64_t x = 1; x <= 10000; x++)
		sl_hist_record(h, x * 100);	/* 100 us .. 1 s */
	cr_assert_eq(sl_hist_print_percentiles(h, f, 5, 1000.0), 0);
	fclose(f);
	f = fmemopen(buf, len, "r");
	cr_assert(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, "       Value     Percentile TotalCount 1/(1-Percentile)\n");
	cr_assert(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, "\n");
	while (fgets(line, sizeof(line), f) && line[0] != '#') {
		int k = sscanf(line, "%lf %lf %llu %lf", &v, &p, &cnt, &inv);

		if (lines == 0) {
			cr_assert_str_eq(line, "       0.100 0.000000000000          1           1.00\n");
		}
		cr_assert(k == 4 || (k == 3 && p == 1.0), "line %u: %s", lines, line);
		cr_assert_geq(p, last_p);
		cr_assert_geq(cnt, last_cnt);
		if (k == 4)
			cr_assert(fabs(inv - 1 / (1 - p)) < 0.01 * inv, "%s", line);
		if (fabs(p - 0.5) < 1e-9)
			cr_assert(fabs(v - 500.0) < 0.5, "p50 at %g ms", v);
		last_p = p;
		last_cnt = cnt;
		lines++;
	}
	cr_assert_eq(last_p, 1.0);
	cr_assert_eq(last_cnt, 10000);
	cr_assert_gt(lines, 50);
	cr_assert(!strncmp(line, "#[Mean    = ", 12), "%s", line);
	cr_assert(fgets(line, sizeof(line), f));
	cr_assert(!strncmp(line, "#[Max     =     1000.", 21), "%s", line);
	cr_assert(strstr(line, "Total count    =        10000]"), "%s", line);
	cr_assert(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, "#[Buckets =           16, SubBuckets     =         2048]\n");
	fclose(f);
	free(buf);
	free(h);
}
