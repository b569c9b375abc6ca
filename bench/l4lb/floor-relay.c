/*
 * Reference relay for the l4lb bench (not part of Sextant): the least a userspace TCP proxy has to do
 * per connection. One thread, one epoll set, one fixed backend; accept, connect, then move bytes
 * with the same code as the native relay (native/relay_io.c). No JavaScript, no backend choice,
 * no connect timeout, no hand-off between threads. The bench runs it beside the userspace proxy
 * and HAProxy, so each run shows how close any proxy can get to direct on this machine.
 *
 *   floor-relay LISTEN_IP PORT BACKEND_IP PORT     (prints "ready" once listening)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include "../../native/tcprelay.h"

static int addr(const char *ip, const char *port, struct sockaddr_in *a) {
  a->sin_family = AF_INET;
  a->sin_port = htons((uint16_t)atoi(port));
  return inet_pton(AF_INET, ip, &a->sin_addr) == 1 ? 0 : -1;
}

static void conn_end(conn_t *c, conn_t **dead) {
  close(c->c.fd);
  close(c->u.fd);
  c->state = S_DEAD;
  c->next = *dead; /* later events of this batch may still name it */
  *dead = c;
}

static void accept_all(int ep, int lfd, const struct sockaddr_in *backend) {
  int one = 1;
  for (int i = 0; i < 64; i++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    int u = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    conn_t *c = u < 0 ? NULL : calloc(1, sizeof *c);
    if (!c || (connect(u, (const struct sockaddr *)backend, sizeof *backend) < 0 && errno != EINPROGRESS)) {
      if (u >= 0) close(u);
      close(fd);
      free(c);
      continue;
    }
    setsockopt(u, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->c = (item_t){.kind = K_CLIENT, .fd = fd, .owner = c};
    c->u = (item_t){.kind = K_UP, .fd = u, .owner = c};
    c->state = S_CONNECTING;
    io_update(ep, c);
  }
}

int main(int argc, char **argv) {
  struct sockaddr_in listen_at = {0}, backend = {0};
  if (argc != 5 || addr(argv[1], argv[2], &listen_at) || addr(argv[3], argv[4], &backend)) {
    fprintf(stderr, "usage: floor-relay LISTEN_IP PORT BACKEND_IP PORT (IPv4 literals)\n");
    return 2;
  }
  int one = 1, ep = epoll_create1(EPOLL_CLOEXEC);
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* accepted sockets inherit it */
  if (ep < 0 || lfd < 0 || bind(lfd, (struct sockaddr *)&listen_at, sizeof listen_at) || listen(lfd, 1024)) {
    perror("floor-relay: listen");
    return 1;
  }
  item_t li = {.kind = K_LISTEN, .fd = lfd};
  io_set_mask(ep, &li, EPOLLIN);
  char *buf = malloc(BUF_SIZE);
  if (!buf) return 1;
  printf("ready\n");
  fflush(stdout);
  struct epoll_event evs[MAX_EVENTS];
  for (;;) {
    int n = epoll_wait(ep, evs, MAX_EVENTS, -1);
    if (n < 0 && errno != EINTR) return 1;
    conn_t *dead = NULL;
    for (int i = 0; i < n; i++) {
      item_t *it = evs[i].data.ptr;
      if (it->kind == K_LISTEN) {
        accept_all(ep, lfd, &backend);
        continue;
      }
      conn_t *c = it->owner;
      if (c->state == S_DEAD) continue;
      if (c->state == S_CONNECTING) {
        if (evs[i].events & (EPOLLERR | EPOLLHUP)) {
          conn_end(c, &dead);
          continue;
        }
        c->state = S_RELAY;
        io_update(ep, c);
      } else if (io_event(ep, buf, c, it, evs[i].events)) {
        conn_end(c, &dead);
      }
    }
    while (dead) {
      conn_t *c = dead;
      dead = c->next;
      free(c->d[0].buf);
      free(c->d[1].buf);
      free(c);
    }
  }
}
