/*
 * `trim()`: glibc's malloc_trim(0), for a long-lived process (agent/malloc.ts): the free memory
 * malloc holds (the top of every arena and the free pages inside them) goes back to the kernel.
 * Returns whether any did. Without glibc (musl) it does nothing and returns false.
 */
#define SX_MODULE "malloctrim"
#include <node_api.h>
#include "napi_util.h"
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

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      METHOD("trim", js_trim),
  };
  return export_methods(env, exports, props, sizeof props / sizeof props[0]);
}
