/*
 * glibc's malloc_trim(0), for a long-lived process (agent/malloc.ts): the free memory malloc holds
 * (the top of every arena and the free pages inside them) goes back to the kernel. `trim()` does it
 * now and returns whether any memory went back; `trimAsync()` does it on a thread of libuv's pool
 * (a trim after much was freed takes milliseconds, which the event loop then does not wait for) and
 * returns a Promise of the same. malloc_trim takes each arena's lock, as malloc does: it is safe
 * beside the main thread's allocations. Without glibc (musl) both do nothing and answer false.
 */
#define SX_MODULE "malloctrim"
#include <node_api.h>
#include "napi_util.h"
#include <stdlib.h>
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

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      METHOD("trim", js_trim),
      METHOD("trimAsync", js_trim_async),
  };
  return export_methods(env, exports, props, sizeof props / sizeof props[0]);
}
