// Shared by the opening tests (test_open.cpp, test_open_errors.cpp,
// test_from_fd.cpp): a file's content, whole-mapping reads, enum values
// no enumerator has, and the state of a descriptor a failing call must
// leave alone.
#ifndef MMAPIO_CONFORMANCE_SUPPORT_OPEN_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_OPEN_HPP

#include "support.hpp"

#include <string>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mmapio_test {

inline const std::string kContent = pattern_bytes(3 * 4096 + 123, 7);

inline std::string view_all(const mmapio_map *m) {
  const uint64_t n = mmapio_len(m);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(m, 0, static_cast<size_t>(n), &v));
  if (n == 0)
    return std::string();
  return std::string(static_cast<const char *>(v), static_cast<size_t>(n));
}

inline mmapio_options default_options() {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  return o;
}

// Enum parameters given values no enumerator has. 0 is a value of each
// enum type (its range is 0..3), so it is passed directly; other values
// are not, so they go through a pointer to the same function with an int
// parameter in the enum's place (the C ABI passes such an enum as int),
// which keeps C++ from ever holding an invalid enum value.
using OpenIntFn = int (*)(mmapio_map **, const char *, int);
using OpenExIntFn = int (*)(mmapio_map **, const char *, const mmapio_options *,
                            int);
using FromFdIntFn = int (*)(mmapio_map **, int, int, const char *);

inline int open_with_mode(mmapio_map **out, const char *path, int mode) {
  if (mode == 0)
    return mmapio_open(out, path, mmapio_mode{});
  return reinterpret_cast<OpenIntFn>(&mmapio_open)(out, path, mode);
}

inline int open_ex_with_disposition(mmapio_map **out, const char *path,
                                    const mmapio_options *o, int how) {
  if (how == 0)
    return mmapio_open_ex(out, path, o, mmapio_disposition{});
  return reinterpret_cast<OpenExIntFn>(&mmapio_open_ex)(out, path, o, how);
}

inline int from_fd_with_mode(mmapio_map **out, int fd, int mode,
                             const char *path) {
  if (mode == 0)
    return mmapio_from_fd(out, fd, mmapio_mode{}, path);
  return reinterpret_cast<FromFdIntFn>(&mmapio_from_fd)(out, fd, mode, path);
}

inline bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

inline bool fd_closed(int fd) {
  errno = 0;
  return ::fcntl(fd, F_GETFD) == -1 && errno == EBADF;
}

// The state of an fd that a failing mmapio_from_fd must not change.
struct FdState {
  int fd_flags;
  int fl_flags;
  off_t pos;
  ino_t ino;
};

inline FdState fd_state(int fd) {
  FdState s{};
  s.fd_flags = ::fcntl(fd, F_GETFD);
  s.fl_flags = ::fcntl(fd, F_GETFL);
  s.pos = ::lseek(fd, 0, SEEK_CUR);
  struct stat st;
  s.ino = ::fstat(fd, &st) == 0 ? st.st_ino : 0;
  return s;
}

inline void check_fd_untouched(int fd, const FdState &before) {
  INFO("fd " << fd << " must still be open and unchanged");
  REQUIRE(fd_open(fd));
  const FdState now = fd_state(fd);
  CHECK(now.fd_flags == before.fd_flags);
  CHECK(now.fl_flags == before.fl_flags);
  CHECK(now.pos == before.pos);
  CHECK(now.ino == before.ino);
}

inline int open_fd(const std::string &p, int flags) {
  int fd = ::open(p.c_str(), flags | O_CLOEXEC);
  REQUIRE(fd >= 0);
  return fd;
}

// A closed descriptor number (nothing else opens in between).
inline int closed_fd_number() {
  int fd = ::dup(0);
  REQUIRE(fd >= 0);
  ::close(fd);
  return fd;
}

} // namespace mmapio_test

#endif
