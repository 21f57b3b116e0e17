/* Error codes, their names and texts, and the thread-local detail. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local mmapio_error last_error;

const char *mmapio_strerror(int code) {
  switch (code) {
  case 0:
    return "success";
#define MMI_TEXT_(name, value, text)                                           \
  case value:                                                                  \
    return text;
    MMAPIO_ERROR_MAP(MMI_TEXT_)
#undef MMI_TEXT_
  default:
    return "unknown error";
  }
}

const char *mmapio_error_name(int code) {
  switch (code) {
  case 0:
    return "MMAPIO_OK";
#define MMI_NAME_(name, value, text)                                           \
  case value:                                                                  \
    return "MMAPIO_E_" #name;
    MMAPIO_ERROR_MAP(MMI_NAME_)
#undef MMI_NAME_
  default:
    return "MMAPIO_E_UNKNOWN";
  }
}

const mmapio_error *mmapio_last_error(void) { return &last_error; }

void mmapio_clear_error(void) { memset(&last_error, 0, sizeof last_error); }

void mmi_error_restore(const mmapio_error *saved) { last_error = *saved; }

int mmi_fail(int code, int os_err, const char *syscall, const char *fmt, ...) {
  last_error.code = code;
  last_error.os_errno = os_err;
  last_error.syscall = syscall;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(last_error.message, sizeof last_error.message, fmt, ap);
  va_end(ap);
  if (os_err != 0 && n >= 0 && (size_t)n < sizeof last_error.message)
    snprintf(last_error.message + n, sizeof last_error.message - (size_t)n,
             " (%s: %s)", syscall ? syscall : "errno", strerror(os_err));
  return code;
}

int mmi_fail_bounds(const char *fn, uint64_t off, uint64_t len, uint64_t size) {
  return mmi_fail(MMAPIO_E_OUT_OF_BOUNDS, 0, NULL,
                  "%s: range [%llu, +%llu) exceeds mapping size %llu", fn,
                  (unsigned long long)off, (unsigned long long)len,
                  (unsigned long long)size);
}

int mmapio_version(void) { return MMAPIO_VERSION_NUMBER; }
