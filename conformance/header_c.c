/*
 * Compiles the public header alone as C11 with -Wall -Wextra -Wpedantic
 * -Werror (registered with ctest as header.c11.*). Nothing here runs; the
 * declarations are used so the compile exercises the header's macros,
 * types and prototypes, not just its include guard.
 */
#include <mmapio.h>

_Static_assert(MMAPIO_VERSION_NUMBER == MMAPIO_VERSION_MAJOR * 10000 +
                                            MMAPIO_VERSION_MINOR * 100 +
                                            MMAPIO_VERSION_PATCH,
               "version macros agree");

#define HEADER_C_CODE(name, value, text) MMAPIO_E_##name,
static const int header_c_codes[] = {MMAPIO_ERROR_MAP(HEADER_C_CODE)};
#undef HEADER_C_CODE

int header_c_use(const char *path);

int header_c_use(const char *path) {
  mmapio_options opts = MMAPIO_OPTIONS_INIT;
  mmapio_map *m = NULL;
  const mmapio_error *e;
  char buf[16];
  int rc;

  if (mmapio_options_init(&opts) != MMAPIO_OK)
    return MMAPIO_E_INVALID_ARGUMENT;
  rc = mmapio_open(&m, path, opts.mode);
  if (rc != MMAPIO_OK) {
    e = mmapio_last_error();
    return e->code != 0 ? e->code : header_c_codes[0];
  }
  rc = mmapio_read(m, 0, buf, sizeof buf);
  mmapio_close(m);
  return rc < 0 ? (int)(mmapio_strerror(rc)[0] + mmapio_error_name(rc)[0])
                : mmapio_version();
}
