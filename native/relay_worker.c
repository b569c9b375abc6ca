/*
 * Relay threads: once a backend accepted, the event loop hands the connection to one of them
 * (round robin) and it moves the bytes in its own epoll set, so the event loop keeps accepting,
 * connecting and asking JavaScript while bytes move on another core.
 *
 * Ownership: a connection in a thread's inbox or epoll set belongs to that thread, except for its
 * two descriptors' numbers, which the event loop may shutdown() to drop it (the thread then sees
 * the hang-up and finishes it). A thread never closes a descriptor: it takes finished connections
 * out of its epoll set and hands them back (relay_shared_t.done); the event loop closes and frees
 * them. So a descriptor number cannot be reused while the event loop may still name it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>
#include "tcprelay.h"

static void finish(worker_t *w, conn_t *c, conn_t **done) {
  io_set_mask(w->epfd, &c->c, 0);
  io_set_mask(w->epfd, &c->u, 0);
  c->wdone = 1; /* later events of this batch skip it */
  c->next = *done;
  *done = c;
}

static void take_inbox(worker_t *w, conn_t **done) {
  uint64_t n;
  if (read(w->wakefd, &n, sizeof n) < 0) { /* EAGAIN: nothing new */ }
  pthread_mutex_lock(&w->mu);
  conn_t *c = w->inbox;
  w->inbox = NULL;
  pthread_mutex_unlock(&w->mu);
  while (c) {
    conn_t *next = c->next;
    c->c.mask = c->u.mask = 0;
    io_update(w->epfd, c);
    if (!c->c.mask && !c->u.mask) finish(w, c, done); /* could not watch it */
    c = next;
  }
}

static void hand_back(worker_t *w, conn_t *done) {
  if (!done) return;
  relay_shared_t *s = w->shared;
  conn_t *last = done;
  while (last->next) last = last->next;
  pthread_mutex_lock(&s->mu);
  last->next = s->done;
  s->done = done;
  pthread_mutex_unlock(&s->mu);
  uv_async_send(s->async);
}

static void *run(void *arg) {
  worker_t *w = arg;
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(w->epfd, evs, MAX_EVENTS, -1);
    if (n < 0 && errno != EINTR) break;
    conn_t *done = NULL;
    for (int i = 0; i < n; i++) {
      item_t *it = evs[i].data.ptr;
      if (it->kind == K_WAKE) {
        if (__atomic_load_n(&w->stop, __ATOMIC_ACQUIRE)) {
          hand_back(w, done);
          return NULL;
        }
        take_inbox(w, &done);
        continue;
      }
      conn_t *c = it->owner;
      if (c->wdone) continue;
      if (io_event(w->epfd, w->buf, c, it, evs[i].events)) finish(w, c, &done);
    }
    hand_back(w, done);
  }
  return NULL;
}

static void wake(worker_t *w) {
  uint64_t one = 1;
  if (write(w->wakefd, &one, sizeof one) < 0) { /* the counter is full: it is awake anyway */ }
}

/* Queue a connected connection for `w`; it starts on the next workers_flush. */
void worker_give(worker_t *w, conn_t *c) {
  c->w = w;
  pthread_mutex_lock(&w->mu);
  c->next = w->inbox;
  w->inbox = c;
  pthread_mutex_unlock(&w->mu);
  w->need_wake = 1;
}

/* Wake the threads that were given connections (once per event-loop batch, not per connection). */
void workers_flush(worker_t *ws, int n) {
  for (int i = 0; i < n; i++)
    if (ws[i].need_wake) {
      ws[i].need_wake = 0;
      wake(&ws[i]);
    }
}

/* 0, or an errno; on failure nothing is left running. */
int workers_start(worker_t *ws, int n, relay_shared_t *shared) {
  for (int i = 0; i < n; i++) {
    worker_t *w = &ws[i];
    w->shared = shared;
    w->epfd = epoll_create1(EPOLL_CLOEXEC);
    w->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    w->buf = malloc(BUF_SIZE);
    w->wake = (item_t){.kind = K_WAKE, .fd = w->wakefd};
    pthread_mutex_init(&w->mu, NULL);
    int err = w->epfd < 0 || w->wakefd < 0 ? errno : !w->buf ? ENOMEM : 0;
    if (!err) {
      io_set_mask(w->epfd, &w->wake, EPOLLIN);
      if (!w->wake.mask) err = errno;
    }
    if (!err) err = pthread_create(&w->thread, NULL, run, w);
    if (err) {
      workers_stop(ws, i + 1);
      return err;
    }
    w->started = 1;
  }
  return 0;
}

void workers_stop(worker_t *ws, int n) {
  for (int i = 0; i < n; i++) {
    worker_t *w = &ws[i];
    if (w->started) {
      __atomic_store_n(&w->stop, 1, __ATOMIC_RELEASE);
      wake(w);
      pthread_join(w->thread, NULL);
      w->started = 0;
    }
    if (w->epfd >= 0) close(w->epfd);
    if (w->wakefd >= 0) close(w->wakefd);
    free(w->buf);
    w->epfd = w->wakefd = -1;
    w->buf = NULL;
  }
}
