// SPDX-License-Identifier: Apache-2.0
/* The start-up AEAD choice of the composition root (tools/common/aead_pick.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <time.h>

#include "crypto/aead.h"
#include "tools/common/aead_pick.h"

TestSuite(aead_pick, .timeout = 10);

/* SLUICE_AEAD overrides the config value; a bad name is refused. */
Test(aead_pick, env_overrides_config)
{
	cr_assert(sl_aead_available());
	cr_assert_eq(setenv("SLUICE_AEAD", "sodium", 1), 0);
	cr_assert_eq(sl_aead_pick("gcrypt"), 0);
	cr_assert_str_eq(sl_aead_backend_name(), "sodium");
	cr_assert_eq(setenv("SLUICE_AEAD", "gcrypt", 1), 0);
	cr_assert_eq(sl_aead_pick("sodium"), 0);
	cr_assert_str_eq(sl_aead_backend_name(), "gcrypt");
	cr_assert_eq(unsetenv("SLUICE_AEAD"), 0);
	cr_assert_eq(sl_aead_pick("sodium"), 0);
	cr_assert_str_eq(sl_aead_backend_name(), "sodium");
	cr_assert_eq(sl_aead_pick("rot13"), -EINVAL);
	cr_assert_eq(setenv("SLUICE_AEAD", "rot13", 1), 0);
	cr_assert_eq(sl_aead_pick("sodium"), -EINVAL);
	cr_assert_str_eq(sl_aead_backend_name(), "sodium", "a refused choice changes nothing");
}

/* "auto" (and no config value) measures once, quickly, and selects its pick. */
Test(aead_pick, auto_measures_quickly_and_selects)
{
	struct sl_aead_measurement m;
	struct sl_aead_key k;
	uint8_t key[32] = { 1 };
	struct timespec c0, c1;
	double cpu_ms;

	cr_assert_eq(unsetenv("SLUICE_AEAD"), 0);
	cr_assert(sl_aead_available());
	sl_aead_pick_last(&m);
	cr_assert_eq(m.elapsed_ms, 0, "nothing measured before the pick");
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	cr_assert_eq(sl_aead_pick(NULL), 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	cpu_ms = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
	sl_aead_pick_last(&m);
	cr_assert(m.pick != SL_AEAD_BACKEND_AUTO && sl_aead_backend_usable(m.pick));
	cr_assert_eq(sl_aead_backend(), m.pick);
	cr_assert_eq(sl_aead_key_init(&k, key), 0);
	cr_assert_eq(k.backend, m.pick);
	sl_aead_key_wipe(&k);
	cr_assert_gt(m.bulk_gbps[SL_AEAD_BACKEND_SODIUM], 0);
	cr_assert_gt(m.bulk_gbps[SL_AEAD_BACKEND_GCRYPT], 0);
	cr_assert_gt(m.small_mps[SL_AEAD_BACKEND_SODIUM], 0);
	cr_assert_gt(m.small_mps[SL_AEAD_BACKEND_GCRYPT], 0);
	if (sl_aead_backend_usable(SL_AEAD_BACKEND_IPSECMB))
		cr_assert_gt(m.bulk_gbps[SL_AEAD_BACKEND_IPSECMB], 0);
	/* never slower in bulk than the reference by more than the noise */
	cr_assert_geq(m.bulk_gbps[m.pick] * 1.5, m.bulk_gbps[SL_AEAD_BACKEND_SODIUM]);
	/*
	 * Quick: the budget is wall time, so on a loaded machine a preempted
	 * measurement starts fewer rounds; what it costs is CPU time. Under
	 * sanitizers the budget is the same but the start-up is slower.
	 */
	cr_assert_lt(cpu_ms, 60, "self-measurement used %.1f ms of CPU", cpu_ms);
	cr_assert_lt(m.elapsed_ms, 1000, "self-measurement took %.1f ms", m.elapsed_ms);
	cr_log_info("auto: %s (sodium %.2f GB/s %.2f M/s, gcrypt %.2f GB/s %.2f M/s, "
		    "ipsec-mb %.2f GB/s %.2f M/s, %.1f ms, %.1f ms CPU)",
		    sl_aead_backend_str(m.pick), m.bulk_gbps[SL_AEAD_BACKEND_SODIUM],
		    m.small_mps[SL_AEAD_BACKEND_SODIUM], m.bulk_gbps[SL_AEAD_BACKEND_GCRYPT],
		    m.small_mps[SL_AEAD_BACKEND_GCRYPT], m.bulk_gbps[SL_AEAD_BACKEND_IPSECMB],
		    m.small_mps[SL_AEAD_BACKEND_IPSECMB], m.elapsed_ms, cpu_ms);
}
