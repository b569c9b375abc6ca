/*
 * Moving bytes for one relayed connection, on the event loop or on a relay thread (each with its
 * own epoll set and read buffer). See tcprelay.c for the rules.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include "tcprelay.h"

void io_set_mask(int epfd, item_t *it, uint32_t m) {
  if (m == it->mask || it->fd < 0) return;
  struct epoll_event ev = {.events = m, .data.ptr = it};
  int op = m == 0 ? EPOLL_CTL_DEL : it->mask == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
  if (epoll_ctl(epfd, op, it->fd, &ev) == 0 || m == 0) it->mask = m;
}

/* What each socket waits for, from the state of both directions. */
void io_update(int epfd, conn_t *c) {
  if (c->state == S_DEAD) return;
  uint32_t mc = 0, mu = 0;
  if (c->state == S_CONNECTING) mu = EPOLLOUT;
  if (c->state == S_RELAY) {
    if (!c->d[0].eof && !c->d[0].len) mc |= EPOLLIN;
    if (!c->d[1].eof && !c->d[1].len) mu |= EPOLLIN;
    if (c->d[1].len) mc |= EPOLLOUT;
    if (c->d[0].len) mu |= EPOLLOUT;
  }
  io_set_mask(epfd, &c->c, mc);
  io_set_mask(epfd, &c->u, mu);
}

/* Send what `d` holds to `fd`; once the FIN was read and everything sent, pass the FIN on. -1: the socket failed. */
static int flush(dir_t *d, int fd) {
  while (d->len) {
    ssize_t w = send(fd, d->buf + d->off, d->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      d->off += (size_t)w;
      d->len -= (size_t)w;
    } else if (w < 0 && errno == EINTR) {
      continue;
    } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return 0;
    } else {
      return -1;
    }
  }
  d->off = 0;
  if (d->eof && !d->shut) {
    shutdown(fd, SHUT_WR); /* ENOTCONN after a reset: the next read or write reports it */
    d->shut = 1;
  }
  return 0;
}

/* Read from `from`, write to `to`; what `to` does not take waits in `d`. -1: a socket failed. */
static int pump(char *buf, dir_t *d, int from, int to) {
  for (int i = 0; i < 8; i++) {
    ssize_t n = recv(from, buf, BUF_SIZE, MSG_DONTWAIT);
    if (n == 0) {
      d->eof = 1;
      return flush(d, to);
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
    }
    d->bytes += (uint64_t)n;
    const char *p = buf;
    size_t left = (size_t)n;
    while (left) {
      ssize_t w = send(to, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w > 0) {
        p += w;
        left -= (size_t)w;
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        break;
      } else {
        return -1;
      }
    }
    if (left) {
      if (!d->buf && !(d->buf = malloc(BUF_SIZE))) return -1;
      memcpy(d->buf, p, left);
      d->off = 0;
      d->len = left;
      return 0;
    }
    if ((size_t)n < BUF_SIZE) return 0; /* likely drained; level-triggered epoll says if not */
  }
  return 0;
}

int io_event(int epfd, char *buf, conn_t *c, item_t *it, uint32_t ev) {
  int client = it->kind == K_CLIENT;
  dir_t *rd = &c->d[client ? 0 : 1], *wd = &c->d[client ? 1 : 0];
  int self = it->fd, other = client ? c->u.fd : c->c.fd;
  int bad = (ev & EPOLLERR) != 0;
  if (!bad && (ev & EPOLLOUT) && wd->len) bad = flush(wd, self) < 0;
  if (!bad && (ev & (EPOLLIN | EPOLLHUP)) && (it->mask & EPOLLIN)) bad = pump(buf, rd, self, other) < 0;
  else if (!bad && (ev & EPOLLHUP)) bad = 1; /* not reading: a hang-up here means a reset, and no write can succeed */
  if (bad || (c->d[0].shut && c->d[1].shut)) return 1;
  io_update(epfd, c);
  return 0;
}
