// SPDX-License-Identifier: Apache-2.0
/*
 * HdrHistogram's log-linear layout with a unit of 1 (microseconds), 3
 * significant digits, fixed at compile time so recording is a clz, a shift
 * and an add. The index math follows HdrHistogram_c (get_bucket_index,
 * counts_index, value_from_index) so the text output matches upstream's.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "tools/load/histogram.h"

#define SUB_MASK ((uint64_t)SL_HIST_SUB_COUNT - 1)

static unsigned bucket_of(uint64_t v)
{
	unsigned pow2ceil = 64 - (unsigned)__builtin_clzll(v | SUB_MASK);

	return pow2ceil - (SL_HIST_HALF_BITS + 1);
}

size_t sl_hist_index(uint64_t v)
{
	unsigned b = bucket_of(v);
	uint64_t sub = v >> b;

	return ((size_t)(b + 1) << SL_HIST_HALF_BITS) + (size_t)(sub - SL_HIST_HALF_COUNT);
}

uint64_t sl_hist_value_at_index(size_t i)
{
	long b = (long)(i >> SL_HIST_HALF_BITS) - 1;
	uint64_t sub = (i & (SL_HIST_HALF_COUNT - 1)) + SL_HIST_HALF_COUNT;

	if (b < 0) {
		sub -= SL_HIST_HALF_COUNT;
		b = 0;
	}
	return sub << b;
}

static uint64_t range_size(uint64_t v)
{
	return 1ull << bucket_of(v);
}

uint64_t sl_hist_lowest_equiv(uint64_t v)
{
	unsigned b = bucket_of(v);

	return (v >> b) << b;
}

uint64_t sl_hist_highest_equiv(uint64_t v)
{
	return sl_hist_lowest_equiv(v) + range_size(v) - 1;
}

static uint64_t median_equiv(uint64_t v)
{
	return sl_hist_lowest_equiv(v) + (range_size(v) >> 1);
}

void sl_hist_init(struct sl_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

void sl_hist_record_n(struct sl_hist *h, uint64_t v, uint64_t n)
{
	if (!n)
		return;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
	h->sum += (double)v * (double)n;
	h->total += n;
	if (v > SL_HIST_HIGHEST) {
		/* Counted at the top, so percentiles stay honest about the tail's size. */
		h->clamped += n;
		v = SL_HIST_HIGHEST;
	}
	h->counts[sl_hist_index(v)] += n;
}

void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src)
{
	if (!src->total)
		return;
	for (size_t i = 0; i < SL_HIST_COUNTS; i++)
		dst->counts[i] += src->counts[i];
	dst->total += src->total;
	dst->clamped += src->clamped;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t sl_hist_percentile(const struct sl_hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->total)
		return 0;
	if (p > 100)
		p = 100;
	if (p < 0)
		p = 0;
	want = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
	if (want < 1)
		want = 1;
	for (size_t i = 0; i < SL_HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= want)
			return sl_hist_highest_equiv(sl_hist_value_at_index(i));
	}
	return sl_hist_highest_equiv(h->max > SL_HIST_HIGHEST ? SL_HIST_HIGHEST : h->max);
}

double sl_hist_mean(const struct sl_hist *h)
{
	double s = 0;

	if (!h->total)
		return 0;
	for (size_t i = 0; i < SL_HIST_COUNTS; i++)
		if (h->counts[i])
			s += (double)median_equiv(sl_hist_value_at_index(i)) * (double)h->counts[i];
	return s / (double)h->total;
}

double sl_hist_stddev(const struct sl_hist *h)
{
	double mean = sl_hist_mean(h), s = 0;

	if (!h->total)
		return 0;
	for (size_t i = 0; i < SL_HIST_COUNTS; i++) {
		double d;

		if (!h->counts[i])
			continue;
		d = (double)median_equiv(sl_hist_value_at_index(i)) - mean;
		s += d * d * (double)h->counts[i];
	}
	return sqrt(s / (double)h->total);
}

int sl_hist_next_bucket(const struct sl_hist *h, size_t *i, uint64_t *lo, uint64_t *hi,
			uint64_t *count)
{
	for (; *i < SL_HIST_COUNTS; (*i)++) {
		if (!h->counts[*i])
			continue;
		*lo = sl_hist_value_at_index(*i);
		*hi = sl_hist_highest_equiv(*lo);
		*count = h->counts[*i];
		(*i)++;
		return 1;
	}
	return 0;
}

/*
 * Upstream's PercentileIterator: step the percentile level by
 * 100 / (ticks * 2^(floor(log2(100 / (100 - level))) + 1)), emitting the
 * first counter at which the cumulative percentage reaches the level, and
 * once more at 100% for the last recorded value.
 */
int sl_hist_print_percentiles(const struct sl_hist *h, FILE *f, unsigned ticks_per_half,
			      double scale)
{
	double level = 0;
	uint64_t cum = 0, maxv;
	size_t i = 0;
	bool fresh = true;

	if (!ticks_per_half)
		ticks_per_half = 5;
	fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
		"1/(1-Percentile)");
	while (h->total && i < SL_HIST_COUNTS) {
		double pct;

		if (fresh) {
			cum += h->counts[i];
			fresh = false;
		}
		pct = 100.0 * (double)cum / (double)h->total;
		if (h->counts[i] && pct >= level) {
			double v = (double)sl_hist_highest_equiv(sl_hist_value_at_index(i)) / scale;

			if (cum == h->total) {
				/* Upstream's last two lines: the level reached, then 100%. */
				if (level < 100)
					fprintf(f, "%12.*f %2.12f %10llu %14.2f\n", SL_HIST_DIGITS, v,
						level / 100, (unsigned long long)cum,
						1 / (1 - level / 100));
				fprintf(f, "%12.*f %2.12f %10llu\n", SL_HIST_DIGITS, v, 1.0,
					(unsigned long long)cum);
				break;
			}
			fprintf(f, "%12.*f %2.12f %10llu %14.2f\n", SL_HIST_DIGITS, v, level / 100,
				(unsigned long long)cum, 1 / (1 - level / 100));
			level += 100.0 / ((double)ticks_per_half *
					  pow(2, floor(log(100.0 / (100.0 - level)) / log(2)) + 1));
			continue;
		}
		i++;
		fresh = true;
	}
	maxv = h->total ? sl_hist_highest_equiv(h->max > SL_HIST_HIGHEST ? SL_HIST_HIGHEST : h->max) : 0;
	fprintf(f, "#[Mean    = %12.*f, StdDeviation   = %12.*f]\n", SL_HIST_DIGITS,
		sl_hist_mean(h) / scale, SL_HIST_DIGITS, sl_hist_stddev(h) / scale);
	fprintf(f, "#[Max     = %12.*f, Total count    = %12llu]\n", SL_HIST_DIGITS,
		(double)maxv / scale, (unsigned long long)h->total);
	fprintf(f, "#[Buckets = %12u, SubBuckets     = %12u]\n", SL_HIST_BUCKETS, SL_HIST_SUB_COUNT);
	return ferror(f) ? -EIO : 0;
}
