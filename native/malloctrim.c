/*
 * glibc's malloc_trim(0), for a long-lived process (agent/malloc.ts): the free memory malloc holds
 * (the top of every arena and the free pages inside them) goes back to the kernel. `trim()` does it
 * now and returns whether any memory went back; `trimAsync()` does it on a thread of libuv's pool
 * (a trim after much was freed takes milliseconds, which the event loop then does not wait for) and
 * returns a Promise of the same. malloc_trim takes each arena's lock, as malloc does: it is safe
 * beside the main thread's allocations. Without glibc (musl) both do nothing and answer false.
 * `arenaMax(n)` caps malloc's arenas and `exec` replaces the process image (agent/malloc.ts).
 */
#define SX_MODULE "malloctrim"
#include <node_api.h>
#include "napi_util.h"
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value js_trim(napi_env env, napi_callback_info info) {
  int r = 0;
#ifdef __GLIBC__
  r = malloc_trim(0);
#endif
  napi_value out;
  CHECK(napi_get_boolean(env, r != 0, &out));
  return out;
}

typedef struct {
  napi_async_work work;
  napi_deferred deferred;
  int result;
} TrimJob;

static void trim_execute(napi_env env, void *data) {
  TrimJob *job = data;
#ifdef __GLIBC__
  job->result = malloc_trim(0);
#else
  job->result = 0;
#endif
}

static void trim_complete(napi_env env, napi_status status, void *data) {
  TrimJob *job = data;
  napi_value out;
  if (napi_get_boolean(env, status == napi_ok && job->result != 0, &out) == napi_ok) napi_resolve_deferred(env, job->deferred, out);
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value js_trim_async(napi_env env, napi_callback_info info) {
  TrimJob *job = calloc(1, sizeof *job);
  if (!job) {
    napi_throw_error(env, NULL, SX_MODULE ": out of memory");
    return NULL;
  }
  napi_value promise, name;
  if (napi_create_promise(env, &job->deferred, &promise) != napi_ok || napi_create_string_utf8(env, "malloc_trim", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_async_work(env, NULL, name, trim_execute, trim_complete, job, &job->work) != napi_ok) {
    free(job);
    napi_throw_error(env, NULL, SX_MODULE ": could not start the trim");
    return NULL;
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    napi_delete_async_work(env, job->work);
    free(job);
    napi_throw_error(env, NULL, SX_MODULE ": could not queue the trim");
    return NULL;
  }
  return promise;
}

/*
 * arenaMax(n): mallopt(M_ARENA_MAX, n): at most n malloc arenas from now on (a thread that already
 * has its own keeps it). Returns whether glibc took it (false without glibc).
 */
static napi_value js_arena_max(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t n = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok || n < 1) {
    napi_throw_type_error(env, NULL, SX_MODULE ": arenaMax(n) wants an integer n >= 1");
    return NULL;
  }
  int r = 0;
#ifdef __GLIBC__
  r = mallopt(M_ARENA_MAX, n);
#endif
  napi_value out;
  CHECK(napi_get_boolean(env, r != 0, &out));
  return out;
}

/* A JavaScript array of strings as a NULL-terminated char* array (malloc'd; freed by free_strv). */
static char **strv(napi_env env, napi_value arr) {
  uint32_t n = 0;
  if (napi_get_array_length(env, arr, &n) != napi_ok) return NULL;
  char **v = calloc(n + 1, sizeof *v);
  if (!v) return NULL;
  for (uint32_t i = 0; i < n; i++) {
    napi_value e;
    size_t len = 0;
    if (napi_get_element(env, arr, i, &e) != napi_ok || napi_get_value_string_utf8(env, e, NULL, 0, &len) != napi_ok || !(v[i] = malloc(len + 1)) ||
        napi_get_value_string_utf8(env, e, v[i], len + 1, &len) != napi_ok) {
      for (uint32_t j = 0; j <= i; j++) free(v[j]);
      free(v);
      return NULL;
    }
  }
  return v;
}

static void free_strv(char **v) {
  if (!v) return;
  for (char **p = v; *p; p++) free(*p);
  free(v);
}

/*
 * exec(path, argv, env): execve(2), this process's image replaced (same PID; standard input, output
 * and error kept, every other descriptor Node opened is close-on-exec). Returns only when execve
 * failed: throws an Error with errno.
 */
static napi_value js_exec(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char path[4096];
  size_t len = 0;
  bool a1 = false, a2 = false;
  if (argc < 3 || napi_get_value_string_utf8(env, argv[0], path, sizeof path, &len) != napi_ok || len == 0 || len >= sizeof path - 1 ||
      napi_is_array(env, argv[1], &a1) != napi_ok || !a1 || napi_is_array(env, argv[2], &a2) != napi_ok || !a2) {
    napi_throw_type_error(env, NULL, SX_MODULE ": exec(path, argv[], env[]) wants a path and two arrays of strings");
    return NULL;
  }
  char **av = strv(env, argv[1]);
  char **ev = strv(env, argv[2]);
  if (!av || !ev) {
    free_strv(av);
    free_strv(ev);
    napi_throw_type_error(env, NULL, SX_MODULE ": exec: argv and env must be arrays of strings");
    return NULL;
  }
  /* Node marks its standard descriptors close-on-exec: the new image keeps them. */
  for (int fd = 0; fd <= 2; fd++) {
    int fl = fcntl(fd, F_GETFD);
    if (fl >= 0 && (fl & FD_CLOEXEC)) fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC);
  }
  execve(path, av, ev);
  int err = errno;
  free_strv(av);
  free_strv(ev);
  return throw_errno(env, "execve", err);
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      METHOD("trim", js_trim),
      METHOD("trimAsync", js_trim_async),
      METHOD("arenaMax", js_arena_max),
      METHOD("exec", js_exec),
  };
  return export_methods(env, exports, props, sizeof props / sizeof props[0]);
}
