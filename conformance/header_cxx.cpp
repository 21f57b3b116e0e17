/*
 * Compiles the public header alone as C++17 with -Wall -Wextra -Wpedantic
 * -Werror (registered with ctest as header.cxx17.*). Nothing here runs;
 * the declarations are used so the compile checks that the header is
 * valid C++ with C linkage, not just that it can be included.
 */
#include <mmapio.h>

static_assert(MMAPIO_VERSION_NUMBER == MMAPIO_VERSION_MAJOR * 10000 +
                                           MMAPIO_VERSION_MINOR * 100 +
                                           MMAPIO_VERSION_PATCH,
              "version macros agree");

namespace {

#define HEADER_CXX_CODE(name, value, text) MMAPIO_E_##name,
constexpr int codes[] = {MMAPIO_ERROR_MAP(HEADER_CXX_CODE)};
#undef HEADER_CXX_CODE
static_assert(sizeof codes / sizeof codes[0] > 0, "error list not empty");

// C linkage: the functions convert to plain function pointers.
int (*const open_fn)(mmapio_map **, const char *, mmapio_mode) = &mmapio_open;
void (*const close_fn)(mmapio_map *) = &mmapio_close;

} // namespace

int header_cxx_use(const char *path);

int header_cxx_use(const char *path) {
  mmapio_options opts = MMAPIO_OPTIONS_INIT;
  opts.mode = MMAPIO_MODE_COW;
  mmapio_map *m = nullptr;
  if (open_fn(&m, path, opts.mode) != MMAPIO_OK) {
    const mmapio_error *e = mmapio_last_error();
    return e->code != 0 ? e->code : codes[0];
  }
  const int rc = static_cast<int>(mmapio_len(m) > 0);
  close_fn(m);
  return rc + mmapio_version();
}
