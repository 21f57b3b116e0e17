// Anonymous (memfd-backed) mappings: creation, the handle's behaviour,
// seals, and sharing with other processes (fork, and a socket to a
// re-executed child). Children report through their exit status or the
// run_in_child pipe; every REQUIRE stays in the parent.
//
// Exit codes of the socket children: 0 success, 2 receiving failed, 3
// wrong data seen, 4 a write failed, 5 wrong length, 6 bad arguments, 7 a
// sealed ftruncate was not refused with EPERM, 8 the seals query failed.
#include "support_memory.hpp"

#include <cstring>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>

using namespace mmapio_test;

namespace {

const uint64_t kMagic = 0x616e6f6e6d6d6170ULL; // "anonmmap"
const uint64_t kChildOff = 3 * 4096 + 5;
const char kChildBytes[] = "the child wrote this";

MapPtr new_anon(uint64_t size, unsigned flags = 0) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&m, size, flags));
  return MapPtr(m);
}

// A connected pair of Unix-domain stream sockets, closed on destruction.
struct SockPair {
  SockPair() {
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fd) != 0)
      throw std::runtime_error("socketpair failed");
  }
  ~SockPair() {
    close_end(0);
    close_end(1);
  }
  SockPair(const SockPair &) = delete;
  SockPair &operator=(const SockPair &) = delete;
  void close_end(int i) {
    if (fd[i] >= 0)
      ::close(fd[i]);
    fd[i] = -1;
  }
  int fd[2];
};

// Sends one byte carrying fds (none when empty) with SCM_RIGHTS.
void send_raw(int sock, const std::vector<int> &fds) {
  char byte = 'r';
  struct iovec iov = {&byte, 1};
  struct msghdr msg;
  std::memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  std::vector<char> ctl(
      CMSG_SPACE(sizeof(int) * (fds.empty() ? 1 : fds.size())));
  if (!fds.empty()) {
    msg.msg_control = ctl.data();
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  REQUIRE(::sendmsg(sock, &msg, MSG_NOSIGNAL) == 1);
}

// Descriptors open in this process.
size_t open_fds() {
  size_t n = 0;
  for (int fd = 0; fd < 4096; fd++)
    if (::fcntl(fd, F_GETFD) >= 0)
      n++;
  return n;
}

bool has_seals() {
  MapPtr m = new_anon(kPage);
  unsigned s = 0;
  return mmapio_anon_seals(m.get(), &s) == 0;
}

uint64_t read_u64(const mmapio_map *m, uint64_t off) {
  uint64_t v = 0;
  REQUIRE_OK(mmapio_read(m, off, &v, sizeof v));
  return v;
}

} // namespace

// ------------------------------------------------------------------
// Children started by re-executing this binary
// ------------------------------------------------------------------

// argv: socket fd, required seals. Receives a region, checks the magic,
// writes its bytes; with seals, checks that shrinking is refused.
MMAPIO_CHILD(anon_receive_and_write) {
  if (argc != 2)
    return 6;
  const int sock = std::atoi(argv[0]);
  const unsigned seals = static_cast<unsigned>(std::atoi(argv[1]));
  mmapio_map *m = nullptr;
  if (mmapio_anon_recv(&m, sock, seals) != 0)
    return 2;
  MapPtr own(m);
  if (mmapio_len(m) != 8 * kPage)
    return 5;
  uint64_t magic = 0;
  if (mmapio_read(m, 0, &magic, sizeof magic) != 0 || magic != kMagic)
    return 3;
  if (mmapio_update(m, kChildOff, kChildBytes, sizeof kChildBytes) != 0)
    return 4;
  if (seals != 0) {
    unsigned have = 0;
    if (mmapio_anon_seals(m, &have) != 0 || (have & seals) != seals)
      return 8;
    if (::ftruncate(mmapio_fd(m), static_cast<off_t>(kPage)) == 0 ||
        errno != EPERM)
      return 7;
  }
  return 0;
}

// ------------------------------------------------------------------
// mmapio_anon / mmapio_anon_ex: errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_anon: INVALID_ARGUMENT when out is NULL",
          "[mmapio_anon][errors][anon]") {
  REQUIRE_CODE(mmapio_anon(nullptr, kPage), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_anon: RESIZE_FAILED when size is 0 or above the limit",
          "[mmapio_anon][errors][anon]") {
  const uint64_t size =
      GENERATE(uint64_t(0), mmapio_max_size() + 1, UINT64_MAX);
  INFO("size " << size);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon(&m, size), MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_anon: IO when the memory file cannot be created",
          "[mmapio_anon][errors][anon][linux]") {
  MMAPIO_SKIP_UNDER_VALGRIND(
      "RLIMIT_NOFILE does not limit the descriptors valgrind hands out");
  // No descriptor left: memfd_create (shm_open) fails with EMFILE.
  ChildOutcome r = run_in_child([](int &) -> int {
    struct rlimit rl = {0, 0};
    ::setrlimit(RLIMIT_NOFILE, &rl);
    mmapio_map *m = map_sentinel();
    int rc = mmapio_anon(&m, kPage);
    return m == map_sentinel() ? rc : 1000;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_IO);
  CHECK(r.os_errno == EMFILE);
  CHECK((std::string(r.syscall) == "memfd_create" ||
         std::string(r.syscall) == "shm_open"));
}

TEST_CASE("mmapio_anon: NO_MEMORY when allocating the handle fails",
          "[mmapio_anon][errors][anon]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  ChildOutcome r = run_in_child([](int &) -> int {
    exhaust_memory_in_child();
    mmapio_map *m = map_sentinel();
    int rc = mmapio_anon(&m, kPage);
    return m == map_sentinel() ? rc : 1000;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_anon_ex: INVALID_ARGUMENT when out is NULL or a flag is "
          "unknown",
          "[mmapio_anon_ex][errors][anon]") {
  CHECK_CODE(mmapio_anon_ex(nullptr, kPage, 0), MMAPIO_E_INVALID_ARGUMENT);
  const unsigned bad = GENERATE(MMAPIO_OPT_NOFOLLOW, MMAPIO_OPT_PREALLOCATE,
                                MMAPIO_OPT_SYNC_DIR, 0x100u, 0x80000000u);
  INFO("flags " << bad);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon_ex(&m, kPage, bad | MMAPIO_OPT_HUGEPAGES),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_anon_ex: RESIZE_FAILED when size is 0 or above the limit",
          "[mmapio_anon_ex][errors][anon]") {
  const uint64_t size = GENERATE(uint64_t(0), mmapio_max_size() + 1);
  const unsigned flags =
      GENERATE(0u, MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon_ex(&m, size, flags), MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_anon_ex: IO when the memory file cannot be created",
          "[mmapio_anon_ex][errors][anon]") {
  MMAPIO_SKIP_UNDER_VALGRIND(
      "RLIMIT_NOFILE does not limit the descriptors valgrind hands out");
  ChildOutcome r = run_in_child([](int &) -> int {
    struct rlimit rl = {0, 0};
    ::setrlimit(RLIMIT_NOFILE, &rl);
    mmapio_map *m = map_sentinel();
    int rc = mmapio_anon_ex(&m, 4 * kMiB, MMAPIO_OPT_HUGEPAGES);
    return m == map_sentinel() ? rc : 1000;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_IO);
  CHECK(r.os_errno == EMFILE);
}

TEST_CASE("mmapio_anon_ex: NO_MEMORY when allocating the handle fails",
          "[mmapio_anon_ex][errors][anon]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  ChildOutcome r = run_in_child([](int &) -> int {
    exhaust_memory_in_child();
    mmapio_map *m = map_sentinel();
    int rc = mmapio_anon_ex(&m, kPage, MMAPIO_OPT_TOUCH_EAGER);
    return m == map_sentinel() ? rc : 1000;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

// ------------------------------------------------------------------
// The anonymous handle
// ------------------------------------------------------------------

TEST_CASE("mmapio_anon: a zero-filled read-write region without a file",
          "[mmapio_anon][anon]") {
  const uint64_t size =
      GENERATE(uint64_t(1), uint64_t(4096 + 3), uint64_t(3 * kMiB));
  INFO(size << " bytes");
  MapPtr m = new_anon(size);
  CHECK(mmapio_len(m.get()) == size);
  CHECK(mmapio_mode_of(m.get()) == MMAPIO_MODE_RW);
  CHECK(mmapio_path(m.get()) == nullptr);
  std::string got(size, 'z');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], size));
  CHECK(got == std::string(size, '\0'));
  const int fd = mmapio_fd(m.get());
  REQUIRE(fd >= 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  CHECK(S_ISREG(st.st_mode));
  CHECK(static_cast<uint64_t>(st.st_size) == size);
}

TEST_CASE("mmapio_anon: flushing is a no-op that succeeds",
          "[mmapio_anon][anon][flush]") {
  MapPtr m = new_anon(4 * kPage);
  const std::string bytes = pattern_bytes(4 * kPage, 3);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  CHECK_OK(mmapio_flush(m.get()));
  CHECK_OK(mmapio_flush_range(m.get(), 5, 3 * kPage));
  CHECK_CODE(mmapio_flush_range(m.get(), 0, 4 * kPage + 1),
             MMAPIO_E_OUT_OF_BOUNDS);
  std::string got(bytes.size(), '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], got.size()));
  CHECK(got == bytes);
}

TEST_CASE("mmapio_anon: views, atomics and pins work", "[mmapio_anon][anon]") {
  MapPtr m = new_anon(2 * kPage);
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), 100, 10, &w));
  std::memcpy(w, "0123456789", 10);
  const void *r = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 100, 10, &r));
  CHECK(std::memcmp(r, "0123456789", 10) == 0);
  mmapio_atomic_u64 *a = nullptr;
  REQUIRE_OK(mmapio_view_atomic_u64_mut(m.get(), 8, &a));
  std::thread t([a] {
    for (int i = 0; i < 10000; i++)
      a->fetch_add(1);
  });
  for (int i = 0; i < 10000; i++)
    a->fetch_add(1);
  t.join();
  CHECK(read_u64(m.get(), 8) == 20000);
  mmapio_pin pin;
  REQUIRE_OK(mmapio_pin_range(&pin, m.get(), 0, 2 * kPage));
  CHECK_CODE(mmapio_resize(m.get(), kPage, nullptr), MMAPIO_E_BUSY);
  mmapio_unpin(&pin);
}

TEST_CASE("mmapio_anon: resize keeps the bytes, in place where the default "
          "reservation has room (64-bit)",
          "[mmapio_anon][anon][resize]") {
  MapPtr m = new_anon(kMiB);
  const std::string bytes = pattern_bytes(kMiB, 4);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  const void *base = mmapio_base(m.get());
  bool moved = true;
  REQUIRE_OK(mmapio_resize(m.get(), 64 * kMiB, &moved));
  if (mmapio_test_default_headroom()) {
    CHECK_FALSE(moved);
    CHECK(mmapio_base(m.get()) == base);
  }
  CHECK(mmapio_len(m.get()) == 64 * kMiB);
  std::string got(kMiB, '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], kMiB));
  CHECK(got == bytes);
  // The new part is zero-filled.
  REQUIRE_OK(mmapio_read(m.get(), 63 * kMiB, &got[0], kMiB));
  CHECK(got == std::string(kMiB, '\0'));
  REQUIRE_OK(mmapio_resize(m.get(), kPage, &moved));
  CHECK(mmapio_len(m.get()) == kPage);
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], kPage));
  CHECK(got.substr(0, kPage) == bytes.substr(0, kPage));
  struct stat st;
  REQUIRE(::fstat(mmapio_fd(m.get()), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) == kPage);
}

TEST_CASE("mmapio_anon: advice, touch, locks and hints work on it",
          "[mmapio_anon][anon][advise][touch][lock][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  MMAPIO_SKIP_UNDER_VALGRIND(
      "populate, residency and huge pages are emulated, not the kernel's");
  MapPtr m = new_anon(5 * kMiB, MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER);
  CHECK(present_pages(mmapio_base(m.get()), 5 * kMiB) == 5 * kMiB / kPage);
  CHECK_OK(mmapio_advise(m.get(), 1, kMiB, MMAPIO_ADVICE_SEQUENTIAL));
  CHECK_OK(mmapio_touch_pages_range(m.get(), 3, 3 * kMiB));
  CHECK_OK(mmapio_prefetch_range(m.get(), 0, kPage));
  const int lrc = mmapio_lock(m.get(), 0, 2 * kPage);
  if (lrc == 0)
    CHECK_OK(mmapio_unlock_all(m.get()));
  std::string got(5 * kMiB, 'z');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], got.size()));
  CHECK(got == std::string(5 * kMiB, '\0'));
}

TEST_CASE("mmapio_anon: a forked child shares the region",
          "[mmapio_anon][anon][ipc]") {
  MapPtr m = new_anon(8 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), 0, &kMagic, sizeof kMagic));
  mmapio_map *shared = m.get();
  ChildOutcome r = run_in_child([shared](int &extra) -> int {
    uint64_t v = 0;
    if (mmapio_read(shared, 0, &v, sizeof v) != 0)
      return 2;
    extra = v == kMagic;
    return mmapio_update(shared, kChildOff, kChildBytes, sizeof kChildBytes);
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.extra == 1);
  REQUIRE(r.rc == 0);
  char got[sizeof kChildBytes] = {0};
  REQUIRE_OK(mmapio_read(m.get(), kChildOff, got, sizeof got));
  CHECK(std::memcmp(got, kChildBytes, sizeof got) == 0);
}

// ------------------------------------------------------------------
// Seals
// ------------------------------------------------------------------

TEST_CASE("mmapio_anon_seal: INVALID_ARGUMENT when m is NULL or not "
          "anonymous, or seals are 0 or unknown",
          "[mmapio_anon_seal][errors][anon]") {
  TempDir dir;
  MapPtr a = new_anon(kPage);
  Made f = make_backing(dir, Backing::RW, kPage);
  CHECK_CODE(mmapio_anon_seal(nullptr, MMAPIO_SEAL_GROW),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_seal(f.map.get(), MMAPIO_SEAL_GROW),
             MMAPIO_E_INVALID_ARGUMENT);
  const unsigned bad = GENERATE(0u, 0x4u, MMAPIO_SEAL_GROW | 0x10u);
  INFO("seals " << bad);
  CHECK_CODE(mmapio_anon_seal(a.get(), bad), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_anon_seal: UNSUPPORTED when the build has no seals",
          "[mmapio_anon_seal][errors][anon]") {
  MapPtr a = new_anon(kPage);
  const int rc = mmapio_anon_seal(a.get(), MMAPIO_SEAL_SHRINK);
  if (rc == 0)
    MMAPIO_SKIP_HAVING_CAP(MMAPIO_CAP_MEMFD_SEALS);
  CHECK(rc == MMAPIO_E_UNSUPPORTED);
}

TEST_CASE("mmapio_anon_seal: IO when the kernel refuses more seals",
          "[mmapio_anon_seal][errors][anon][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_MEMFD_SEALS);
  MapPtr a = new_anon(kPage);
  // Another holder sealed the seals themselves.
  REQUIRE(::fcntl(mmapio_fd(a.get()), F_ADD_SEALS, F_SEAL_SEAL) == 0);
  const int rc = mmapio_anon_seal(a.get(), MMAPIO_SEAL_SHRINK);
  CHECK(rc == MMAPIO_E_IO);
  CHECK(mmapio_last_error()->os_errno == EPERM);
}

TEST_CASE("mmapio_anon_seal: a sealed region cannot be resized by anyone",
          "[mmapio_anon_seal][anon][resize][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_MEMFD_SEALS);
  const unsigned seals = GENERATE(MMAPIO_SEAL_SHRINK, MMAPIO_SEAL_GROW,
                                  MMAPIO_SEAL_SHRINK | MMAPIO_SEAL_GROW);
  INFO("seals " << seals);
  MapPtr m = new_anon(4 * kPage);
  const std::string bytes = pattern_bytes(4 * kPage, 9);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
  const void *view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, 4 * kPage, &view));
  REQUIRE_OK(mmapio_anon_seal(m.get(), seals));
  REQUIRE_OK(mmapio_anon_seal(m.get(), seals)); // again: not an error
  unsigned have = 0;
  REQUIRE_OK(mmapio_anon_seals(m.get(), &have));
  CHECK(have == seals);
  const int fd = mmapio_fd(m.get());
  if (seals & MMAPIO_SEAL_SHRINK) {
    CHECK_CODE(mmapio_resize(m.get(), 2 * kPage, nullptr),
               MMAPIO_E_RESIZE_FAILED);
    CHECK(mmapio_last_error()->os_errno == EPERM);
    CHECK(::ftruncate(fd, static_cast<off_t>(kPage)) != 0);
  }
  if (seals & MMAPIO_SEAL_GROW) {
    CHECK_CODE(mmapio_resize(m.get(), 8 * kPage, nullptr),
               MMAPIO_E_RESIZE_FAILED);
    CHECK(mmapio_last_error()->os_errno == EPERM);
    CHECK(::ftruncate(fd, static_cast<off_t>(64 * kPage)) != 0);
  }
  // Whatever failed changed nothing.
  CHECK(mmapio_len(m.get()) == 4 * kPage);
  CHECK(std::memcmp(view, bytes.data(), bytes.size()) == 0);
  std::string got(bytes.size(), '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], got.size()));
  CHECK(got == bytes);
  // The direction that is not sealed still works.
  if (seals == MMAPIO_SEAL_SHRINK)
    CHECK_OK(mmapio_resize(m.get(), 8 * kPage, nullptr));
  if (seals == MMAPIO_SEAL_GROW)
    CHECK_OK(mmapio_resize(m.get(), 2 * kPage, nullptr));
}

TEST_CASE("mmapio_anon_seals: INVALID_ARGUMENT when m or out is NULL or m "
          "is not anonymous",
          "[mmapio_anon_seals][errors][anon]") {
  TempDir dir;
  MapPtr a = new_anon(kPage);
  Made f = make_backing(dir, Backing::RO, kPage);
  unsigned s = 77;
  CHECK_CODE(mmapio_anon_seals(nullptr, &s), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_seals(a.get(), nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_seals(f.map.get(), &s), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(s == 77u);
}

TEST_CASE("mmapio_anon_seals: UNSUPPORTED when the build has no seals",
          "[mmapio_anon_seals][errors][anon]") {
  MapPtr a = new_anon(kPage);
  unsigned s = 0;
  const int rc = mmapio_anon_seals(a.get(), &s);
  if (rc == 0)
    MMAPIO_SKIP_HAVING_CAP(MMAPIO_CAP_MEMFD_SEALS);
  CHECK(rc == MMAPIO_E_UNSUPPORTED);
}

TEST_CASE("mmapio_anon_seals: IO when the region is not a sealable file",
          "[mmapio_anon_seals][errors][anon][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_MEMFD_SEALS);
  // A regular file on disk passed as a "region": it maps, but has no seals
  // to query (F_GET_SEALS: EINVAL).
  TempDir dir;
  const std::string p =
      make_file(dir, "not-memfd.bin", pattern_bytes(kPage, 1));
  int fd = ::open(p.c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(fd >= 0);
  SockPair sp;
  send_raw(sp.fd[0], {fd});
  ::close(fd);
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_recv(&raw, sp.fd[1], 0));
  MapPtr m(raw);
  unsigned s = 5;
  CHECK_CODE(mmapio_anon_seals(m.get(), &s), MMAPIO_E_IO);
  CHECK(mmapio_last_error()->os_errno == EINVAL);
  CHECK(s == 5u);
}

// ------------------------------------------------------------------
// Passing a region over a socket
// ------------------------------------------------------------------

TEST_CASE("mmapio_anon_send: INVALID_ARGUMENT when m is NULL or not "
          "anonymous, or sock is negative",
          "[mmapio_anon_send][errors][anon][ipc]") {
  TempDir dir;
  MapPtr a = new_anon(kPage);
  Made f = make_backing(dir, Backing::RW, kPage);
  SockPair sp;
  CHECK_CODE(mmapio_anon_send(nullptr, sp.fd[0]), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_send(f.map.get(), sp.fd[0]),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_send(a.get(), -1), MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_anon_send: IO when sock is no socket or the peer is gone",
          "[mmapio_anon_send][errors][anon][ipc]") {
  MapPtr a = new_anon(kPage);
  SECTION("not a socket") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    const int rc = mmapio_anon_send(a.get(), p[1]);
    const int e = mmapio_last_error()->os_errno;
    ::close(p[0]);
    ::close(p[1]);
    CHECK(rc == MMAPIO_E_IO);
    CHECK(e == ENOTSOCK);
  }
  SECTION("the peer closed (no SIGPIPE)") {
    SockPair sp;
    sp.close_end(1);
    CHECK_CODE(mmapio_anon_send(a.get(), sp.fd[0]), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == EPIPE);
  }
}

TEST_CASE("mmapio_anon_recv: INVALID_ARGUMENT when out is NULL, sock is "
          "negative or a seal bit is unknown",
          "[mmapio_anon_recv][errors][anon][ipc]") {
  SockPair sp;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon_recv(nullptr, sp.fd[1], 0), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_recv(&m, -1, 0), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_anon_recv(&m, sp.fd[1], 0x8u), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
}

TEST_CASE("mmapio_anon_recv: INVALID_ARGUMENT when the message carries no "
          "memory file",
          "[mmapio_anon_recv][errors][anon][ipc]") {
  SockPair sp;
  const size_t fds_before = open_fds();
  SECTION("no descriptor at all") { send_raw(sp.fd[0], {}); }
  SECTION("a pipe") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    send_raw(sp.fd[0], {p[0]});
    ::close(p[0]);
    ::close(p[1]);
  }
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon_recv(&m, sp.fd[1], 0), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  // The refused descriptor was closed.
  CHECK(open_fds() == fds_before);
}

TEST_CASE("mmapio_anon_recv: INVALID_ARGUMENT when the region lacks a "
          "required seal",
          "[mmapio_anon_recv][errors][anon][ipc][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_MEMFD_SEALS);
  const unsigned have = GENERATE(0u, MMAPIO_SEAL_GROW, MMAPIO_SEAL_SHRINK);
  INFO("the region has seals " << have);
  MapPtr a = new_anon(2 * kPage);
  if (have != 0)
    REQUIRE_OK(mmapio_anon_seal(a.get(), have));
  SockPair sp;
  REQUIRE_OK(mmapio_anon_send(a.get(), sp.fd[0]));
  mmapio_map *m = map_sentinel();
  CHECK_CODE(
      mmapio_anon_recv(&m, sp.fd[1], MMAPIO_SEAL_SHRINK | MMAPIO_SEAL_GROW),
      MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
}

TEST_CASE("mmapio_anon_recv: UNSUPPORTED when seals are required and the "
          "build has none",
          "[mmapio_anon_recv][errors][anon][ipc]") {
  if (has_seals())
    MMAPIO_SKIP_HAVING_CAP(MMAPIO_CAP_MEMFD_SEALS);
  SockPair sp;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon_recv(&m, sp.fd[1], MMAPIO_SEAL_SHRINK),
             MMAPIO_E_UNSUPPORTED);
  CHECK(m == map_sentinel());
}

TEST_CASE("mmapio_anon_recv: RESIZE_FAILED when the region is empty",
          "[mmapio_anon_recv][errors][anon][ipc][linux]") {
  int fd = ::memfd_create("empty", MFD_CLOEXEC);
  REQUIRE(fd >= 0);
  SockPair sp;
  send_raw(sp.fd[0], {fd});
  ::close(fd);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_anon_recv(&m, sp.fd[1], 0), MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
}

TEST_CASE("mmapio_anon_recv: IO when receiving fails or the peer is gone",
          "[mmapio_anon_recv][errors][anon][ipc]") {
  mmapio_map *m = map_sentinel();
  SECTION("the peer closed before sending") {
    SockPair sp;
    sp.close_end(0);
    CHECK_CODE(mmapio_anon_recv(&m, sp.fd[1], 0), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ECONNRESET);
  }
  SECTION("not a socket") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    const int rc = mmapio_anon_recv(&m, p[0], 0);
    const int e = mmapio_last_error()->os_errno;
    ::close(p[0]);
    ::close(p[1]);
    CHECK(rc == MMAPIO_E_IO);
    CHECK(e == ENOTSOCK);
  }
  CHECK(m == map_sentinel());
}

TEST_CASE("mmapio_anon_recv: NO_MEMORY when allocating the handle fails",
          "[mmapio_anon_recv][errors][anon][ipc]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  MapPtr a = new_anon(2 * kPage);
  SockPair sp;
  REQUIRE_OK(mmapio_anon_send(a.get(), sp.fd[0]));
  const int sock = sp.fd[1];
  ChildOutcome r = run_in_child([sock](int &) -> int {
    exhaust_memory_in_child();
    mmapio_map *m = map_sentinel();
    int rc = mmapio_anon_recv(&m, sock, 0);
    return m == map_sentinel() ? rc : 1000;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_anon_recv: the received handle shares the sender's "
          "memory",
          "[mmapio_anon_recv][mmapio_anon_send][anon][ipc][linux]") {
  MapPtr a = new_anon(3 * kPage + 11);
  SockPair sp;
  REQUIRE_OK(mmapio_anon_send(a.get(), sp.fd[0]));
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_recv(&raw, sp.fd[1], 0));
  MapPtr b(raw);
  CHECK(mmapio_len(b.get()) == 3 * kPage + 11);
  CHECK(mmapio_path(b.get()) == nullptr);
  CHECK(mmapio_base(b.get()) != mmapio_base(a.get()));
  CHECK((::fcntl(mmapio_fd(b.get()), F_GETFD) & FD_CLOEXEC) != 0);
  REQUIRE_OK(mmapio_update(a.get(), 3 * kPage, "hello", 5));
  char got[5] = {0};
  REQUIRE_OK(mmapio_read(b.get(), 3 * kPage, got, 5));
  CHECK(std::memcmp(got, "hello", 5) == 0);
  REQUIRE_OK(mmapio_update(b.get(), 7, "world", 5));
  REQUIRE_OK(mmapio_read(a.get(), 7, got, 5));
  CHECK(std::memcmp(got, "world", 5) == 0);
  // The receiver's handle is anonymous too: it can be sealed and sent on.
  CHECK_OK(mmapio_flush(b.get()));
  if (has_seals()) {
    REQUIRE_OK(mmapio_anon_seal(b.get(), MMAPIO_SEAL_GROW));
    unsigned s = 0;
    REQUIRE_OK(mmapio_anon_seals(a.get(), &s));
    CHECK(s == MMAPIO_SEAL_GROW);
  }
}

TEST_CASE("mmapio_anon_recv: only the first of several descriptors is "
          "kept",
          "[mmapio_anon_recv][anon][ipc]") {
  MapPtr a = new_anon(kPage);
  MapPtr b = new_anon(2 * kPage);
  SockPair sp;
  const size_t fds_before = open_fds();
  send_raw(sp.fd[0], {mmapio_fd(b.get()), mmapio_fd(a.get())});
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_recv(&raw, sp.fd[1], 0));
  MapPtr got(raw);
  CHECK(mmapio_len(got.get()) == 2 * kPage);
  CHECK(open_fds() == fds_before + 1); // only the kept one
}

TEST_CASE("mmapio_anon: a region passed over a socket to another process",
          "[mmapio_anon_send][mmapio_anon_recv][anon][ipc][linux]") {
  const bool sealed = GENERATE(false, true);
  if (sealed)
    MMAPIO_REQUIRE_CAP(MMAPIO_CAP_MEMFD_SEALS);
  INFO((sealed ? "sealed, seals required" : "unsealed"));
  MapPtr m = new_anon(8 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), 0, &kMagic, sizeof kMagic));
  const unsigned seals = sealed ? (MMAPIO_SEAL_SHRINK | MMAPIO_SEAL_GROW) : 0u;
  if (sealed)
    REQUIRE_OK(mmapio_anon_seal(m.get(), seals));
  SockPair sp;
  // The child's end survives exec; ours stays close-on-exec.
  REQUIRE(::fcntl(sp.fd[1], F_SETFD, 0) == 0);
  const pid_t pid =
      spawn_child("anon_receive_and_write",
                  {std::to_string(sp.fd[1]), std::to_string(seals)});
  REQUIRE(pid > 0);
  sp.close_end(1);
  REQUIRE_OK(mmapio_anon_send(m.get(), sp.fd[0]));
  const int st = wait_child(pid);
  INFO("child status " << st);
  REQUIRE(st == 0);
  char got[sizeof kChildBytes] = {0};
  REQUIRE_OK(mmapio_read(m.get(), kChildOff, got, sizeof got));
  CHECK(std::memcmp(got, kChildBytes, sizeof got) == 0);
  CHECK(mmapio_len(m.get()) == 8 * kPage);
}
