/*
 * A NETLINK_NETFILTER socket for the nftables driver (l4lb/nft/netlink.ts): the messages are
 * built in JavaScript; this module only opens the socket (optionally inside another network
 * namespace), sends a prepared batch and returns what the kernel answered.
 *
 *   open(nsPath | null[, groups, rcvbuf, filter]) -> fd
 *                                     socket in the namespace at nsPath (e.g. /run/netns/NAME);
 *                                     groups: a bitmask of multicast groups to join (bit n-1 for
 *                                     group n: conntrack destroy events are group 3, so 4);
 *                                     filter: a classic BPF program (the bytes of a struct
 *                                     sock_filter array) attached with SO_ATTACH_FILTER before
 *                                     the socket joins the groups: no message passes unfiltered
 *   batch(fd, buf) -> Buffer          sendmsg one nfnetlink batch; the kernel runs it inside
 *                                     sendmsg, so every ack and error is queued when it returns:
 *                                     they are read without waiting and returned as raw messages
 *   dump(fd, buf, timeoutMs) -> Buffer send a dump request; the raw replies up to NLMSG_DONE
 *   drain(fd) -> [Buffer, overflows]  what is queued (event messages), without waiting; overflows:
 *                                     how many times the kernel said events were dropped (ENOBUFS)
 *   close(fd)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "napi_util.h"

#define SX_MODULE "nfnetlink"
#ifndef NETLINK_NETFILTER
#define NETLINK_NETFILTER 12
#endif

static int get_fd(napi_env env, napi_value v, int *fd) {
  int32_t x;
  if (napi_get_value_int32(env, v, &x) != napi_ok || x < 0) {
    napi_throw_type_error(env, NULL, SX_MODULE ": fd must be a descriptor");
    return -1;
  }
  *fd = x;
  return 0;
}

static napi_value js_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[512] = "";
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) CHECK(napi_get_value_string_utf8(env, argv[0], path, sizeof path, NULL));
  uint32_t groups = 0;
  int32_t rcvbuf = 8 << 20;
  if (argc >= 2) {
    napi_typeof(env, argv[1], &t);
    if (t == napi_number) CHECK(napi_get_value_uint32(env, argv[1], &groups));
  }
  if (argc >= 3) {
    napi_typeof(env, argv[2], &t);
    if (t == napi_number) CHECK(napi_get_value_int32(env, argv[2], &rcvbuf));
  }
  void *filter = NULL;
  size_t filter_len = 0;
  if (argc >= 4) {
    napi_typeof(env, argv[3], &t);
    bool is_buffer = false;
    if (t != napi_undefined && t != napi_null && (napi_is_buffer(env, argv[3], &is_buffer) != napi_ok || !is_buffer ||
                                                  napi_get_buffer_info(env, argv[3], &filter, &filter_len) != napi_ok || filter_len == 0 ||
                                                  filter_len % sizeof(struct sock_filter) || filter_len / sizeof(struct sock_filter) > BPF_MAXINSNS)) {
      napi_throw_type_error(env, NULL, SX_MODULE ": filter must be a Buffer of 1 to 4096 struct sock_filter (8 bytes each)");
      return NULL;
    }
  }

  int here = -1, there = -1;
  if (path[0]) {
    /* setns affects only this thread: switch, create the socket (it stays in that namespace), switch back. */
    here = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (here < 0) return throw_errno(env, "open /proc/thread-self/ns/net", errno);
    there = open(path, O_RDONLY | O_CLOEXEC);
    if (there < 0) {
      int e = errno;
      close(here);
      char what[160];
      snprintf(what, sizeof what, "open %s", path);
      return throw_errno(env, what, e);
    }
    if (setns(there, CLONE_NEWNET) < 0) {
      int e = errno;
      close(here);
      close(there);
      return throw_errno(env, "setns", e);
    }
  }
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
  int err = fd < 0 ? errno : 0;
  if (path[0]) {
    int back = setns(here, CLONE_NEWNET);
    close(here);
    close(there);
    if (back < 0) abort(); /* this thread would stay in the wrong namespace */
  }
  if (fd < 0) return throw_errno(env, "socket(AF_NETLINK, NETLINK_NETFILTER)", err);
  if (filter_len) {
    struct sock_fprog prog = {.len = (unsigned short)(filter_len / sizeof(struct sock_filter)), .filter = filter};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof prog) < 0) {
      int e = errno;
      close(fd);
      return throw_errno(env, "setsockopt(SO_ATTACH_FILTER)", e);
    }
  }
  struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = groups};
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "bind", e);
  }
  int one = 1, big = rcvbuf;
  /* Errors carry only the failed message's header (not the message), plus the offending attribute's offset. */
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) < 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  napi_value out;
  CHECK(napi_create_int32(env, fd, &out));
  return out;
}

static int send_all(int fd, const void *data, size_t len) {
  /* One sendmsg is one batch: the send buffer must hold all of it. */
  int want = (int)(len + 65536);
  int have = 0;
  socklen_t l = sizeof have;
  getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &have, &l);
  if (have < want && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &want, sizeof want) < 0) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
  struct sockaddr_nl to = {.nl_family = AF_NETLINK};
  struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
  struct msghdr mh = {.msg_name = &to, .msg_namelen = sizeof to, .msg_iov = &iov, .msg_iovlen = 1};
  ssize_t n;
  do n = sendmsg(fd, &mh, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) return errno;
  return (size_t)n == len ? 0 : EMSGSIZE;
}

/* A growing byte buffer for the replies. */
struct out {
  char *p;
  size_t len, cap;
};

static int out_append(struct out *o, const char *data, size_t n) {
  if (o->len + n > o->cap) {
    size_t cap = o->cap ? o->cap : 65536;
    while (cap < o->len + n) cap *= 2;
    char *p = realloc(o->p, cap);
    if (!p) return ENOMEM;
    o->p = p;
    o->cap = cap;
  }
  memcpy(o->p + o->len, data, n);
  o->len += n;
  return 0;
}

/*
 * The replies as a Buffer V8 owns and counts (a copy: an external buffer would hold the whole
 * capacity, unseen by the garbage collector, until a collection happens to free it).
 */
static napi_value to_buffer(napi_env env, struct out *o) {
  napi_value buf;
  void *d;
  napi_status st = napi_create_buffer_copy(env, o->len, o->len ? o->p : "", &d, &buf);
  free(o->p);
  o->p = NULL;
  CHECK(st);
  return buf;
}

/* One datagram at a time: nfnetlink's dump datagrams stay well under this. */
#define RECV_CHUNK (128 * 1024)

/*
 * Read replies into `o` (NULL: read and drop them). wait_done: block (up to the socket's
 * receive timeout) until NLMSG_DONE or an error message ends a dump; otherwise read what is
 * queued, without waiting.
 */
static int read_replies(int fd, struct out *o, int wait_done) {
  char *chunk = malloc(RECV_CHUNK);
  if (!chunk) return ENOMEM;
  int ret = 0;
  for (;;) {
    ssize_t n = recv(fd, chunk, RECV_CHUNK, wait_done ? 0 : MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (!wait_done && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      ret = errno;
      break;
    }
    if (n == 0) break;
    if (o && (ret = out_append(o, chunk, (size_t)n))) break;
    if (!wait_done) continue;
    /* Dump: stop after the datagram that holds NLMSG_DONE (or an error). */
    int done = 0;
    int left = (int)n;
    for (struct nlmsghdr *h = (struct nlmsghdr *)chunk; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left))
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) done = 1;
    if (done) break;
  }
  free(chunk);
  return ret;
}

/*
 * The arguments of a call on a socket: `n` of them into argv (missing ones undefined), the first
 * a descriptor into *fd. -1 with a JavaScript exception pending when they are not that.
 */
static int fd_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv, int *fd) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    napi_throw_error(env, NULL, SX_MODULE ": napi_get_cb_info failed");
    return -1;
  }
  return argc < 1 ? (napi_throw_type_error(env, NULL, SX_MODULE ": fd must be a descriptor"), -1) : get_fd(env, argv[0], fd);
}

/* Read replies (wait_done: up to NLMSG_DONE, see read_replies) into a Buffer; throws "<what>: <errno>" on failure. */
static napi_value replies(napi_env env, int fd, int wait_done, const char *what) {
  struct out o = {0};
  int e = read_replies(fd, &o, wait_done);
  if (e) {
    free(o.p);
    return throw_errno(env, e == EAGAIN && wait_done ? "recv (dump timed out)" : what, e);
  }
  return to_buffer(env, &o);
}

/*
 * batch(fd, buf) and dump(fd, buf, timeoutMs): send one request and return the kernel's replies
 * (a batch: what is queued once sendmsg returns; a dump: up to NLMSG_DONE, waiting up to timeoutMs).
 */
static napi_value request(napi_env env, napi_callback_info info, int dump) {
  napi_value argv[3];
  int fd;
  if (fd_args(env, info, dump ? 3 : 2, argv, &fd) < 0) return NULL;
  void *data;
  size_t len;
  int32_t ms = 0;
  if (napi_get_buffer_info(env, argv[1], &data, &len) != napi_ok || (dump && napi_get_value_int32(env, argv[2], &ms) != napi_ok)) {
    napi_throw_type_error(env, NULL, dump ? SX_MODULE ": dump(fd, buffer, timeoutMs)" : SX_MODULE ": batch(fd, buffer)");
    return NULL;
  }
  /* Nothing queued from an earlier call may be taken for this request's answer. */
  read_replies(fd, NULL, 0);
  if (dump) {
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  int e = send_all(fd, data, len);
  if (e) return throw_errno(env, "sendmsg", e);
  return replies(env, fd, dump, "recv");
}

static napi_value js_batch(napi_env env, napi_callback_info info) { return request(env, info, 0); }

static napi_value js_dump(napi_env env, napi_callback_info info) { return request(env, info, 1); }

static napi_value js_drain(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (fd_args(env, info, 1, argv, &fd) < 0) return NULL;
  struct out o = {0};
  uint32_t overflows = 0;
  int e;
  /* ENOBUFS: the kernel dropped events for this socket; what follows is still good, keep reading. */
  while ((e = read_replies(fd, &o, 0)) == ENOBUFS) overflows++;
  if (e) {
    free(o.p);
    return throw_errno(env, "recv", e);
  }
  napi_value arr, n, buf = to_buffer(env, &o);
  if (!buf) return NULL;
  CHECK(napi_create_array_with_length(env, 2, &arr));
  CHECK(napi_create_uint32(env, overflows, &n));
  CHECK(napi_set_element(env, arr, 0, buf));
  CHECK(napi_set_element(env, arr, 1, n));
  return arr;
}

static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (fd_args(env, info, 1, argv, &fd) < 0) return NULL;
  close(fd);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {METHOD("open", js_open), METHOD("batch", js_batch), METHOD("dump", js_dump), METHOD("drain", js_drain),
                                       METHOD("close", js_close)};
  return export_methods(env, exports, props, sizeof props / sizeof props[0]);
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
