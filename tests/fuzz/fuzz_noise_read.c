// SPDX-License-Identifier: Apache-2.0
/*
 * Arbitrary bytes into the three handshake reads, each at its state:
 *   data[0] % 3 == 0: responder.read_msg1
 *                 1: initiator.read_msg2 (after its msg1)
 *                 2: responder.read_msg3 (after genuine msg1 and msg2)
 * Invariants: no crash, a rejected read leaves the state as it was and the
 * genuine message is still accepted afterwards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/noise.h"

static const uint8_t is[32] = { 1 }, ie[32] = { 2 }, rs_[32] = { 3 }, re_[32] = { 4 };

static struct sl_noise *mk(enum sl_noise_role role)
{
	struct sl_noise_config cfg = {
		.role = role,
		.cipher = SL_AEAD_AESGCM,
		.split = SL_NOISE_SPLIT_OCKAM,
		.name = (const uint8_t *)SL_NOISE_OCKAM_NAME,
		.name_len = 32,
		.static_sk = role == SL_NOISE_INITIATOR ? is : rs_,
		.ephemeral_sk = role == SL_NOISE_INITIATOR ? ie : re_,
	};
	struct sl_noise *hs = sl_noise_new(&cfg);

	if (!hs)
		abort();
	return hs;
}

#define CHECK(x) do { if (!(x)) __builtin_trap(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t msg[SL_NOISE_MAX_MSG + 1];
	uint8_t m1[64], m2[256], m3[256];
	size_t l1, l2, l3, pl_len, len;
	struct sl_noise *ini, *res;
	const uint8_t *pl;
	int stage, ret;

	if (!size || size - 1 > SL_NOISE_MAX_MSG + 1)
		return 0;
	stage = data[0] % 3;
	len = size - 1;
	memcpy(msg, data + 1, len);

	ini = mk(SL_NOISE_INITIATOR);
	res = mk(SL_NOISE_RESPONDER);
	CHECK(!sl_noise_write_msg1(ini, m1, sizeof(m1), &l1, NULL, 0));

	if (stage == 0) {
		ret = sl_noise_read_msg1(res, msg, len, &pl, &pl_len);
		CHECK(ret || (pl_len == len - 32 && sl_noise_state(res) == SL_NOISE_SEND_MSG2));
		if (!ret) {
			/* any 32 bytes are a syntactically valid e; msg2 may still fail (low order) */
			ret = sl_noise_write_msg2(res, m2, sizeof(m2), &l2, NULL, 0);
			CHECK(!ret || sl_noise_state(res) == SL_NOISE_SEND_MSG2);
		} else {
			CHECK(sl_noise_state(res) == SL_NOISE_START);
			CHECK(!sl_noise_read_msg1(res, m1, l1, &pl, &pl_len));
		}
		goto out;
	}

	CHECK(!sl_noise_read_msg1(res, m1, l1, &pl, &pl_len));
	CHECK(!sl_noise_write_msg2(res, m2, sizeof(m2), &l2, NULL, 0));
	if (stage == 1) {
		ret = sl_noise_read_msg2(ini, msg, len, NULL, &pl, &pl_len);
		if (!ret) {
			/* only the genuine message can authenticate */
			CHECK(len == l2 && !memcmp(data + 1, m2, l2));
			goto out;
		}
		CHECK(sl_noise_state(ini) == SL_NOISE_WAIT_MSG2);
		CHECK(!sl_noise_read_msg2(ini, m2, l2, NULL, &pl, &pl_len));
		goto out;
	}

	CHECK(!sl_noise_read_msg2(ini, m2, l2, NULL, &pl, &pl_len));
	CHECK(!sl_noise_write_msg3(ini, m3, sizeof(m3), &l3, NULL, 0));
	ret = sl_noise_read_msg3(res, msg, len, NULL, &pl, &pl_len);
	if (!ret) {
		CHECK(len == l3 && !memcmp(data + 1, m3, l3));
		goto out;
	}
	CHECK(sl_noise_state(res) == SL_NOISE_WAIT_MSG3);
	CHECK(!sl_noise_read_msg3(res, m3, l3, NULL, &pl, &pl_len));
out:
	sl_noise_free(ini);
	sl_noise_free(res);
	return 0;
}
