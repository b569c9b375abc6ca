/* Shared by the TCP relay's files: tcprelay.c (N-API, accept, connect), relay_io.c (moving bytes),
   relay_worker.c (relay threads). */
#ifndef SEXTANT_TCPRELAY_H
#define SEXTANT_TCPRELAY_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#define BUF_SIZE (256 * 1024)
#define MAX_EVENTS 256

enum { K_LISTEN = 1, K_CLIENT = 2, K_UP = 3, K_WAKE = 4 };
enum { S_ACCEPTED = 0, S_CONNECTING = 1, S_RELAY = 2, S_DEAD = 3 };

typedef struct item {
  int kind;
  int fd;
  uint32_t mask; /* events in the epoll set; 0: not in it */
  uint32_t round; /* the event loop's round in which this fd was put in the set (K_UP only) */
  void *owner;
} item_t;

/* One direction: bytes read from one socket and not yet taken by the other. */
typedef struct {
  char *buf;
  size_t off, len;
  int eof;  /* FIN read */
  int shut; /* FIN passed on */
  uint64_t bytes; /* read from this direction's source (VIP metrics, reported with the CLOSED event) */
} dir_t;

struct worker;

typedef struct conn {
  uint32_t id, srv;
  int state;
  item_t c, u;
  dir_t d[2]; /* 0: client -> upstream, 1: upstream -> client */
  struct worker *w; /* the relay thread that owns it once connected; NULL: the event loop relays it */
  int dropped;      /* JavaScript dropped it while a relay thread had it: no CLOSED event */
  int wdone;        /* the relay thread finished it (that thread's field only) */
  struct conn *next; /* dead-after-batch list, or a relay thread's inbox / done list */
} conn_t;

/* One relay thread: its own epoll set; connections come in through `inbox` and go back, finished,
   through the relay's done list. */
typedef struct worker {
  pthread_t thread;
  int started;
  int epfd;
  int wakefd; /* eventfd: new connections in the inbox, or stop */
  item_t wake;
  char *buf;
  pthread_mutex_t mu;
  conn_t *inbox;
  int stop;
  int need_wake; /* the event loop gave it connections since it last woke it (event loop only) */
  struct relay_shared *shared;
} worker_t;

/* What relay threads hand back to the event loop. */
typedef struct relay_shared {
  pthread_mutex_t mu;
  conn_t *done;
  void *async; /* uv_async_t, woken when `done` gets a connection */
} relay_shared_t;

/* relay_io.c */
void io_set_mask(int epfd, item_t *it, uint32_t m);
void io_update(int epfd, conn_t *c);
/* Handle one epoll event of a relayed connection; 1: it is finished (both directions ended, or a socket failed). */
int io_event(int epfd, char *buf, conn_t *c, item_t *it, uint32_t ev);

/* relay_worker.c */
int workers_start(worker_t *ws, int n, relay_shared_t *shared);
void workers_stop(worker_t *ws, int n);
void worker_give(worker_t *w, conn_t *c);
void workers_flush(worker_t *ws, int n);

#endif
