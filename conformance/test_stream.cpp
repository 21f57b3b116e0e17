// Streams and hand-off: the reader cursor, the FILE * over a mapping,
// mmapio_read_bytes and mmapio_send_range.
#include "support.hpp"
#include "support_proc.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

struct CursorCloser {
  void operator()(mmapio_cursor *c) const noexcept { mmapio_cursor_close(c); }
};
using CursorPtr = std::unique_ptr<mmapio_cursor, CursorCloser>;

CursorPtr open_cursor(mmapio_map *m) {
  mmapio_cursor *c = nullptr;
  REQUIRE_OK(mmapio_cursor_open(&c, m));
  return CursorPtr(c);
}

struct FileCloser {
  void operator()(FILE *f) const noexcept {
    if (f != nullptr)
      std::fclose(f);
  }
};
using FilePtr = std::unique_ptr<FILE, FileCloser>;

// Opens a stream (callers have checked that this build has streams).
FilePtr open_stream(mmapio_map *m, const char *mode) {
  FILE *f = nullptr;
  REQUIRE_OK(mmapio_fopen(&f, m, mode));
  REQUIRE(f != nullptr);
  return FilePtr(f);
}

// Streams are a capability: where the library says it has none the test
// skips with its reason; where it says it has them, mmapio_fopen must work.
#define OPEN_STREAM_OR_SKIP(var, map, mode)                                    \
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_STREAMS);                                      \
  FilePtr var = open_stream(map, mode);                                        \
  REQUIRE(var)

// Reads everything from fd until end of file or an error.
std::string drain(int fd) {
  std::string out;
  (void)read_all(fd, &out);
  return out;
}

// Sends [off, off+len) of m to a socketpair and collects what arrives.
std::string send_through_socketpair(mmapio_map *m, uint64_t off, size_t len,
                                    size_t *sent) {
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
  std::string got;
  std::thread reader([&got, fd = sv[1]] { got = drain(fd); });
  const int rc = mmapio_send_range(m, off, len, sv[0], sent);
  ::shutdown(sv[0], SHUT_WR);
  reader.join();
  ::close(sv[0]);
  ::close(sv[1]);
  REQUIRE_OK(rc);
  return got;
}

const char *const kBadText = "untouched";

// Far more than a socket buffer holds.
constexpr size_t kSendTotal = size_t{8} << 20;

} // namespace

// ------------------------------------------------------------------
// Cursor
// ------------------------------------------------------------------

TEST_CASE("mmapio_cursor: reads the mapping in order and returns 0 bytes at "
          "the end",
          "[mmapio_cursor_open][mmapio_cursor_read][mmapio_cursor_position]["
          "stream]") {
  const uint64_t size = GENERATE(uint64_t{0}, uint64_t{1}, kPage + 1);
  const size_t step = GENERATE(size_t{1}, size_t{7}, size_t{4096});
  CAPTURE(size, step);
  MappedFile f(size, MMAPIO_MODE_RO);
  CursorPtr c = open_cursor(f.map.get());
  CHECK(mmapio_cursor_position(c.get()) == 0);
  std::string seen;
  std::vector<char> buf(step);
  for (;;) {
    size_t n = SIZE_MAX;
    REQUIRE_OK(mmapio_cursor_read(c.get(), buf.data(), step, &n));
    REQUIRE(n <= step);
    if (n == 0)
      break;
    seen.append(buf.data(), n);
    REQUIRE(mmapio_cursor_position(c.get()) == seen.size());
  }
  CHECK(seen == f.bytes);
  size_t n = 1;
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf.data(), step, &n));
  CHECK(n == 0);
  REQUIRE_OK(mmapio_cursor_read(c.get(), nullptr, 0, &n));
  CHECK(n == 0);
}

TEST_CASE(
    "mmapio_cursor_seek: SET, CUR and END move the position, and past the "
    "end is allowed and reads 0 bytes",
    "[mmapio_cursor_seek][mmapio_cursor_set_position][stream]") {
  MappedFile f(1000, MMAPIO_MODE_RO);
  CursorPtr c = open_cursor(f.map.get());
  uint64_t pos = 0;
  REQUIRE_OK(mmapio_cursor_seek(c.get(), 100, MMAPIO_SEEK_SET, &pos));
  CHECK(pos == 100);
  REQUIRE_OK(mmapio_cursor_seek(c.get(), -40, MMAPIO_SEEK_CUR, &pos));
  CHECK(pos == 60);
  char buf[10];
  size_t n = 0;
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(std::string(buf, n) == f.bytes.substr(60, 10));
  REQUIRE_OK(mmapio_cursor_seek(c.get(), -5, MMAPIO_SEEK_END, &pos));
  CHECK(pos == 995);
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 5);
  CHECK(std::string(buf, n) == f.bytes.substr(995));
  REQUIRE_OK(mmapio_cursor_seek(c.get(), 10, MMAPIO_SEEK_END, nullptr));
  CHECK(mmapio_cursor_position(c.get()) == 1010);
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 0);
  CHECK(mmapio_cursor_position(c.get()) == 1010);
  REQUIRE_OK(mmapio_cursor_seek(c.get(), 0, MMAPIO_SEEK_SET, &pos));
  CHECK(pos == 0);
  REQUIRE_OK(mmapio_cursor_set_position(c.get(), 999));
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 1);
  REQUIRE_OK(mmapio_cursor_set_position(c.get(), UINT64_MAX));
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 0);
  CHECK(mmapio_cursor_position(nullptr) == 0);
  mmapio_cursor_close(nullptr);
}

TEST_CASE("mmapio_cursor: follows the current length and never blocks a shrink",
          "[mmapio_cursor_read][mmapio_resize][stream][resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 100);
  CursorPtr c = open_cursor(m.get());
  REQUIRE_OK(mmapio_cursor_set_position(c.get(), 100));
  char buf[64];
  size_t n = 1;
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 0);
  REQUIRE_OK(mmapio_resize(m.get(), 150, nullptr));
  REQUIRE_OK(mmapio_update(m.get(), 100, "grown", 5));
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 50);
  CHECK(std::memcmp(buf, "grown", 5) == 0);
  REQUIRE_OK(mmapio_resize(m.get(), 10, nullptr)); // not BUSY
  REQUIRE_OK(mmapio_cursor_set_position(c.get(), 5));
  REQUIRE_OK(mmapio_cursor_read(c.get(), buf, sizeof buf, &n));
  CHECK(n == 5);
}

TEST_CASE("mmapio_cursor: keeps a closed mapping alive until it is closed",
          "[mmapio_cursor_open][mmapio_cursor_close][stream]") {
  MappedFile f(300, MMAPIO_MODE_RO);
  mmapio_cursor *c = nullptr;
  REQUIRE_OK(mmapio_cursor_open(&c, f.map.get()));
  CHECK(unmap_is_busy(f.map));
  mmapio_close(f.map.release());
  std::string buf(300, '\0');
  size_t n = 0;
  REQUIRE_OK(mmapio_cursor_read(c, &buf[0], buf.size(), &n));
  CHECK(n == 300);
  CHECK(buf == f.bytes);
  mmapio_cursor_close(c); // the last reference: unmaps
}

// ------------------------------------------------------------------
// FILE *
// ------------------------------------------------------------------

TEST_CASE("mmapio_fopen: fread and fgets see exactly the file's bytes",
          "[mmapio_fopen][stream]") {
  const uint64_t size =
      GENERATE(uint64_t{0}, uint64_t{1}, kPage - 1, 3 * kPage + 17);
  const mmapio_mode mode =
      size == 0 ? MMAPIO_MODE_RO
                : GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  CAPTURE(size, mode);
  TempDir td;
  // Text with lines of varied lengths, so fgets has work to do.
  std::string bytes;
  for (unsigned i = 0; bytes.size() < size; i++)
    bytes += std::string(i % 97, static_cast<char>('a' + i % 26)) + "\n";
  bytes.resize(size);
  const std::string p = make_file(td, "text", bytes);
  MapPtr m = open_map(p, mode);

  {
    OPEN_STREAM_OR_SKIP(f, m.get(), "r");
    std::string got;
    char buf[1000];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f.get())) > 0)
      got.append(buf, n);
    CHECK(std::feof(f.get()));
    CHECK_FALSE(std::ferror(f.get()));
    CHECK(got == bytes);
  }
  {
    OPEN_STREAM_OR_SKIP(f, m.get(), "rb");
    std::string got;
    char line[64]; // shorter than some lines: fgets splits them
    while (std::fgets(line, sizeof line, f.get()) != nullptr)
      got += line;
    CHECK(got == bytes);
  }
}

TEST_CASE("mmapio_fopen: fseek and ftell move through the mapping",
          "[mmapio_fopen][stream]") {
  MappedFile fx(5000, MMAPIO_MODE_RO);
  OPEN_STREAM_OR_SKIP(f, fx.map.get(), "r");
  CHECK(std::ftell(f.get()) == 0);
  REQUIRE(std::fseek(f.get(), 1234, SEEK_SET) == 0);
  CHECK(std::ftell(f.get()) == 1234);
  CHECK(std::fgetc(f.get()) == static_cast<unsigned char>(fx.bytes[1234]));
  REQUIRE(std::fseek(f.get(), 10, SEEK_CUR) == 0);
  CHECK(std::ftell(f.get()) == 1245);
  REQUIRE(std::fseek(f.get(), -1, SEEK_END) == 0);
  CHECK(std::ftell(f.get()) == 4999);
  CHECK(std::fgetc(f.get()) == static_cast<unsigned char>(fx.bytes[4999]));
  CHECK(std::fgetc(f.get()) == EOF);
  // Before 0 fails with EINVAL and keeps the position.
  errno = 0;
  CHECK(std::fseek(f.get(), -6000, SEEK_END) != 0);
  CHECK(errno == EINVAL);
  REQUIRE(std::fseek(f.get(), 100, SEEK_SET) == 0);
  CHECK(std::ftell(f.get()) == 100);
  // Past the end: allowed; reads find the end.
  REQUIRE(std::fseek(f.get(), 6000, SEEK_SET) == 0);
  CHECK(std::fgetc(f.get()) == EOF);
  std::rewind(f.get());
  char buf[16];
  REQUIRE(std::fread(buf, 1, sizeof buf, f.get()) == sizeof buf);
  CHECK(std::string(buf, sizeof buf) == fx.bytes.substr(0, 16));
}

TEST_CASE("mmapio_fopen: fwrite on a writable stream writes the mapping, "
          "within its length",
          "[mmapio_fopen][stream]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 100);
  OPEN_STREAM_OR_SKIP(f, m.get(), "r+");
  REQUIRE(std::fseek(f.get(), 10, SEEK_SET) == 0);
  REQUIRE(std::fwrite("hello", 1, 5, f.get()) == 5);
  REQUIRE(std::fflush(f.get()) == 0);
  char got[5];
  REQUIRE_OK(mmapio_read(m.get(), 10, got, 5));
  CHECK(std::memcmp(got, "hello", 5) == 0);
  CHECK(mmapio_pending(m.get()) == 5); // like mmapio_update
  CHECK(std::ftell(f.get()) == 15);
  // Reading after writing (with the seek stdio requires between them).
  REQUIRE(std::fseek(f.get(), 10, SEEK_SET) == 0);
  CHECK(std::fgetc(f.get()) == 'h');

  SECTION("a write past the end fails and never grows the mapping") {
    REQUIRE(std::fseek(f.get(), 95, SEEK_SET) == 0);
    std::fwrite("0123456789", 1, 10, f.get());
    errno = 0;
    CHECK(std::fflush(f.get()) == EOF);
    CHECK(errno == ENOSPC);
    CHECK(std::ferror(f.get()));
    CHECK(mmapio_len(m.get()) == 100);
    char tail[5];
    REQUIRE_OK(mmapio_read(m.get(), 95, tail, 5));
    CHECK(std::memcmp(tail, "01234", 5) == 0); // the bytes that fit
  }
  SECTION("a write starting at the end fails") {
    REQUIRE(std::fseek(f.get(), 0, SEEK_END) == 0);
    CHECK(std::ftell(f.get()) == 100);
    std::fputc('x', f.get());
    errno = 0;
    CHECK(std::fflush(f.get()) == EOF);
    CHECK(errno == ENOSPC);
    CHECK(mmapio_len(m.get()) == 100);
  }
  SECTION("fclose writes what is buffered") {
    REQUIRE(std::fseek(f.get(), 50, SEEK_SET) == 0);
    REQUIRE(std::fputs("closing", f.get()) >= 0);
    REQUIRE(std::fclose(f.release()) == 0);
    char c[7];
    REQUIRE_OK(mmapio_read(m.get(), 50, c, 7));
    CHECK(std::memcmp(c, "closing", 7) == 0);
    REQUIRE_OK(mmapio_flush(m.get()));
    CHECK(read_bytes(p).substr(50, 7) == "closing");
  }
}

TEST_CASE("mmapio_fopen: a read-only stream refuses writes",
          "[mmapio_fopen][stream]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 100);
  OPEN_STREAM_OR_SKIP(f, m.get(), "r");
  CHECK(std::fputc('x', f.get()) == EOF);
  CHECK(std::ferror(f.get()));
  char c = 1;
  REQUIRE_OK(mmapio_read(m.get(), 0, &c, 1));
  CHECK(c == 0);
}

TEST_CASE("mmapio_fopen: the stream holds the mapping until fclose",
          "[mmapio_fopen][stream][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_STREAMS);
  MappedFile fx(2000, MMAPIO_MODE_RO);
  FILE *f = nullptr;
  REQUIRE_OK(mmapio_fopen(&f, fx.map.get(), "r"));
  CHECK(unmap_is_busy(fx.map));
  mmapio_close(fx.map.release());
  std::string got(2000, '\0');
  CHECK(std::fread(&got[0], 1, got.size(), f) == 2000);
  CHECK(got == fx.bytes);
  CHECK(std::fclose(f) == 0); // the last reference: unmaps
}

// ------------------------------------------------------------------
// read_bytes and send_range
// ------------------------------------------------------------------

TEST_CASE("mmapio_read_bytes: a caller-owned copy of the range",
          "[mmapio_read_bytes][stream]") {
  MappedFile f(3 * kPage, MMAPIO_MODE_RO);
  const uint64_t off = GENERATE(uint64_t{0}, uint64_t{5}, kPage);
  const size_t len = GENERATE(size_t{0}, size_t{1}, size_t{2 * 4096});
  CAPTURE(off, len);
  void *p = nullptr;
  REQUIRE_OK(mmapio_read_bytes(f.map.get(), off, len, &p));
  REQUIRE(p != nullptr);
  const auto *base = static_cast<const char *>(mmapio_base(f.map.get()));
  const auto *b = static_cast<const char *>(p);
  CHECK((b + len <= base || b >= base + 3 * kPage)); // not the mapping
  CHECK(std::string(b, len) == f.bytes.substr(off, len));
  std::free(p);
}

TEST_CASE("mmapio_send_range: a socketpair receives exactly the range",
          "[mmapio_send_range][stream]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  CAPTURE(mode);
  // RW maps the file past its end, to grow in place.
  if (mode == MMAPIO_MODE_RW && !file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  MappedFile f(64 * kPage + 100, mode);
  const uint64_t off = GENERATE(uint64_t{0}, uint64_t{1}, uint64_t{4097});
  const size_t len =
      GENERATE(size_t{0}, size_t{1}, size_t{3 * 4096 + 5}, size_t{60 * 4096});
  CAPTURE(off, len);
  size_t sent = SIZE_MAX;
  const std::string got = send_through_socketpair(f.map.get(), off, len, &sent);
  CHECK(sent == len);
  CHECK(got.size() == len);
  CHECK(got == f.bytes.substr(off, len));
}

TEST_CASE("mmapio_send_range: sends what is in the mapping: RW views and COW "
          "private changes included",
          "[mmapio_send_range][stream]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  CAPTURE(mode);
  MappedFile f(2 * kPage, mode);
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(f.map.get(), 100, 7, &w));
  std::memcpy(w, "changed", 7); // not flushed
  size_t sent = 0;
  const std::string got = send_through_socketpair(f.map.get(), 96, 16, &sent);
  CHECK(sent == 16);
  CHECK(got == f.bytes.substr(96, 4) + "changed" + f.bytes.substr(107, 5));
}

TEST_CASE("mmapio_send_range: from a memfd-backed (anonymous) mapping",
          "[mmapio_send_range][stream][linux]") {
  const int fd = ::memfd_create("mmapio-send-test", MFD_CLOEXEC);
  if (fd < 0)
    MMAPIO_SKIP("memfd_create failed: " << std::strerror(errno));
  mmapio_map *raw = nullptr;
  REQUIRE(::ftruncate(fd, static_cast<off_t>(3 * kPage)) == 0);
  const int rc = mmapio_from_fd(&raw, fd, MMAPIO_MODE_RW, nullptr);
  if (rc != 0)
    ::close(fd);
  REQUIRE_OK(rc);
  MapPtr m(raw);
  const std::string bytes = pattern_bytes(3 * kPage, 4);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  size_t sent = 0;
  const std::string got =
      send_through_socketpair(m.get(), 10, 2 * kPage, &sent);
  CHECK(sent == 2 * kPage);
  CHECK(got == bytes.substr(10, 2 * kPage));
}

TEST_CASE("mmapio_send_range: to a pipe and to a regular file",
          "[mmapio_send_range][stream]") {
  MappedFile f(10 * kPage, MMAPIO_MODE_RO);
  SECTION("pipe") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    std::string got;
    std::thread reader([&got, fd = p[0]] { got = drain(fd); });
    size_t sent = 0;
    const int rc = mmapio_send_range(f.map.get(), 3, 9 * kPage, p[1], &sent);
    ::close(p[1]);
    reader.join();
    ::close(p[0]);
    REQUIRE_OK(rc);
    CHECK(sent == 9 * kPage);
    CHECK(got == f.bytes.substr(3, 9 * kPage));
  }
  SECTION("regular file") {
    const std::string out = f.td.path("out");
    const int fd =
        ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    size_t sent = 0;
    const int rc = mmapio_send_range(f.map.get(), kPage, 2 * kPage, fd, &sent);
    ::close(fd);
    REQUIRE_OK(rc);
    CHECK(sent == 2 * kPage);
    CHECK(read_bytes(out) == f.bytes.substr(kPage, 2 * kPage));
  }
}

TEST_CASE("mmapio_send_range: a non-blocking socket that fills up gives a "
          "partial send, then 0 bytes, and the rest follows after draining",
          "[mmapio_send_range][stream]") {
  const size_t total = kSendTotal;
  TempDir td;
  const std::string bytes = pattern_bytes(total, 21);
  const std::string p = make_file(td, "big", bytes);
  MapPtr m = open_map(p, MMAPIO_MODE_RO);
  int sv[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0,
                       sv) == 0);
  size_t sent = 0;
  REQUIRE_OK(mmapio_send_range(m.get(), 0, total, sv[0], &sent));
  CHECK(sent > 0);
  CHECK(sent < total); // would block: a partial send, not an error
  size_t again = SIZE_MAX;
  REQUIRE_OK(mmapio_send_range(m.get(), sent, total - sent, sv[0], &again));
  CHECK(again == 0); // still full: 0 bytes, no error

  // Drain on another thread and finish with poll, as the contract says.
  std::string got;
  std::thread reader([&got, fd = sv[1]] {
    char buf[65536];
    while (got.size() < kSendTotal) {
      struct pollfd pfd = {fd, POLLIN, 0};
      ::poll(&pfd, 1, -1);
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n > 0)
        got.append(buf, static_cast<size_t>(n));
      else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        break;
    }
  });
  size_t done = sent;
  int calls = 0;
  while (done < total && calls < 100000) {
    struct pollfd pfd = {sv[0], POLLOUT, 0};
    ::poll(&pfd, 1, -1);
    size_t n = 0;
    const int rc = mmapio_send_range(m.get(), done, total - done, sv[0], &n);
    if (rc != 0)
      break;
    done += n;
    calls++;
  }
  ::shutdown(sv[0], SHUT_WR); // the reader stops at EOF even if we failed
  reader.join();
  ::close(sv[0]);
  ::close(sv[1]);
  CHECK(done == total);
  CHECK(got == bytes);
}

// ------------------------------------------------------------------
// Errors: cursor
// ------------------------------------------------------------------

TEST_CASE("mmapio_cursor_open: INVALID_ARGUMENT when out or m is NULL",
          "[mmapio_cursor_open][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  mmapio_cursor *c = reinterpret_cast<mmapio_cursor *>(0x10);
  CHECK_CODE(mmapio_cursor_open(&c, nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(c == reinterpret_cast<mmapio_cursor *>(0x10));
  CHECK_CODE(mmapio_cursor_open(nullptr, f.map.get()),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_FALSE(unmap_is_busy(f.map)); // nothing holds the mapping
}

TEST_CASE("mmapio_cursor_open: NO_MEMORY when allocating the cursor fails",
          "[mmapio_cursor_open][errors][stream]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  MappedFile f(10, MMAPIO_MODE_RO);
  const ChildOutcome r = run_in_child([&f](int &extra) {
    if (!exhaust_memory_in_child())
      return 100;
    mmapio_cursor *c = reinterpret_cast<mmapio_cursor *>(0x10);
    const int rc = mmapio_cursor_open(&c, f.map.get());
    extra = c == reinterpret_cast<mmapio_cursor *>(0x10) ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

TEST_CASE("mmapio_cursor_read: INVALID_ARGUMENT when c or out_n is NULL, or "
          "buf is NULL with len > 0",
          "[mmapio_cursor_read][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  CursorPtr c = open_cursor(f.map.get());
  char buf[4];
  size_t n = 77;
  CHECK_CODE(mmapio_cursor_read(nullptr, buf, 4, &n),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_cursor_read(c.get(), buf, 4, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_cursor_read(c.get(), nullptr, 4, &n),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(n == 77);
  CHECK(mmapio_cursor_position(c.get()) == 0);
}

TEST_CASE("mmapio_cursor_seek: INVALID_ARGUMENT when c is NULL",
          "[mmapio_cursor_seek][errors][stream]") {
  uint64_t pos = 77;
  CHECK_CODE(mmapio_cursor_seek(nullptr, 0, MMAPIO_SEEK_SET, &pos),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(pos == 77);
}

TEST_CASE("mmapio_cursor_seek: INVALID_ARGUMENT when whence is unknown",
          "[mmapio_cursor_seek][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  CursorPtr c = open_cursor(f.map.get());
  REQUIRE_OK(mmapio_cursor_set_position(c.get(), 3));
  for (int whence : {-1, 3, 42}) {
    CAPTURE(whence);
    uint64_t pos = 77;
    CHECK_CODE(mmapio_cursor_seek(c.get(), 0, whence, &pos),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(pos == 77);
    CHECK(mmapio_cursor_position(c.get()) == 3);
  }
}

TEST_CASE("mmapio_cursor_seek: INVALID_ARGUMENT when the new position would "
          "be negative or overflow",
          "[mmapio_cursor_seek][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  CursorPtr c = open_cursor(f.map.get());
  REQUIRE_OK(mmapio_cursor_set_position(c.get(), 3));
  struct Case {
    int64_t off;
    int whence;
  };
  const Case cases[] = {
      {-1, MMAPIO_SEEK_SET},        {-4, MMAPIO_SEEK_CUR},
      {-11, MMAPIO_SEEK_END},       {INT64_MIN, MMAPIO_SEEK_END},
      {INT64_MAX, MMAPIO_SEEK_END}, {INT64_MAX - 2, MMAPIO_SEEK_CUR}};
  for (const Case &k : cases) {
    CAPTURE(k.off, k.whence);
    uint64_t pos = 77;
    CHECK_CODE(mmapio_cursor_seek(c.get(), k.off, k.whence, &pos),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(pos == 77);
    CHECK(mmapio_cursor_position(c.get()) == 3);
  }
  // The edges themselves are fine.
  uint64_t pos = 0;
  REQUIRE_OK(mmapio_cursor_seek(c.get(), -3, MMAPIO_SEEK_CUR, &pos));
  CHECK(pos == 0);
  REQUIRE_OK(mmapio_cursor_seek(c.get(), -10, MMAPIO_SEEK_END, &pos));
  CHECK(pos == 0);
  REQUIRE_OK(mmapio_cursor_seek(c.get(), INT64_MAX, MMAPIO_SEEK_SET, &pos));
  CHECK(pos == static_cast<uint64_t>(INT64_MAX));
}

TEST_CASE("mmapio_cursor_set_position: INVALID_ARGUMENT when c is NULL",
          "[mmapio_cursor_set_position][errors][stream]") {
  CHECK_CODE(mmapio_cursor_set_position(nullptr, 1), MMAPIO_E_INVALID_ARGUMENT);
}

// ------------------------------------------------------------------
// Errors: mmapio_fopen
// ------------------------------------------------------------------

TEST_CASE("mmapio_fopen: INVALID_ARGUMENT when out, m or mode is NULL",
          "[mmapio_fopen][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RW);
  FILE *s = reinterpret_cast<FILE *>(0x10);
  CHECK_CODE(mmapio_fopen(&s, nullptr, "r"), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_fopen(&s, f.map.get(), nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(s == reinterpret_cast<FILE *>(0x10));
  CHECK_CODE(mmapio_fopen(nullptr, f.map.get(), "r"),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_FALSE(unmap_is_busy(f.map));
}

TEST_CASE("mmapio_fopen: INVALID_ARGUMENT when mode is not r, rb, r+, rb+ or "
          "r+b",
          "[mmapio_fopen][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RW);
  for (const char *mode :
       {"", "w", "w+", "a", "a+", "rw", "r+x", "R", "rr", "r ", "wb"}) {
    CAPTURE(mode);
    FILE *s = reinterpret_cast<FILE *>(0x10);
    CHECK_CODE(mmapio_fopen(&s, f.map.get(), mode), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(s == reinterpret_cast<FILE *>(0x10));
  }
  CHECK_FALSE(unmap_is_busy(f.map));
}

TEST_CASE("mmapio_fopen: INVALID_MODE when a writable mode is asked of a "
          "read-only mapping",
          "[mmapio_fopen][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  for (const char *mode : {"r+", "rb+", "r+b"}) {
    CAPTURE(mode);
    FILE *s = reinterpret_cast<FILE *>(0x10);
    CHECK_CODE(mmapio_fopen(&s, f.map.get(), mode), MMAPIO_E_INVALID_MODE);
    CHECK(s == reinterpret_cast<FILE *>(0x10));
  }
}

TEST_CASE("mmapio_fopen: UNSUPPORTED when the build has no fopencookie",
          "[mmapio_fopen][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  FILE *s = reinterpret_cast<FILE *>(0x10);
  const int rc = mmapio_fopen(&s, f.map.get(), "r");
  if (rc == 0) {
    std::fclose(s);
    MMAPIO_SKIP_HAVING_CAP(MMAPIO_CAP_STREAMS);
  }
  CHECK(rc == MMAPIO_E_UNSUPPORTED);
  CHECK(s == reinterpret_cast<FILE *>(0x10));
  CHECK_FALSE(unmap_is_busy(f.map)); // the failed open left no reference
}

TEST_CASE("mmapio_fopen: NO_MEMORY when allocating the stream fails",
          "[mmapio_fopen][errors][stream]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  MappedFile f(10, MMAPIO_MODE_RO);
  const ChildOutcome r = run_in_child([&f](int &extra) {
    if (!exhaust_memory_in_child())
      return 100;
    FILE *s = reinterpret_cast<FILE *>(0x10);
    const int rc = mmapio_fopen(&s, f.map.get(), "r");
    extra = s == reinterpret_cast<FILE *>(0x10) ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

// ------------------------------------------------------------------
// Errors: read_bytes and send_range
// ------------------------------------------------------------------

TEST_CASE("mmapio_read_bytes: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_read_bytes][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  void *p = const_cast<char *>(kBadText);
  CHECK_CODE(mmapio_read_bytes(nullptr, 0, 1, &p), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(p == kBadText);
  CHECK_CODE(mmapio_read_bytes(f.map.get(), 0, 1, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_read_bytes: OUT_OF_BOUNDS when off + len exceeds the length",
          "[mmapio_read_bytes][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  const uint64_t cases[][2] = {{0, 11}, {10, 1}, {11, 0}, {1, SIZE_MAX}};
  for (const auto &c : cases) {
    CAPTURE(c[0], c[1]);
    void *p = const_cast<char *>(kBadText);
    CHECK_CODE(mmapio_read_bytes(f.map.get(), c[0], c[1], &p),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(p == kBadText);
  }
}

TEST_CASE("mmapio_read_bytes: NO_MEMORY when the buffer cannot be allocated",
          "[mmapio_read_bytes][errors][stream][linux]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir td;
  constexpr uint64_t size = mmapio_test_big_file() / 2;
  MapPtr m = create_map(td.path("big"), size);
  const ChildOutcome r = run_in_child([&m](int &extra) {
    if (!limit_address_space(size_t{1} << 28))
      return 100;
    void *p = const_cast<char *>(kBadText);
    // The whole file: more than the 256 MiB the child may still map.
    const int rc = mmapio_read_bytes(m.get(), 0, static_cast<size_t>(size), &p);
    extra = p == kBadText ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

TEST_CASE("mmapio_send_range: INVALID_ARGUMENT when m or out_sent is NULL, or "
          "out_fd is negative",
          "[mmapio_send_range][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
  size_t sent = 77;
  CHECK_CODE(mmapio_send_range(nullptr, 0, 1, p[1], &sent),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_send_range(f.map.get(), 0, 1, p[1], nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_send_range(f.map.get(), 0, 1, -1, &sent),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(sent == 77);
  char c;
  CHECK(::read(p[0], &c, 1) == -1); // nothing was sent
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("mmapio_send_range: OUT_OF_BOUNDS when off + len exceeds the "
          "length",
          "[mmapio_send_range][errors][stream]") {
  MappedFile f(10, MMAPIO_MODE_RO);
  int p[2];
  REQUIRE(::pipe2(p, O_CLOEXEC | O_NONBLOCK) == 0);
  size_t sent = 77;
  CHECK_CODE(mmapio_send_range(f.map.get(), 5, 6, p[1], &sent),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_send_range(f.map.get(), 11, 0, p[1], &sent),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(sent == 77);
  char c;
  CHECK(::read(p[0], &c, 1) == -1); // nothing was sent
  ::close(p[0]);
  ::close(p[1]);
}

TEST_CASE("mmapio_send_range: IO when the first send fails",
          "[mmapio_send_range][errors][stream]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  CAPTURE(mode);
  MappedFile f(100, mode);
  size_t sent = 77;
  SECTION("EBADF: out_fd is not open") {
    const int closed_fd = 1 << 20; // above any descriptor this test has
    REQUIRE(::fcntl(closed_fd, F_GETFD) == -1);
    CHECK_CODE(mmapio_send_range(f.map.get(), 0, 10, closed_fd, &sent),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == EBADF);
  }
  SECTION("EPIPE: the reader has gone") {
    int sv[2];
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    ::close(sv[1]);
    // SIGPIPE is the caller's business (see the header): ignore it here.
    struct sigaction ign = {}, old = {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old);
    const int rc = mmapio_send_range(f.map.get(), 0, 10, sv[0], &sent);
    ::sigaction(SIGPIPE, &old, nullptr);
    ::close(sv[0]);
    CHECK(rc == MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == EPIPE);
  }
  CHECK(sent == 77);
}
