/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A log-linear latency histogram with HdrHistogram's layout: values from 1
 * to 60,000,000 (microseconds: 1 us to 60 s) at 3 significant digits, in
 * fixed memory (no allocation after init: one struct, ~140 KB). Each power
 * of two above 2048 is a bucket of 1024 linear sub-buckets, so a value's
 * error is below 1/1000 of it. The same index math as HdrHistogram, so its
 * percentile-distribution text (sl_hist_print_percentiles) reads as the
 * upstream tools write it and their plotters take it.
 *
 * Single writer: a histogram is owned by one thread (a load generator's
 * shard); others read a copy (sl_hist_merge into their own).
 */
#ifndef SL_HISTOGRAM_H
#define SL_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define SL_HIST_HIGHEST 60000000ull	/* 60 s in us; larger values are clamped */
#define SL_HIST_DIGITS 3
#define SL_HIST_SUB_BITS 11		/* 2 * 10^3 -> 2048 sub-buckets */
#define SL_HIST_SUB_COUNT (1u << SL_HIST_SUB_BITS)
#define SL_HIST_HALF_BITS (SL_HIST_SUB_BITS - 1)
#define SL_HIST_HALF_COUNT (1u << SL_HIST_HALF_BITS)
#define SL_HIST_BUCKETS 16		/* 2048 << 15 > 60,000,000 */
#define SL_HIST_COUNTS ((SL_HIST_BUCKETS + 1) * SL_HIST_HALF_COUNT)

struct sl_hist {
	uint64_t total;
	uint64_t min, max;		/* exact, as recorded (max before clamping) */
	uint64_t clamped;		/* values over SL_HIST_HIGHEST, counted at it */
	double sum;			/* of exact values, for the mean */
	uint64_t counts[SL_HIST_COUNTS];
};

void sl_hist_init(struct sl_hist *h);
void sl_hist_record_n(struct sl_hist *h, uint64_t v, uint64_t n);
static inline void sl_hist_record(struct sl_hist *h, uint64_t v)
{
	sl_hist_record_n(h, v, 1);
}
/* dst += src (shards' histograms into one). */
void sl_hist_merge(struct sl_hist *dst, const struct sl_hist *src);

/* Index of v's counter, and the range of values that share it. */
size_t sl_hist_index(uint64_t v);
uint64_t sl_hist_lowest_equiv(uint64_t v);
uint64_t sl_hist_highest_equiv(uint64_t v);
/* Value at counter index i (the lowest value it holds). */
uint64_t sl_hist_value_at_index(size_t i);

/*
 * The value at percentile p (0..100]: the highest value equivalent to the
 * one at which the cumulative count reaches p% of the total (as
 * HdrHistogram's getValueAtPercentile). 0 when empty.
 */
uint64_t sl_hist_percentile(const struct sl_hist *h, double p);
/* Mean and standard deviation over the counters (median-equivalent values, as upstream). */
double sl_hist_mean(const struct sl_hist *h);
double sl_hist_stddev(const struct sl_hist *h);

/*
 * The next counter at or after *i that holds a count: its value range and
 * count, *i moved past it. 0 when there is none left, else 1.
 */
int sl_hist_next_bucket(const struct sl_hist *h, size_t *i, uint64_t *lo, uint64_t *hi,
			uint64_t *count);

/*
 * HdrHistogram's percentile-distribution text (outputPercentileDistribution):
 * Value, Percentile, TotalCount, 1/(1-Percentile), ticks_per_half percentile
 * steps per halving of the distance to 100% (upstream's default: 5), values
 * divided by scale (1000: microseconds printed as milliseconds), then the
 * Mean/StdDeviation/Max/Total count/Buckets footer. 0 or -EIO.
 */
int sl_hist_print_percentiles(const struct sl_hist *h, FILE *f, unsigned ticks_per_half,
			      double scale);

#endif
