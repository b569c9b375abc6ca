/*
 * V8's idle memory given back after a burst (agent/release.ts, issue #26), the way a browser does for
 * a background tab: `release("low")` calls v8::Isolate::LowMemoryNotification() (full collections
 * that reduce memory and compact, the young generation shrunk, and V8's pooled pages unmapped);
 * `release("critical")` calls MemoryPressureNotification(kCritical) (V8's collections on memory
 * pressure; the level goes back to none once handled, on this thread at once). A plain `gc()` does
 * neither: its empty pages stay pooled and its spaces keep their committed size. Both run on the
 * calling thread, which must be the main one (the isolate's): they block it for their duration.
 */
#include <node_api.h>
#include <v8.h>
#include <string.h>

namespace {

napi_value Release(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  char mode[16] = "low";
  size_t len = 0;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc >= 1 && napi_get_value_string_utf8(env, argv[0], mode, sizeof mode, &len) != napi_ok) {
    napi_throw_type_error(env, nullptr, "memrelease: release(mode) wants 'low' or 'critical'");
    return nullptr;
  }
  bool critical = strcmp(mode, "critical") == 0;
  if (!critical && strcmp(mode, "low") != 0) {
    napi_throw_type_error(env, nullptr, "memrelease: release(mode) wants 'low' or 'critical'");
    return nullptr;
  }
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) {
    napi_throw_error(env, nullptr, "memrelease: no V8 isolate on this thread");
    return nullptr;
  }
  if (critical) {
    isolate->MemoryPressureNotification(v8::MemoryPressureLevel::kCritical);
  } else {
    isolate->LowMemoryNotification();
  }
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

}  // namespace

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {{"release", nullptr, Release, nullptr, nullptr, nullptr, napi_default, nullptr}};
  napi_define_properties(env, exports, 1, props);
  return exports;
}
