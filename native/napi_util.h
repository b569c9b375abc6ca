/* Small N-API helpers shared by the native modules (header-only). */
#ifndef SEXTANT_NAPI_UTIL_H
#define SEXTANT_NAPI_UTIL_H

#include <errno.h>
#include <netinet/in.h>
#include <node_api.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* Throw an Error "<what>: <strerror>" with an `errno` property; returns NULL for `return throw_errno(...)`. */
static inline napi_value throw_errno(napi_env env, const char *what, int err) {
  char msg[200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  napi_value e, m, code;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, NULL, m, &e);
  napi_create_int32(env, err, &code);
  napi_set_named_property(env, e, "errno", code);
  napi_throw(env, e);
  return NULL;
}

/* The local port `fd` is bound to (IPv4 or IPv6: the port sits at the same offset in both). */
static inline napi_value bound_port(napi_env env, int fd) {
  struct sockaddr_in6 sa;
  socklen_t len = sizeof sa;
  if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0) return throw_errno(env, "getsockname", errno);
  napi_value out;
  napi_create_uint32(env, ntohs(sa.sin6_port), &out);
  return out;
}

/* Return NULL with an Error "<SX_MODULE>: <call> failed" when an N-API call fails (define SX_MODULE first). */
#define CHECK(call)                                                \
  do {                                                             \
    if ((call) != napi_ok) {                                       \
      napi_throw_error(env, NULL, SX_MODULE ": " #call " failed");    \
      return NULL;                                                 \
    }                                                              \
  } while (0)

/* One exported function: METHOD("name", fn) inside a napi_property_descriptor array. */
#define METHOD(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_default, NULL}

static inline napi_value export_methods(napi_env env, napi_value exports, const napi_property_descriptor *props, size_t n) {
  napi_define_properties(env, exports, n, props);
  return exports;
}

#endif
