/*
 * TCP relay for the userspace L4LB proxy (l4lb/userspace/native-relay.ts). JavaScript keeps every
 * decision: which backend a client goes to, retries after a refused connect, connect timeouts,
 * drain. This file moves the bytes: it accepts, connects and relays with plain recv/send on
 * non-blocking sockets, all in one epoll set of its own that libuv watches as a single descriptor.
 * Node's net.Socket costs two stream objects, their handles and several callbacks per connection;
 * here a connection is one struct and three JavaScript calls (accepted, connected, closed).
 *
 * Rules that keep it correct:
 *  - A client is not read before its backend accepted (like net's pauseOnConnect): a refused
 *    connect loses nothing and the next backend gets the client's first bytes.
 *  - One direction reads only while nothing it read is still waiting to be written; bytes the
 *    kernel did not take wait in that direction's own buffer, and the writable side is watched
 *    until they are gone (back-pressure).
 *  - A FIN read from one side is passed on as shutdown(SHUT_WR) once that direction is flushed
 *    (half-close); the connection ends when both directions have, or at the first error.
 *  - A descriptor with nothing to wait for is out of the epoll set (no wake-ups for an EPOLLHUP
 *    that cannot be masked).
 *  - Structs freed while an epoll batch is being handled could still be named by a later event of
 *    the same batch: they are freed after the batch.
 */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <node_api.h>
#define SX_MODULE "tcprelay"
#include "napi_util.h"
#include <uv.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tcprelay.h"

#define ACCEPTS_PER_WAKE 64
#define MAX_THREADS 16

/* Events for JavaScript: cb(kind, server, conn, errno, peer). */
enum { EV_ACCEPT = 1, EV_CONNECTED = 2, EV_CONNECT_FAILED = 3, EV_CLOSED = 4, EV_ACCEPT_ERROR = 5 };

typedef struct listener {
  item_t it;
  uint32_t srv;
  int closed; /* 1: closed, still named by the current batch; 2: off every list */
  int finalized;
  int paused; /* out of descriptors: not accepting until a connection closes */
  struct listener *next; /* all listeners, or the free-after-batch list once closed */
} listener_t;

typedef struct {
  napi_env env;
  int epfd;
  uv_poll_t poll;
  uv_async_t async; /* relay threads handed finished connections back */
  int refed;
  napi_ref cb, self;
  napi_async_context actx;
  conn_t **conns;
  uint32_t cap, live;
  uint32_t *free_ids;
  uint32_t nfree;
  conn_t *dead;
  listener_t *listeners, *dead_listeners;
  uint32_t nlisteners;
  uint32_t npaused;
  int in_batch;
  uint32_t round; /* counts epoll_wait rounds that returned events */
  napi_ref exc; /* the first exception a handler threw during a batch */
  char *buf;
  worker_t workers[MAX_THREADS];
  int nworkers;
  uint32_t rr;
  relay_shared_t shared;
} relay_t;

static relay_t *R(napi_env env) {
  void *d = NULL;
  napi_get_instance_data(env, &d);
  return d;
}

/* The uv handle keeps the process alive only while something is listening or relaying. */
static void refresh_ref(relay_t *r) {
  int want = r->live > 0 || r->nlisteners > 0;
  if (want == r->refed) return;
  r->refed = want;
  if (want) uv_ref((uv_handle_t *)&r->poll);
  else uv_unref((uv_handle_t *)&r->poll);
  if (r->nworkers && want) uv_ref((uv_handle_t *)&r->async);
  else if (r->nworkers) uv_unref((uv_handle_t *)&r->async);
}

/* --- JavaScript events --- */

/* `bytes`: with EV_CLOSED, the bytes relayed both ways (0 otherwise). */
static void emit(relay_t *r, int kind, uint32_t srv, uint32_t id, int err, const struct sockaddr_storage *peer, double bytes) {
  napi_env env = r->env;
  napi_handle_scope hs;
  napi_open_handle_scope(env, &hs);
  napi_value argv[6], cb, self, ret;
  napi_create_int32(env, kind, &argv[0]);
  napi_create_uint32(env, srv, &argv[1]);
  napi_create_uint32(env, id, &argv[2]);
  napi_create_int32(env, err, &argv[3]);
  napi_get_undefined(env, &argv[4]);
  napi_create_double(env, bytes, &argv[5]);
  if (peer) {
    char s[INET6_ADDRSTRLEN] = "";
    if (peer->ss_family == AF_INET) inet_ntop(AF_INET, &((struct sockaddr_in *)peer)->sin_addr, s, sizeof s);
    else if (peer->ss_family == AF_INET6) inet_ntop(AF_INET6, &((struct sockaddr_in6 *)peer)->sin6_addr, s, sizeof s);
    napi_create_string_latin1(env, s, NAPI_AUTO_LENGTH, &argv[4]);
  }
  napi_get_reference_value(env, r->cb, &cb);
  napi_get_reference_value(env, r->self, &self);
  if (napi_call_function(env, self, cb, 6, argv, &ret) == napi_pending_exception) {
    /* Raised as uncaught once the batch is over (handlers are meant to catch their own errors). */
    napi_value exc;
    napi_get_and_clear_last_exception(env, &exc);
    if (!r->exc) napi_create_reference(env, exc, 1, &r->exc);
  }
  napi_close_handle_scope(env, hs);
}

/* --- connections --- */

static conn_t *conn_get(relay_t *r, uint32_t id) {
  if (id >= r->cap || !r->conns[id] || r->conns[id]->state == S_DEAD) return NULL;
  return r->conns[id];
}

static void conn_free(relay_t *r, conn_t *c) {
  r->conns[c->id] = NULL;
  r->free_ids[r->nfree++] = c->id;
  free(c->d[0].buf);
  free(c->d[1].buf);
  free(c);
}

/* A connection closed: a descriptor is free again for listeners that ran out. */
static void resume_listeners(relay_t *r) {
  if (!r->npaused) return;
  for (listener_t *l = r->listeners; l; l = l->next)
    if (l->paused) {
      l->paused = 0;
      io_set_mask(r->epfd, &l->it, EPOLLIN);
    }
  r->npaused = 0;
}

/* Close both sockets; `notify`: tell JavaScript (it did not ask for this itself). */
static void conn_kill(relay_t *r, conn_t *c, int notify) {
  if (c->state == S_DEAD) return;
  if (c->w) {
    /* A relay thread has it: hang up both sockets; the thread sees it, finishes and hands it back. */
    if (!c->dropped) {
      c->dropped = 1;
      shutdown(c->c.fd, SHUT_RDWR);
      shutdown(c->u.fd, SHUT_RDWR);
    }
    return;
  }
  c->state = S_DEAD;
  uint32_t srv = c->srv, id = c->id; /* the struct may be freed below */
  double bytes = (double)(c->d[0].bytes + c->d[1].bytes);
  if (c->c.fd >= 0) close(c->c.fd);
  if (c->u.fd >= 0) close(c->u.fd);
  c->c.fd = c->u.fd = -1;
  r->live--;
  if (r->in_batch) {
    c->next = r->dead;
    r->dead = c;
  } else {
    conn_free(r, c);
  }
  resume_listeners(r);
  refresh_ref(r);
  if (notify) emit(r, EV_CLOSED, srv, id, 0, NULL, bytes);
}

static conn_t *conn_new(relay_t *r, uint32_t srv, int fd) {
  if (r->nfree == 0) {
    uint32_t cap = r->cap ? r->cap * 2 : 1024;
    conn_t **conns = realloc(r->conns, cap * sizeof *conns);
    if (!conns) return NULL;
    r->conns = conns;
    uint32_t *ids = realloc(r->free_ids, cap * sizeof *ids);
    if (!ids) return NULL;
    r->free_ids = ids;
    for (uint32_t i = cap; i > r->cap; i--) {
      conns[i - 1] = NULL;
      ids[r->nfree++] = i - 1;
    }
    r->cap = cap;
  }
  conn_t *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->id = r->free_ids[--r->nfree];
  c->srv = srv;
  c->state = S_ACCEPTED;
  c->c = (item_t){.kind = K_CLIENT, .fd = fd, .owner = c};
  c->u = (item_t){.kind = K_UP, .fd = -1, .owner = c};
  r->conns[c->id] = c;
  r->live++;
  refresh_ref(r);
  return c;
}

/* Close the backend socket of a connect that failed or was given up: the client can be dialed again. */
static void upstream_reset(conn_t *c) {
  close(c->u.fd);
  c->u.fd = -1;
  c->u.mask = 0;
  c->state = S_ACCEPTED;
}

static void on_connect_done(relay_t *r, conn_t *c, uint32_t ev) {
  int err = 0;
  socklen_t len = sizeof err;
  /* Writable and no error or hang-up: connected (no need to ask SO_ERROR). */
  if ((ev & (EPOLLERR | EPOLLHUP)) && getsockopt(c->u.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0 && !(ev & (EPOLLERR | EPOLLHUP))) {
    c->state = S_RELAY;
    if (r->nworkers) {
      io_set_mask(r->epfd, &c->u, 0);
      worker_give(&r->workers[r->rr++ % (uint32_t)r->nworkers], c);
    } else {
      io_update(r->epfd, c);
    }
    emit(r, EV_CONNECTED, c->srv, c->id, 0, NULL, 0);
    return;
  }
  if (err == 0) err = ECONNREFUSED;
  upstream_reset(c);
  emit(r, EV_CONNECT_FAILED, c->srv, c->id, err, NULL, 0);
  /* JavaScript dials the next backend or drops the client; if it did neither, drop it. */
  if (c->state == S_ACCEPTED) conn_kill(r, c, 1);
}

static void on_accept(relay_t *r, listener_t *l) {
  for (int i = 0; i < ACCEPTS_PER_WAKE && !l->closed; i++) {
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    int fd = accept4(l->it.fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int e = errno;
      if (e == EAGAIN || e == EWOULDBLOCK) return;
      if (e == EINTR || e == ECONNABORTED) continue;
      if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
        l->paused = 1; /* the listening socket stays readable: wait for a connection to close */
        r->npaused++;
        io_set_mask(r->epfd, &l->it, 0);
      }
      emit(r, EV_ACCEPT_ERROR, l->srv, 0, e, NULL, 0);
      return;
    }
    conn_t *c = conn_new(r, l->srv, fd); /* TCP_NODELAY comes from the listening socket */
    if (!c) {
      close(fd);
      emit(r, EV_ACCEPT_ERROR, l->srv, 0, ENOMEM, NULL, 0);
      return;
    }
    emit(r, EV_ACCEPT, l->srv, c->id, 0, &peer, 0);
    if (c->state == S_ACCEPTED) conn_kill(r, c, 1); /* neither dialed nor dropped */
  }
}

static void listener_free_if_done(listener_t *l) {
  if (l->closed && l->finalized) free(l);
}

static void end_batch(relay_t *r) {
  r->in_batch = 0;
  while (r->dead) {
    conn_t *c = r->dead;
    r->dead = c->next;
    conn_free(r, c);
  }
  while (r->dead_listeners) {
    listener_t *l = r->dead_listeners;
    r->dead_listeners = l->next;
    l->closed = 2; /* off every list */
    listener_free_if_done(l);
  }
}

/* JavaScript may be called between js_begin and js_end: one callback scope (next ticks and
   microtasks run at its end), and a handler's exception is raised as uncaught at the end. */
typedef struct {
  napi_handle_scope hs;
  napi_callback_scope cs;
} js_scope_t;

static void js_begin(relay_t *r, js_scope_t *s) {
  napi_value self;
  napi_open_handle_scope(r->env, &s->hs);
  napi_get_reference_value(r->env, r->self, &self);
  napi_open_callback_scope(r->env, self, r->actx, &s->cs);
}

static void js_end(relay_t *r, js_scope_t *s) {
  napi_env env = r->env;
  napi_close_callback_scope(env, s->cs);
  if (r->exc) {
    napi_value exc;
    napi_get_reference_value(env, r->exc, &exc);
    napi_delete_reference(env, r->exc);
    r->exc = NULL;
    napi_fatal_exception(env, exc);
  }
  napi_close_handle_scope(env, s->hs);
}

static void on_poll(uv_poll_t *p, int status, int events) {
  relay_t *r = p->data;
  struct epoll_event evs[MAX_EVENTS];
  js_scope_t js;
  js_begin(r, &js);
  for (int pass = 0; pass < 4; pass++) {
    int n = epoll_wait(r->epfd, evs, MAX_EVENTS, 0);
    if (n <= 0) break;
    r->in_batch = 1;
    r->round++;
    for (int i = 0; i < n; i++) {
      item_t *it = evs[i].data.ptr;
      uint32_t ev = evs[i].events;
      if (it->kind == K_LISTEN) {
        listener_t *l = it->owner;
        if (!l->closed) on_accept(r, l);
        continue;
      }
      conn_t *c = it->owner;
      /* A backend socket dialed during this round reuses its item: events fetched before were for the old one. */
      if (c->state == S_DEAD || it->fd < 0 || (it->kind == K_UP && it->round == r->round)) continue;
      if (it->kind == K_UP && c->state == S_CONNECTING) on_connect_done(r, c, ev);
      else if (c->state == S_RELAY && !c->w && io_event(r->epfd, r->buf, c, it, ev)) conn_kill(r, c, 1);
    }
    end_batch(r);
    if (n < MAX_EVENTS) break;
  }
  workers_flush(r->workers, r->nworkers);
  js_end(r, &js);
}

/* Relay threads handed finished connections back: close, tell JavaScript (unless it dropped them), free. */
static void on_done(uv_async_t *a) {
  relay_t *r = a->data;
  pthread_mutex_lock(&r->shared.mu);
  conn_t *c = r->shared.done;
  r->shared.done = NULL;
  pthread_mutex_unlock(&r->shared.mu);
  if (!c) return;
  js_scope_t js;
  js_begin(r, &js);
  while (c) {
    conn_t *next = c->next;
    c->w = NULL; /* back with the event loop: conn_kill closes and frees it */
    conn_kill(r, c, !c->dropped);
    c = next;
  }
  js_end(r, &js);
}

/* --- JavaScript API --- */

static relay_t *args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  relay_t *r = R(env);
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "tcprelay: missing arguments");
    return NULL;
  }
  if (!r || r->epfd < 0) {
    napi_throw_error(env, NULL, "tcprelay: init() first");
    return NULL;
  }
  return r;
}

/* An IP literal and port as a sockaddr; 0 when `ip` is not an IP literal. */
static socklen_t parse_addr(napi_env env, napi_value ipv, uint32_t port, struct sockaddr_storage *ss) {
  char ip[64];
  size_t len = 0;
  if (napi_get_value_string_latin1(env, ipv, ip, sizeof ip, &len) != napi_ok) return 0;
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    return sizeof *a4;
  }
  if (inet_pton(AF_INET6, ip, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    return sizeof *a6;
  }
  return 0;
}

static void relay_cleanup(void *arg) {
  relay_t *r = arg;
  if (r->epfd < 0) return;
  workers_stop(r->workers, r->nworkers);
  uv_poll_stop(&r->poll);
  close(r->epfd);
  r->epfd = -1;
}

static void instance_free(napi_env env, void *data, void *hint) {
  relay_t *r = data;
  relay_cleanup(r);
}

/*
 * init(callback, self, threads): once per process (thread); events go to callback.call(self, ...).
 * threads: relay threads (0: bytes move on the event loop too).
 */
static napi_value js_init(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  uint32_t threads = 0;
  CHECK(napi_get_value_uint32(env, argv[2], &threads));
  if (threads > MAX_THREADS) {
    napi_throw_range_error(env, NULL, "tcprelay: at most 16 relay threads");
    return NULL;
  }
  if (R(env)) {
    napi_throw_error(env, NULL, "tcprelay: init() called twice");
    return NULL;
  }
  relay_t *r = calloc(1, sizeof *r);
  if (!r || !(r->buf = malloc(BUF_SIZE))) return throw_errno(env, "tcprelay", ENOMEM);
  r->env = env;
  r->epfd = epoll_create1(EPOLL_CLOEXEC);
  if (r->epfd < 0) return throw_errno(env, "epoll_create1", errno);
  uv_loop_t *loop;
  CHECK(napi_get_uv_event_loop(env, &loop));
  int uv = uv_poll_init(loop, &r->poll, r->epfd);
  if (uv == 0) uv = uv_poll_start(&r->poll, UV_READABLE, on_poll);
  if (uv != 0) {
    close(r->epfd);
    napi_throw_error(env, NULL, uv_strerror(uv));
    return NULL;
  }
  r->poll.data = r;
  uv_unref((uv_handle_t *)&r->poll);
  if (threads) {
    pthread_mutex_init(&r->shared.mu, NULL);
    r->shared.async = &r->async;
    r->async.data = r;
    int err = uv_async_init(loop, &r->async, on_done);
    if (err) {
      napi_throw_error(env, NULL, uv_strerror(err));
      return NULL;
    }
    uv_unref((uv_handle_t *)&r->async);
    err = workers_start(r->workers, (int)threads, &r->shared);
    if (err) return throw_errno(env, "tcprelay: relay threads", err);
    r->nworkers = (int)threads;
  }
  CHECK(napi_create_reference(env, argv[0], 1, &r->cb));
  CHECK(napi_create_reference(env, argv[1], 1, &r->self));
  napi_value name;
  napi_create_string_utf8(env, "TCPRELAY", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_async_init(env, argv[1], name, &r->actx));
  CHECK(napi_set_instance_data(env, r, instance_free, NULL));
  return NULL;
}

static void listener_finalize(napi_env env, void *data, void *hint) {
  listener_t *l = data;
  l->finalized = 1;
  if (l->closed == 2) free(l);
}

/* listen(server id, ip, port) -> handle; throws with errno (EADDRINUSE, EADDRNOTAVAIL, ...). */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  relay_t *r = args(env, info, 3, argv);
  if (!r) return NULL;
  uint32_t srv, port;
  CHECK(napi_get_value_uint32(env, argv[0], &srv));
  CHECK(napi_get_value_uint32(env, argv[2], &port));
  struct sockaddr_storage ss;
  socklen_t sl = parse_addr(env, argv[1], port, &ss);
  if (!sl || port > 65535) {
    napi_throw_type_error(env, NULL, "tcprelay: listen needs an IP literal and a port");
    return NULL;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  int one = 1; /* as Node's net: a port in TIME_WAIT can be listened on again; two listeners cannot */
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* accepted sockets inherit it */
  if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 511) < 0) {
    int e = errno;
    close(fd);
    return throw_errno(env, "listen", e);
  }
  listener_t *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return throw_errno(env, "listen", ENOMEM);
  }
  l->it = (item_t){.kind = K_LISTEN, .fd = fd, .owner = l};
  l->srv = srv;
  io_set_mask(r->epfd, &l->it, EPOLLIN);
  l->next = r->listeners;
  r->listeners = l;
  r->nlisteners++;
  refresh_ref(r);
  napi_value ext;
  CHECK(napi_create_external(env, l, listener_finalize, NULL, &ext));
  return ext;
}

static listener_t *listener_arg(napi_env env, napi_value v) {
  listener_t *l = NULL;
  if (napi_get_value_external(env, v, (void **)&l) != napi_ok) napi_throw_type_error(env, NULL, "tcprelay: expected a listener handle");
  return l;
}

/* port(listener) -> the bound port. */
static napi_value js_port(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!args(env, info, 1, argv)) return NULL;
  listener_t *l = listener_arg(env, argv[0]);
  if (!l) return NULL;
  if (l->closed) {
    napi_throw_error(env, NULL, "tcprelay: listener is closed");
    return NULL;
  }
  return bound_port(env, l->it.fd);
}

/* unlisten(listener): the port is free when this returns; open connections carry on. Idempotent. */
static napi_value js_unlisten(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  relay_t *r = args(env, info, 1, argv);
  if (!r) return NULL;
  listener_t *l = listener_arg(env, argv[0]);
  if (!l || l->closed) return NULL;
  l->closed = 1;
  close(l->it.fd); /* leaves the epoll set with it */
  l->it.fd = -1;
  for (listener_t **p = &r->listeners; *p; p = &(*p)->next)
    if (*p == l) {
      *p = l->next;
      break;
    }
  r->nlisteners--;
  if (r->in_batch) {
    l->next = r->dead_listeners;
    r->dead_listeners = l;
  } else {
    l->closed = 2;
    listener_free_if_done(l);
  }
  refresh_ref(r);
  return NULL;
}

static conn_t *conn_arg(napi_env env, relay_t *r, napi_value v) {
  uint32_t id;
  if (napi_get_value_uint32(env, v, &id) != napi_ok) return NULL;
  return conn_get(r, id);
}

/*
 * dial(conn, ip, port) -> 0, or the errno of a connect that failed at once. Connects an accepted
 * client (or one whose last connect failed) to a backend; the answer comes as CONNECTED or
 * CONNECT_FAILED.
 */
static napi_value js_dial(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  relay_t *r = args(env, info, 3, argv);
  if (!r) return NULL;
  conn_t *c = conn_arg(env, r, argv[0]);
  uint32_t port;
  CHECK(napi_get_value_uint32(env, argv[2], &port));
  if (!c || c->state != S_ACCEPTED) {
    napi_throw_error(env, NULL, "tcprelay: dial needs an accepted connection that is not connecting");
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t sl = parse_addr(env, argv[1], port, &ss);
  if (!sl || port > 65535) {
    napi_throw_type_error(env, NULL, "tcprelay: dial needs an IP literal and a port");
    return NULL;
  }
  int err = 0;
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    err = errno;
  } else {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
      err = errno;
      close(fd);
    }
  }
  if (!err) {
    c->u.fd = fd;
    c->u.mask = 0;
    c->u.round = r->round;
    c->state = S_CONNECTING;
    io_update(r->epfd, c);
    if (!c->u.mask) { /* could not watch it */
      err = errno ? errno : EBADF;
      upstream_reset(c);
    }
  }
  napi_value out;
  napi_create_int32(env, err, &out);
  return out;
}

/* The connection named by the one argument of drop / abort; NULL when unknown (or with an exception pending). */
static conn_t *conn_call(napi_env env, napi_callback_info info, relay_t **rp) {
  napi_value argv[1];
  relay_t *r = args(env, info, 1, argv);
  *rp = r;
  return r ? conn_arg(env, r, argv[0]) : NULL;
}

/* drop(conn): close the client and any backend socket now; no CLOSED event. Unknown ids are ignored. */
static napi_value js_drop(napi_env env, napi_callback_info info) {
  relay_t *r;
  conn_t *c = conn_call(env, info, &r);
  if (c) conn_kill(r, c, 0);
  return NULL;
}

/* abort(conn) -> true if a connect was in flight: its socket is closed and the client can be dialed again. */
static napi_value js_abort(napi_env env, napi_callback_info info) {
  relay_t *r;
  conn_t *c = conn_call(env, info, &r);
  int was = c && c->state == S_CONNECTING;
  if (was) upstream_reset(c);
  napi_value out;
  napi_get_boolean(env, was, &out);
  return out;
}

/* stats() -> [open connections, listeners] (tests, metrics). */
static napi_value js_stats(napi_env env, napi_callback_info info) {
  relay_t *r = R(env);
  napi_value out, a, b;
  napi_create_array_with_length(env, 2, &out);
  napi_create_uint32(env, r ? r->live : 0, &a);
  napi_create_uint32(env, r ? r->nlisteners : 0, &b);
  napi_set_element(env, out, 0, a);
  napi_set_element(env, out, 1, b);
  return out;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      METHOD("init", js_init),
      METHOD("listen", js_listen),
      METHOD("port", js_port),
      METHOD("unlisten", js_unlisten),
      METHOD("dial", js_dial),
      METHOD("drop", js_drop),
      METHOD("abort", js_abort),
      METHOD("stats", js_stats),
  };
  return export_methods(env, exports, props, sizeof props / sizeof props[0]);
}
