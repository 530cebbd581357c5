// SPDX-License-Identifier: Apache-2.0
/*
 * Secure channels on the node-manager side (nm_secure.h). Control plane:
 * every handler runs on the node manager's shard, may allocate, and may read
 * the state store (identities are loaded when first used).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/log.h"
#include "engine/msg.h"
#include "engine/node.h"
#include "engine/secure.h"
#include "engine/vault.h"
#include "engine/worker.h"
#include "tools/common/api_secure.h"
#include "tools/common/identities.h"
#include "tools/daemon/nm_secure.h"
#include "tools/daemon/node_manager.h"

#define LIST_MAX 4096		/* channels shown by one list */

static const char *id_error(int err)
{
	switch (err) {
	case -ENOENT:
		return "no such identity: see `sluice identity list`, or create it with `sluice identity create`";
	case -ENOKEY:
		return "the state store holds no secret key for it, so it cannot be used to authenticate";
	case -EKEYREJECTED:
	case -EBADMSG:
		return "its change history does not verify against its key: the state store is damaged";
	default:
		return "out of memory";
	}
}

int sl_nm_secure_start(struct sl_node *n, const char *node_name)
{
	char name[SL_NODE_NAME_MAX + 2];
	struct sl_node_rec rec;
	struct sl_state *st;
	struct sl_vault *v;
	int ret;

	ret = sl_state_open(NULL, &st);
	if (ret)
		return ret;
	ret = sl_state_node_get(st, node_name, &rec);
	if (ret)
		goto out;
	if (rec.identity[0])
		snprintf(name, sizeof(name), "%s", rec.identity);
	else
		sl_identity_node_default(node_name, name, sizeof(name));
	/* The node's own default identity is made at its first start. */
	v = sl_identity_vault(st, name, !rec.identity[0], &ret);
	if (!v) {
		sl_log(SL_LOG_ERROR, "node=%s event=identity_failed identity=%s err=\"%s\"", node_name,
		       name, id_error(ret));
		goto out;
	}
	ret = sl_secure_node_init(n, v);
	if (ret) {
		sl_vault_free(v);
		sl_log(SL_LOG_ERROR, "node=%s event=secure_init_failed err=\"%s\"", node_name,
		       strerror(-ret));
	}
out:
	sl_state_close(st);
	return ret;
}

void sl_nm_secure_stop(struct sl_node *n)
{
	sl_nm_sc_origins_clear(n);
	sl_secure_node_fini(n);
}

/* The vault for identity `name` ("" = the node's), loading it on first use. */
static struct sl_vault *vault_for(struct sl_node *n, const char *name, int *err)
{
	struct sl_state *st;
	struct sl_vault *v;

	*err = 0;
	if (!name[0])
		return sl_secure_node_vault(n);
	v = sl_secure_node_find_vault(n, name);
	if (v)
		return v;
	*err = sl_state_open(NULL, &st);
	if (*err)
		return NULL;
	v = sl_identity_vault(st, name, false, err);
	sl_state_close(st);
	if (v && sl_secure_node_add_vault(n, v)) {
		/* Added meanwhile under the same name: use that one. */
		sl_vault_free(v);
		v = sl_secure_node_find_vault(n, name);
	}
	return v;
}

static void respond_cbor(struct sl_worker *nm, struct sl_msg *m, struct sl_cbor_writer *w)
{
	size_t len;

	if (sl_cbor_writer_finish(w, &len)) {
		sl_nm_respond(nm, m, SL_API_INTERNAL, "the response does not fit its buffer", NULL, 0);
		return;
	}
	sl_nm_respond(nm, m, SL_API_OK, NULL, w->start, len);
}

static void put_sc_info(struct sl_cbor_writer *w, const void *item)
{
	sl_api_put_sc_info(w, item);
}

static void put_scl_info(struct sl_cbor_writer *w, const void *item)
{
	sl_api_put_scl_info(w, item);
}

/* Answer with a CBOR array of the k items of v (each `size` bytes); frees v. */
static void respond_list(struct sl_worker *nm, struct sl_msg *m, void *v, size_t k, size_t size,
			 void (*put)(struct sl_cbor_writer *w, const void *item))
{
	size_t cap = 16 + k * (size + 64);
	uint8_t *buf = malloc(cap);
	struct sl_cbor_writer w;

	if (!buf) {
		free(v);
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	sl_cbor_writer_init(&w, buf, cap);
	sl_cbor_put_array(&w, k);
	for (size_t i = 0; i < k; i++)
		put(&w, (const uint8_t *)v + i * size);
	respond_cbor(nm, m, &w);
	free(buf);
	free(v);
}

/* secure_channel.create */

struct create_req {
	struct sl_worker *nm;
	struct sl_msg *req;
	bool own_identity;	/* made with the node's identity: an inlet can remake it */
	bool any_peer;		/* no --authorized */
	struct sl_route to;
};

static void create_done(void *arg, int err, const char *addr, const uint8_t *peer)
{
	struct create_req *cr = arg;
	struct sl_cbor_writer w;
	uint8_t buf[128];

	switch (err) {
	case 0:
		if (cr->own_identity)
			sl_nm_sc_origin_add(sl_shard_node(cr->nm->shard), addr, &cr->to, peer,
					    cr->any_peer);
		sl_cbor_writer_init(&w, buf, sizeof(buf));
		sl_cbor_put_array(&w, 2);
		sl_cbor_put_text(&w, addr, strlen(addr));
		sl_cbor_put_bytes(&w, peer, SL_ID_LEN);
		respond_cbor(cr->nm, cr->req, &w);
		break;
	case -ETIMEDOUT:
		sl_nm_respond(cr->nm, cr->req, SL_API_TIMEOUT,
			      "no answer to the handshake (timeout)", NULL, 0);
		break;
	case -EACCES:
		sl_nm_respond(cr->nm, cr->req, SL_API_FORBIDDEN,
			      "the responder's identity is not on the --authorized list", NULL, 0);
		break;
	case -EKEYEXPIRED:
		sl_nm_respond(cr->nm, cr->req, SL_API_FORBIDDEN,
			      "the responder's identity or key attestation is expired or not yet valid "
			      "(are the clocks right?)", NULL, 0);
		break;
	case -EKEYREJECTED:
		sl_nm_respond(cr->nm, cr->req, SL_API_FORBIDDEN,
			      "the responder's identity does not verify", NULL, 0);
		break;
	default:
		sl_nm_respond(cr->nm, cr->req, SL_API_BUSY, "the node is out of memory: try again",
			      NULL, 0);
	}
	free(cr);
}

static void sc_create(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_api_sc_create c;
	struct sl_secure_opts o = { 0 };
	struct create_req *cr;
	char err[SL_API_ERROR_MAX];
	int ret;

	if (!req->body || sl_api_sc_create_decode(req->body, req->body_len, &c) ||
	    sl_route_empty(&c.to)) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST,
			      "secure_channel.create needs [route, identity, [authorized], timeout_ms]",
			      NULL, 0);
		return;
	}
	o.vault = vault_for(sl_shard_node(nm->shard), c.identity, &ret);
	if (!o.vault) {
		snprintf(err, sizeof(err), "identity %s: %s", c.identity, id_error(ret));
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST, err, NULL, 0);
		return;
	}
	o.authorized = (const uint8_t (*)[SL_ID_LEN])c.authorized;
	o.n_authorized = c.n_authorized;
	o.timeout_ms = c.timeout_ms;
	cr = calloc(1, sizeof(*cr));
	if (!cr) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	cr->nm = nm;
	cr->req = m;	/* answered by create_done */
	cr->own_identity = o.vault == sl_secure_node_vault(sl_shard_node(nm->shard));
	cr->any_peer = !c.n_authorized;
	sl_route_copy(&cr->to, &c.to);
	ret = sl_secure_create(nm->shard, &c.to, &o, create_done, cr);
	if (ret) {
		free(cr);
		snprintf(err, sizeof(err), "cannot start the handshake: %s", strerror(-ret));
		sl_nm_respond(nm, m, SL_API_INTERNAL, err, NULL, 0);
	}
}

/* secure_channel.list / show / delete */

static void sc_list(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_node *n = sl_shard_node(nm->shard);
	struct sl_secure_info *v = malloc(LIST_MAX * sizeof(*v));
	size_t k;

	if (!v) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	k = sl_secure_list(n, v, LIST_MAX);
	if (k > LIST_MAX)
		k = LIST_MAX;
	respond_list(nm, m, v, k, sizeof(*v), put_sc_info);
}

static void sc_show(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char addr[SL_ADDR_BODY_MAX + 1], err[SL_API_ERROR_MAX];
	uint8_t buf[sizeof(struct sl_secure_info) + 128];
	struct sl_secure_info i;
	struct sl_cbor_writer w;

	if (!req->body || sl_api_text_decode(req->body, req->body_len, addr, sizeof(addr))) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "secure_channel.show needs the channel address",
			      NULL, 0);
		return;
	}
	if (sl_secure_find(sl_shard_node(nm->shard), addr, &i)) {
		snprintf(err, sizeof(err), "no secure channel at /service/%s: see `sluice secure-channel list`",
			 addr);
		sl_nm_respond(nm, m, SL_API_NOT_FOUND, err, NULL, 0);
		return;
	}
	sl_cbor_writer_init(&w, buf, sizeof(buf));
	sl_api_put_sc_info(&w, &i);
	respond_cbor(nm, m, &w);
}

static void sc_delete(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char addr[SL_ADDR_BODY_MAX + 1], err[SL_API_ERROR_MAX];
	int ret;

	if (!req->body || sl_api_text_decode(req->body, req->body_len, addr, sizeof(addr))) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST, "secure_channel.delete needs the channel address",
			      NULL, 0);
		return;
	}
	ret = sl_secure_close(sl_shard_node(nm->shard), addr);
	if (ret == -ENOENT) {
		snprintf(err, sizeof(err), "no secure channel at /service/%s: see `sluice secure-channel list`",
			 addr);
		sl_nm_respond(nm, m, SL_API_NOT_FOUND, err, NULL, 0);
		return;
	}
	if (ret) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is busy: try again", NULL, 0);
		return;
	}
	sl_nm_respond(nm, m, SL_API_OK, NULL, NULL, 0);
}

/* secure_channel_listener.create / list / delete */

/*
 * Start listener addr presenting identity ("" = the node's), accepting only
 * authorized (none: any verified peer). The create handler and the restore
 * at start both come here. SL_API_OK, or a status with err filled.
 */
static int listener_start(struct sl_node *n, const char *addr, const char *identity,
			  const uint8_t (*authorized)[SL_ID_LEN], unsigned n_authorized,
			  char *err, size_t cap)
{
	struct sl_secure_listener_opts o = { 0 };
	int ret;

	o.vault = vault_for(n, identity, &ret);
	if (!o.vault) {
		snprintf(err, cap, "identity %s: %s", identity, id_error(ret));
		return SL_API_BAD_REQUEST;
	}
	o.authorized = authorized;
	o.n_authorized = n_authorized;
	ret = sl_secure_listener_start(n, addr, &o);
	if (ret == -EEXIST) {
		snprintf(err, cap, "the address %s is taken on this node: pick another name, "
			 "or delete the listener first", addr);
		return SL_API_CONFLICT;
	}
	if (ret) {
		snprintf(err, cap, "cannot start the listener: %s", strerror(-ret));
		return SL_API_INTERNAL;
	}
	return SL_API_OK;
}

static void scl_create(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char err[SL_API_ERROR_MAX];
	struct sl_api_scl_create c;
	int status;

	if (!req->body || sl_api_scl_create_decode(req->body, req->body_len, &c) || !c.addr[0]) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST,
			      "secure_channel_listener.create needs [address, identity, [authorized]]",
			      NULL, 0);
		return;
	}
	status = listener_start(sl_shard_node(nm->shard), c.addr, c.identity,
				(const uint8_t (*)[SL_ID_LEN])c.authorized, c.n_authorized,
				err, sizeof(err));
	sl_nm_respond(nm, m, status, status == SL_API_OK ? NULL : err, NULL, 0);
}

int sl_nm_authorized_parse(const char *text, uint8_t ids[][SL_ID_LEN], char *err, size_t cap)
{
	char word[SL_ID_TEXT_LEN + 2];
	int k = 0;

	while (*text) {
		size_t len = strcspn(text, " ");

		if (len) {
			if (len >= sizeof(word) || k == SL_SECURE_MAX_AUTHORIZED) {
				snprintf(err, cap, "the saved --authorized list is malformed or too long");
				return -EINVAL;
			}
			memcpy(word, text, len);
			word[len] = '\0';
			if (sl_identity_id_parse(word, ids[k])) {
				snprintf(err, cap, "the saved --authorized entry '%s' is not an identifier",
					 word);
				return -EINVAL;
			}
			k++;
		}
		text += len;
		text += *text == ' ';
	}
	return k;
}

void sl_nm_secure_restore(struct sl_node *n, struct sl_state *st, const char *name)
{
	uint8_t ids[SL_SECURE_MAX_AUTHORIZED][SL_ID_LEN];
	struct sl_listener_rec *v = NULL;
	char err[SL_API_ERROR_MAX];
	size_t count = 0;
	int k;

	if (sl_state_listener_list(st, name, SL_LISTENER_KIND_SECURE, &v, &count)) {
		sl_log(SL_LOG_WARN, "node=%s event=listeners_not_restored: the state store could not "
		       "be read", name);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		k = sl_nm_authorized_parse(v[i].authorized, ids, err, sizeof(err));
		if (k >= 0 && listener_start(n, v[i].address, v[i].identity,
					     (const uint8_t (*)[SL_ID_LEN])ids, (unsigned)k,
					     err, sizeof(err)) == SL_API_OK) {
			sl_log(SL_LOG_INFO, "node=%s event=secure_listener_restored address=%s "
			       "identity=%s authorized=%d", name, v[i].address,
			       v[i].identity[0] ? v[i].identity : "(node)", k);
			continue;
		}
		sl_log(SL_LOG_WARN, "node=%s event=secure_listener_not_restored address=%s err=\"%s\"",
		       name, v[i].address, err);
	}
	free(v);
}

static void scl_list(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	struct sl_secure_listener_info *v = malloc(64 * sizeof(*v));
	size_t k;

	if (!v) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	k = sl_secure_listener_list(sl_shard_node(nm->shard), v, 64);
	if (k > 64)
		k = 64;
	respond_list(nm, m, v, k, sizeof(*v), put_scl_info);
}

/*
 * secure_channel_listener.delete is answered once the address has left every
 * shard, so a create that follows it (a config reload, a script) finds it free.
 */
struct scl_delete_req {
	struct sl_worker *nm;
	struct sl_msg *m;
};

static void scl_deleted(struct sl_shard *s, void *arg)
{
	struct scl_delete_req *d = arg;

	(void)s;
	sl_nm_respond(d->nm, d->m, SL_API_OK, NULL, NULL, 0);
	free(d);
}

/* On the last shard to stop its worker: answer from the node manager's own shard. */
static void scl_gone(void *arg)
{
	struct scl_delete_req *d = arg;
	struct sl_shard *s = d->nm->shard;

	if (sl_shard_call(sl_shard_node(s), sl_shard_id(s), scl_deleted, d)) {
		/* Its control queue is full (or the node stops): the CLI times out, the delete holds. */
		sl_log(SL_LOG_WARN, "event=api_answer_lost method=secure_channel_listener.delete");
		sl_msg_free(d->m);
		free(d);
	}
}

static void scl_delete(struct sl_worker *nm, struct sl_msg *m, const struct sl_api_request *req)
{
	char addr[SL_ADDR_BODY_MAX + 1], err[SL_API_ERROR_MAX];
	struct scl_delete_req *d;

	if (!req->body || sl_api_text_decode(req->body, req->body_len, addr, sizeof(addr))) {
		sl_nm_respond(nm, m, SL_API_BAD_REQUEST,
			      "secure_channel_listener.delete needs the listener address", NULL, 0);
		return;
	}
	d = malloc(sizeof(*d));
	if (!d) {
		sl_nm_respond(nm, m, SL_API_BUSY, "the node is out of memory", NULL, 0);
		return;
	}
	d->nm = nm;
	d->m = m;
	if (sl_secure_listener_stop(sl_shard_node(nm->shard), addr, scl_gone, d)) {
		free(d);
		snprintf(err, sizeof(err), "no secure channel listener %s: see "
			 "`sluice secure-channel-listener list`", addr);
		sl_nm_respond(nm, m, SL_API_NOT_FOUND, err, NULL, 0);
	}
}

const struct sl_nm_method sl_nm_secure_methods[] = {
	{ "secure_channel.create", sc_create },
	{ "secure_channel.list", sc_list },
	{ "secure_channel.show", sc_show },
	{ "secure_channel.delete", sc_delete },
	{ "secure_channel_listener.create", scl_create },
	{ "secure_channel_listener.list", scl_list },
	{ "secure_channel_listener.delete", scl_delete },
	{ NULL, NULL },
};
