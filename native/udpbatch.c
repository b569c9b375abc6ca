/*
 * Batched UDP for Node: one recvmmsg(2) fills many datagrams into a buffer JavaScript owns, one
 * JavaScript call handles them all, one sendmmsg(2) sends the answers. Node's dgram pays a
 * callback, an address object and a buffer per datagram; this pays them per batch.
 *
 * Layout shared with JavaScript (both directions): message i lives at data[i * slot, len) and
 * meta[i * META, ...): u32 length, u32 address length, then the raw sockaddr (up to 28 bytes).
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#define SX_MODULE "udpbatch"
#include "napi_util.h"
#include <uv.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define META 40
#define MAX_BATCH 256

typedef struct {
  int fd;
  int closing;     /* close() was called: no more callbacks or sends */
  int poll_closed; /* libuv let go of the poll handle */
  int finalized;   /* JavaScript let go of the handle: the struct is freed once both are true */
  napi_env env;
  uv_poll_t poll;
  napi_ref self;     /* the JS object: rx buffers and the callback hang off it */
  napi_ref cb;
  napi_async_context actx;
  uint8_t *rx;
  uint8_t *rxmeta;
  uint32_t slot;
  uint32_t batch;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
} sock_t;

static void on_readable(uv_poll_t *p, int status, int events) {
  sock_t *s = p->data;
  if (s->closing) return;
  napi_env env = s->env;
  /* Drain up to a bounded number of batches per wake so timers and other sockets still run. */
  for (int round = 0; round < 4 && !s->closing; round++) {
    for (uint32_t i = 0; i < s->batch; i++) {
      s->iov[i].iov_base = s->rx + (size_t)i * s->slot;
      s->iov[i].iov_len = s->slot;
      memset(&s->msgs[i].msg_hdr, 0, sizeof(struct msghdr));
      s->msgs[i].msg_hdr.msg_iov = &s->iov[i];
      s->msgs[i].msg_hdr.msg_iovlen = 1;
      s->msgs[i].msg_hdr.msg_name = s->rxmeta + (size_t)i * META + 8;
      s->msgs[i].msg_hdr.msg_namelen = sizeof(struct sockaddr_in6);
    }
    int n = recvmmsg(s->fd, s->msgs, s->batch, MSG_DONTWAIT, NULL);
    if (n <= 0) return; /* EAGAIN, or an error the next wake will see again: nothing to hand over */
    for (int i = 0; i < n; i++) {
      uint32_t *m = (uint32_t *)(s->rxmeta + (size_t)i * META);
      /* A datagram longer than the slot arrives cut: report length 0 so the caller drops it. */
      m[0] = (s->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) ? 0 : s->msgs[i].msg_len;
      m[1] = s->msgs[i].msg_hdr.msg_namelen;
    }
    napi_handle_scope scope;
    napi_open_handle_scope(env, &scope);
    napi_value self, cb, argv[1], ret;
    napi_get_reference_value(env, s->self, &self);
    napi_get_reference_value(env, s->cb, &cb);
    napi_create_uint32(env, (uint32_t)n, &argv[0]);
    napi_status st = napi_make_callback(env, s->actx, self, cb, 1, argv, &ret);
    if (st == napi_pending_exception) {
      napi_value exc;
      napi_get_and_clear_last_exception(env, &exc);
      napi_fatal_exception(env, exc);
    }
    napi_close_handle_scope(env, scope);
    if ((uint32_t)n < s->batch) return;
  }
}

/* A new non-blocking UDP socket bound to addr:port; -1 with a JS exception pending on failure. */
static int bind_new(napi_env env, int32_t family, const void *addr, int32_t port) {
  int fd = socket(family == 6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    throw_errno(env, "socket", errno);
    return -1;
  }
  int one = 1; /* no SO_REUSEADDR: like dgram, a port in use is an error, not a silent second owner */
  int r;
  if (family == 6) {
    struct sockaddr_in6 sa = {0};
    sa.sin6_family = AF_INET6;
    sa.sin6_port = htons((uint16_t)port);
    memcpy(&sa.sin6_addr, addr, 16);
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  } else {
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    memcpy(&sa.sin_addr, addr, 4);
    r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
  }
  if (r < 0) {
    int e = errno;
    close(fd);
    throw_errno(env, "bind", e);
    return -1;
  }
  return fd;
}

static void on_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  s->poll_closed = 1;
  if (s->finalized) free(s);
}

static void on_finalize(napi_env env, void *data, void *hint) {
  sock_t *s = data;
  s->finalized = 1;
  if (s->poll_closed) free(s);
}

/* Stop callbacks and sends, release the JS references and close the descriptor; idempotent. */
static void close_sock(napi_env env, sock_t *s) {
  if (s->closing) return;
  s->closing = 1;
  napi_delete_reference(env, s->cb);
  napi_delete_reference(env, s->self);
  napi_async_destroy(env, s->actx);
  /* uv_poll_stop takes the descriptor out of epoll at once, so it can be closed now: the port is
     free when close() returns, as with dgram. */
  uv_poll_stop(&s->poll);
  close(s->fd);
  s->fd = -1;
  uv_close((uv_handle_t *)&s->poll, on_closed);
}

/*
 * open(family 4|6, address bytes (Buffer 4|16), port, slot, batch, rxData, rxMeta, callback, self, fd)
 * -> handle. fd >= 0 adopts that socket (inherited from a parent process) instead of binding a new one.
 */
static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 10;
  napi_value argv[10];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t family, port;
  uint32_t slot, batch;
  CHECK(napi_get_value_int32(env, argv[0], &family));
  void *addr;
  size_t addrlen;
  CHECK(napi_get_buffer_info(env, argv[1], &addr, &addrlen));
  CHECK(napi_get_value_int32(env, argv[2], &port));
  CHECK(napi_get_value_uint32(env, argv[3], &slot));
  CHECK(napi_get_value_uint32(env, argv[4], &batch));
  void *rx, *rxmeta;
  size_t rxlen, rxmetalen;
  CHECK(napi_get_buffer_info(env, argv[5], &rx, &rxlen));
  CHECK(napi_get_buffer_info(env, argv[6], &rxmeta, &rxmetalen));
  if (batch == 0 || batch > MAX_BATCH || rxlen < (size_t)slot * batch || rxmetalen < (size_t)META * batch) {
    napi_throw_range_error(env, NULL, "udpbatch: buffers too small for slot x batch");
    return NULL;
  }
  if (addrlen != (family == 6 ? 16u : 4u)) {
    napi_throw_range_error(env, NULL, "udpbatch: address length does not match the family");
    return NULL;
  }
  int32_t adopt = -1;
  CHECK(napi_get_value_int32(env, argv[9], &adopt));
  int fd = adopt >= 0 ? adopt : bind_new(env, family, addr, port);
  if (fd < 0) return NULL;
  if (adopt >= 0) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return throw_errno(env, "adopt", errno);
  }
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  sock_t *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return throw_errno(env, "calloc", ENOMEM);
  }
  int uv = uv_poll_init(loop, &s->poll, fd);
  if (uv != 0) {
    close(fd);
    free(s);
    napi_throw_error(env, NULL, uv_strerror(uv));
    return NULL;
  }
  s->poll.data = s;
  s->fd = fd;
  s->env = env;
  s->rx = rx;
  s->rxmeta = rxmeta;
  s->slot = slot;
  s->batch = batch;
  CHECK(napi_create_reference(env, argv[8], 1, &s->self));
  CHECK(napi_create_reference(env, argv[7], 1, &s->cb));
  napi_value name;
  napi_create_string_utf8(env, "UDPBATCH", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_async_init(env, argv[8], name, &s->actx));
  napi_value ext;
  CHECK(napi_create_external(env, s, on_finalize, NULL, &ext));
  uv = uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (uv != 0) {
    close_sock(env, s);
    napi_throw_error(env, NULL, uv_strerror(uv));
    return NULL;
  }
  return ext;
}

/* Reads `want` arguments into argv; returns the socket handle passed first, or NULL with an exception pending. */
static sock_t *sock_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  sock_t *s = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want ||
      napi_get_value_external(env, argv[0], (void **)&s) != napi_ok) {
    napi_throw_type_error(env, NULL, "udpbatch: expected a socket handle and its arguments");
    return NULL;
  }
  return s;
}

/*
 * send(handle, data, meta, slot, n) -> how many the kernel took. A message the kernel refuses
 * (a full socket buffer, an unreachable destination) is skipped, as a lost datagram would be.
 */
static napi_value js_send(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  sock_t *s = sock_args(env, info, 5, argv);
  if (!s) return NULL;
  uint8_t *data, *meta;
  size_t dlen, mlen;
  uint32_t slot, n;
  CHECK(napi_get_buffer_info(env, argv[1], (void **)&data, &dlen));
  CHECK(napi_get_buffer_info(env, argv[2], (void **)&meta, &mlen));
  CHECK(napi_get_value_uint32(env, argv[3], &slot));
  CHECK(napi_get_value_uint32(env, argv[4], &n));
  if (n > MAX_BATCH || (size_t)n * slot > dlen || (size_t)n * META > mlen) {
    napi_throw_range_error(env, NULL, "udpbatch: send beyond the buffers");
    return NULL;
  }
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  for (uint32_t i = 0; i < n; i++) {
    uint32_t *m = (uint32_t *)(meta + (size_t)i * META);
    iov[i].iov_base = data + (size_t)i * slot;
    iov[i].iov_len = m[0] > slot ? slot : m[0];
    memset(&msgs[i].msg_hdr, 0, sizeof(struct msghdr));
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
    msgs[i].msg_hdr.msg_name = meta + (size_t)i * META + 8;
    msgs[i].msg_hdr.msg_namelen = m[1];
  }
  uint32_t done = 0, ok = 0;
  while (done < n && !s->closing) {
    int r = sendmmsg(s->fd, msgs + done, n - done, MSG_DONTWAIT);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      done++; /* this message is lost; the rest still go */
      continue;
    }
    done += (uint32_t)r;
    ok += (uint32_t)r;
  }
  napi_value out;
  napi_create_uint32(env, ok, &out);
  return out;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sock_t *s = sock_args(env, info, 1, argv);
  if (!s) return NULL;
  close_sock(env, s);
  return NULL;
}

/* The socket's descriptor (a parent hands it to worker processes). */
static napi_value js_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sock_t *s = sock_args(env, info, 1, argv);
  if (!s) return NULL;
  napi_value out;
  napi_create_int32(env, s->fd, &out);
  return out;
}

/* The socket's local port (bound to port 0 in tests). */
static napi_value js_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  sock_t *s = sock_args(env, info, 1, argv);
  if (!s) return NULL;
  if (s->closing) {
    napi_throw_error(env, NULL, "udpbatch: socket is closed");
    return NULL;
  }
  return bound_port(env, s->fd);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      METHOD("open", js_open),
      METHOD("send", js_send),
      METHOD("close", js_close),
      METHOD("port", js_port),
      METHOD("fd", js_fd),
  };
  return export_methods(env, exports, props, sizeof props / sizeof props[0]);
}
