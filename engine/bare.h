/* SPDX-License-Identifier: Apache-2.0 */
/*
 * serde-BARE strings and byte vectors: uleb128 length || bytes. Used by the
 * payloads of `message send`, `uppercase`/`echo`, relay registration and portals.
 */
#ifndef SL_BARE_H
#define SL_BARE_H

#include <stddef.h>
#include <stdint.h>

/* Bytes uleb128(n) takes. */
size_t sl_bare_uleb_len(uint64_t n);
/* Write uleb128(len) || p into out. Bytes written, or 0 when cap is too small. */
size_t sl_bare_put_bytes(uint8_t *out, size_t cap, const void *p, size_t len);
/* Write uleb128(n). Bytes written, or 0 when cap is too small. */
size_t sl_bare_put_uleb(uint8_t *out, size_t cap, uint64_t n);
/*
 * Read uleb128 length || bytes from [in, in+len): *p and *n view the bytes.
 * Bytes consumed, or -EBADMSG (truncated, overlong uleb128, length past end).
 */
int sl_bare_get_bytes(const uint8_t *in, size_t len, const uint8_t **p, size_t *n);
/* Read a uleb128 (at most 10 bytes, no overflow). Bytes consumed or -EBADMSG. */
int sl_bare_get_uleb(const uint8_t *in, size_t len, uint64_t *v);

#endif
