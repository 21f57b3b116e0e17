// Every documented error of opening: mmapio_open_ex, mmapio_create,
// mmapio_open, mmapio_open_or_create and mmapio_unmap (the happy paths:
// test_open.cpp; mmapio_from_fd: test_from_fd.cpp; non-regular files and
// symlinks: test_security.cpp).
#include "support_open.hpp"
#include "support_proc.hpp"

#include <climits>
#include <fstream>
#include <sstream>

using namespace mmapio_test;

// ------------------------------------------------------------------
// mmapio_open_ex errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when out, path or opts is NULL",
          "[mmapio_open_ex][errors][open]") {
  TempDir d;
  const std::string p = d.path("f");
  mmapio_options o = default_options();
  o.size = 4096;
  mmapio_map *m = map_sentinel();
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_open_ex(nullptr, p.c_str(), &o, MMAPIO_CREATE),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK_FALSE(path_exists(p));
  }
  SECTION("path is NULL") {
    CHECK_CODE(mmapio_open_ex(&m, nullptr, &o, MMAPIO_CREATE),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("opts is NULL") {
    CHECK_CODE(mmapio_open_ex(&m, p.c_str(), nullptr, MMAPIO_CREATE),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK_FALSE(path_exists(p));
  }
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when opts->version is not "
          "MMAPIO_OPTIONS_VERSION",
          "[mmapio_open_ex][errors][open]") {
  const unsigned version = GENERATE(0u, 2u, 0xFFFFFFFFu);
  INFO("version " << version);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.version = version;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
             MMAPIO_E_INVALID_ARGUMENT);
  o.size = 4096;
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_CREATE),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(p), kContent);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when a flag is unknown",
          "[mmapio_open_ex][errors][open]") {
  // Bits outside MMAPIO_OPT_ALL_: the lowest one, the highest one, all.
  const unsigned unknown = ~MMAPIO_OPT_ALL_;
  const unsigned flag =
      GENERATE_COPY(unknown & (0u - unknown), 0x80000000u, unknown,
                    MMAPIO_OPT_NOFOLLOW | (unknown & (0u - unknown)));
  INFO("flags " << flag);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.flags = flag;
  o.size = 4096;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_CREATE),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(
      mmapio_open_ex(&m, d.path("new").c_str(), &o, MMAPIO_OPEN_OR_CREATE),
      MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(p), kContent);
  CHECK_FALSE(path_exists(d.path("new")));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when the mode is unknown",
          "[mmapio_open_ex][errors][open]") {
  const int mode = GENERATE(0, 4, 100, -1);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  std::memcpy(&o.mode, &mode, sizeof o.mode);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when the flush policy is unknown",
          "[mmapio_open_ex][errors][open]") {
  const int policy = GENERATE(int(MMAPIO_FLUSH_EVERY_MILLIS) + 1, 100, -1);
  INFO("policy " << policy);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  std::memcpy(&o.flush_policy, &policy, sizeof o.flush_policy);
  o.flush_arg = 10;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when the disposition is unknown",
          "[mmapio_open_ex][errors][open]") {
  const int how = GENERATE(0, 4, 100, -1);
  INFO("disposition " << how);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.size = 4096;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(open_ex_with_disposition(&m, p.c_str(), &o, how),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(open_ex_with_disposition(&m, d.path("new").c_str(), &o, how),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(p), kContent);
  CHECK_FALSE(path_exists(d.path("new")));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when a flush policy other than "
          "MANUAL is set on a non-RW mode",
          "[mmapio_open_ex][errors][open]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  const mmapio_flush_policy policy =
      GENERATE(MMAPIO_FLUSH_ALWAYS, MMAPIO_FLUSH_EVERY_BYTES,
               MMAPIO_FLUSH_EVERY_WRITES, MMAPIO_FLUSH_EVERY_MILLIS);
  INFO("mode " << mode << " policy " << policy);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.mode = mode;
  o.flush_policy = policy;
  o.flush_arg = 4096;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when an EVERY_* policy has "
          "flush_arg 0",
          "[mmapio_open_ex][errors][open]") {
  const mmapio_flush_policy policy =
      GENERATE(MMAPIO_FLUSH_EVERY_BYTES, MMAPIO_FLUSH_EVERY_WRITES,
               MMAPIO_FLUSH_EVERY_MILLIS);
  INFO("policy " << policy);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.flush_policy = policy;
  o.flush_arg = 0;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
             MMAPIO_E_INVALID_ARGUMENT);
  o.size = 4096;
  CHECK_CODE(mmapio_open_ex(&m, d.path("new").c_str(), &o, MMAPIO_CREATE),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  CHECK_FALSE(path_exists(d.path("new")));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when CREATE or OPEN_OR_CREATE "
          "asks for a mode other than RW",
          "[mmapio_open_ex][errors][open]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  INFO("mode " << mode << " disposition " << how);
  TempDir d;
  const std::string existing = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.mode = mode;
  o.size = 4096;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, existing.c_str(), &o, how),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_open_ex(&m, d.path("new").c_str(), &o, how),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(existing), kContent);
  CHECK_FALSE(path_exists(d.path("new")));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: RESIZE_FAILED when creating with size 0",
          "[mmapio_open_ex][errors][open]") {
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  INFO("disposition " << how);
  TempDir d;
  mmapio_options o = default_options();
  o.size = 0;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, d.path("new").c_str(), &o, how),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  CHECK_FALSE(path_exists(d.path("new")));
  if (how == MMAPIO_CREATE) {
    // An existing file is not truncated by a refused create.
    write_bytes(d.path("f"), kContent);
    CHECK_CODE(mmapio_open_ex(&m, d.path("f").c_str(), &o, how),
               MMAPIO_E_RESIZE_FAILED);
    CHECK_BYTES(read_bytes(d.path("f")), kContent);
    CHECK(m == map_sentinel());
  }
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: RESIZE_FAILED when creating above "
          "mmapio_max_size()",
          "[mmapio_open_ex][errors][open]") {
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  const uint64_t size = GENERATE(mmapio_max_size() + 1, UINT64_MAX);
  INFO("disposition " << how << " size " << size);
  TempDir d;
  mmapio_options o = default_options();
  o.size = size;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, d.path("new").c_str(), &o, how),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  CHECK_FALSE(path_exists(d.path("new")));
  if (how == MMAPIO_CREATE) {
    write_bytes(d.path("f"), kContent);
    CHECK_CODE(mmapio_open_ex(&m, d.path("f").c_str(), &o, how),
               MMAPIO_E_RESIZE_FAILED);
    CHECK_BYTES(read_bytes(d.path("f")), kContent);
  }
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open, mmapio_create: the handle's descriptor is blocking "
          "(O_NONBLOCK only guards the open against FIFOs)",
          "[mmapio_open][mmapio_create][open]") {
  TempDir d;
  const std::string p = d.path("f");
  MapPtr w = create_map(p, mmapio_page_size());
  CHECK((::fcntl(mmapio_fd(w.get()), F_GETFL) & O_NONBLOCK) == 0);
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW, MMAPIO_MODE_RW);
  CAPTURE(mode);
  MapPtr m = open_map(p, mode);
  CHECK((::fcntl(mmapio_fd(m.get()), F_GETFL) & O_NONBLOCK) == 0);
  // The same for the descriptor mmapio_unmap hands back, untouched by
  // mmapio_fd before.
  mmapio_map *u = nullptr;
  REQUIRE_OK(mmapio_open(&u, p.c_str(), mode));
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(u, &fd));
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
  ::close(fd);
}

TEST_CASE("mmapio_open: files past 2 GiB use 64-bit offsets, and above "
          "mmapio_max_size() they are refused with their size",
          "[mmapio_open][errors][open][sparse]") {
  // 3 GiB, sparse, with one byte written near the end. A 32-bit build
  // with a 32-bit off_t could not even open it (EOVERFLOW from open).
  TempDir d;
  const std::string p = d.path("big");
  const uint64_t size = uint64_t{3} << 30;
  {
    const int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    const bool sized = ::ftruncate(fd, static_cast<off_t>(size)) == 0;
    const bool wrote = ::pwrite(fd, "z", 1, static_cast<off_t>(size - 10)) == 1;
    ::close(fd);
    if (!sized)
      MMAPIO_SKIP("the file system refuses a 3 GiB sparse file");
    REQUIRE(wrote);
  }
  mmapio_map *m = map_sentinel();
  const int rc = mmapio_open(&m, p.c_str(), MMAPIO_MODE_RO);
  if (size <= mmapio_max_size()) {
    REQUIRE_OK(rc);
    MapPtr h(m);
    CHECK(mmapio_len(h.get()) == size);
    char c = 0;
    REQUIRE_OK(mmapio_read(h.get(), size - 10, &c, 1));
    CHECK(c == 'z');
  } else {
    CHECK_CODE(rc, MMAPIO_E_IO);
    CHECK(m == map_sentinel());
    const mmapio_error *e = mmapio_last_error();
    CHECK(e->os_errno == EOVERFLOW);
    CHECK(e->syscall == nullptr); // the library's own size check
    CHECK(std::string(e->message).find(std::to_string(size)) !=
          std::string::npos);
  }
}

TEST_CASE("mmapio_open_ex: RESIZE_FAILED when opening a zero-length file RW "
          "or COW",
          "[mmapio_open_ex][errors][open]") {
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  mmapio_options o = default_options();
  mmapio_map *m = map_sentinel();
  SECTION("OPEN RW") {
    o.mode = MMAPIO_MODE_RW;
    CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
               MMAPIO_E_RESIZE_FAILED);
  }
  SECTION("OPEN COW") {
    o.mode = MMAPIO_MODE_COW;
    CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN),
               MMAPIO_E_RESIZE_FAILED);
  }
  SECTION("OPEN_OR_CREATE on an existing empty file") {
    o.size = 4096;
    CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN_OR_CREATE),
               MMAPIO_E_RESIZE_FAILED);
  }
  CHECK(m == map_sentinel());
  CHECK(stat_of(p).st_size == 0);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: RESIZE_FAILED when preallocation fails",
          "[mmapio_open_ex][errors][open][linux]") {
  // tmpfs refuses a fallocate larger than the filesystem up front (ENOSPC)
  // without using memory, while the sparse ftruncate succeeds.
  const std::string base = tmpfs_base();
  if (base.empty()) {
    MMAPIO_SKIP("no tmpfs at /dev/shm to provoke ENOSPC from "
                "posix_fallocate");
  }
  TempDir d(base);
  struct statfs sf;
  REQUIRE(::statfs(d.dir().c_str(), &sf) == 0);
  const uint64_t capacity = uint64_t(sf.f_blocks) * uint64_t(sf.f_bsize);
  if (capacity == 0 || capacity + (uint64_t(1) << 30) > mmapio_max_size()) {
    MMAPIO_SKIP("tmpfs at " << base << " has no usable size limit");
  }
  const uint64_t size = capacity + (uint64_t(1) << 30);
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  INFO("disposition " << how << " size " << size << " capacity " << capacity);
  mmapio_options o = default_options();
  o.size = size;
  o.flags = MMAPIO_OPT_PREALLOCATE;
  mmapio_map *m = map_sentinel();
  const std::string p = d.path("f");
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, how), MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  CHECK(mmapio_last_error()->os_errno == ENOSPC);
  if (how == MMAPIO_OPEN_OR_CREATE) {
    // The file appears under its name only once fully sized.
    CHECK_FALSE(path_exists(p));
  }
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: IO when the file is missing (OPEN)",
          "[mmapio_open_ex][errors][open]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  TempDir d;
  const std::string p = d.path("missing");
  mmapio_options o = default_options();
  o.mode = mode;
  o.size = 4096;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN), MMAPIO_E_IO);
  CHECK(mmapio_last_error()->os_errno == ENOENT);
  CHECK(m == map_sentinel());
  CHECK_FALSE(path_exists(p));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: IO when another OS failure occurs",
          "[mmapio_open_ex][errors][open]") {
  TempDir d;
  write_bytes(d.path("file"), kContent);
  mmapio_options o = default_options();
  o.size = 4096;
  mmapio_map *m = map_sentinel();
  const mmapio_disposition how =
      GENERATE(MMAPIO_OPEN, MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  INFO("disposition " << how);
  SECTION("a path component is not a directory (ENOTDIR)") {
    CHECK_CODE(mmapio_open_ex(&m, d.path("file/x").c_str(), &o, how),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
  }
  SECTION("the parent directory is missing (ENOENT)") {
    CHECK_CODE(mmapio_open_ex(&m, d.path("nodir/x").c_str(), &o, how),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
  }
  SECTION("a name is too long (ENAMETOOLONG)") {
    const std::string p = d.path(std::string(300, 'n'));
    CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, how), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENAMETOOLONG);
  }
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(d.path("file")), kContent);
  close_unless_sentinel(m);
}

namespace {
// A sparse file just above mmapio_max_size(), or "" (with the reason in
// *why) when no filesystem here allows one.
std::string make_oversized_file(const TempDir &d, const TempDir *tmpfs_dir,
                                std::string *why) {
  const off_t size = static_cast<off_t>(mmapio_max_size() + 4096);
  for (const TempDir *t : {&d, tmpfs_dir}) {
    if (t == nullptr)
      continue;
    const std::string p = t->path("huge");
    int fd = ::open(p.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
      continue;
    const int rc = ::ftruncate(fd, size);
    const int e = errno;
    ::close(fd);
    if (rc == 0)
      return p;
    ::unlink(p.c_str());
    *why += "ftruncate to " + std::to_string(size) + " in " + t->dir() + ": " +
            std::strerror(e) + "; ";
  }
  return "";
}
} // namespace

TEST_CASE("mmapio_open_ex: IO when the file is too large for the address "
          "space",
          "[mmapio_open_ex][errors][open][linux]") {
  if (sizeof(void *) != 8) {
    MMAPIO_SKIP("needs a 64-bit build (a sparse file above max_size)");
  }
  TempDir d;
  const std::string tb = tmpfs_base();
  std::unique_ptr<TempDir> td(tb.empty() ? nullptr : new TempDir(tb));
  std::string why;
  const std::string p = make_oversized_file(d, td.get(), &why);
  if (p.empty()) {
    MMAPIO_SKIP("no filesystem allows a file above mmapio_max_size(): " << why);
  }
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode << " file " << p);
  mmapio_options o = default_options();
  o.mode = mode;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN), MMAPIO_E_IO);
  CHECK(mmapio_last_error()->os_errno == EOVERFLOW);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_ex: NO_MEMORY when allocating the handle fails",
          "[mmapio_open_ex][errors][open]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  const mmapio_options o = [] {
    mmapio_options x = MMAPIO_OPTIONS_INIT;
    x.mode = MMAPIO_MODE_RO;
    return x;
  }();
  // RO on an empty file maps nothing: the only allocation left is the
  // handle's.
  const ChildOutcome r = open_without_memory([&](mmapio_map **m) {
    return mmapio_open_ex(m, p.c_str(), &o, MMAPIO_OPEN);
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.code == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

namespace {
// VmSize of this process in bytes (0 if unknown).
uint64_t vm_size() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 7, "VmSize:") == 0) {
      std::istringstream ss(line.substr(7));
      uint64_t kb = 0;
      ss >> kb;
      return kb * 1024;
    }
  }
  return 0;
}
} // namespace

// Runs in a freshly exec'd test binary (no cached thread stacks): with
// RLIMIT_AS just above the current size, the 4 KiB mapping fits but no
// thread stack does. Exit status: 0 as documented; else see the parent.
MMAPIO_CHILD(open_ex_flusher_cannot_start) {
  if (argc < 1)
    return 100;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.reserve = 4096;
  o.flush_policy = MMAPIO_FLUSH_EVERY_MILLIS;
  o.flush_arg = 1000;
  const uint64_t vm = vm_size();
  if (vm == 0)
    return 101;
  struct rlimit rl;
  if (::getrlimit(RLIMIT_AS, &rl) != 0)
    return 102;
  rl.rlim_cur = vm + (1 << 20);
  if (::setrlimit(RLIMIT_AS, &rl) != 0)
    return 102;
  mmapio_map *m = map_sentinel();
  const int rc = mmapio_open_ex(&m, argv[0], &o, MMAPIO_OPEN);
  if (rc == 0)
    return 10;
  if (rc != MMAPIO_E_IO)
    return 20 - rc; // 21..35: the code returned instead
  if (m != map_sentinel())
    return 50;
  const mmapio_error *e = mmapio_last_error();
  if (e->syscall == nullptr || std::strcmp(e->syscall, "pthread_create") != 0)
    return 51;
  if (e->os_errno == 0)
    return 52;
  return 0;
}

TEST_CASE("mmapio_open_ex: IO when the EVERY_MILLIS flusher thread cannot be "
          "started",
          "[mmapio_open_ex][errors][open]") {
  std::string why;
  if (!allocation_failure_testable(&why)) {
    // The sanitizer runtime itself fails under the low RLIMIT_AS.
    MMAPIO_SKIP(why);
  }
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const int st = run_child("open_ex_flusher_cannot_start", {p});
  INFO("child status " << st
                       << " (10: succeeded; 21..35: returned code 20-status; "
                          "50: out touched; 51: syscall not pthread_create; "
                          "52: no errno; 10x: setup failed; negative: "
                          "signal)");
  CHECK(st == 0);
  CHECK_BYTES(read_bytes(p), kContent);
}

// ------------------------------------------------------------------
// mmapio_create errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_create: INVALID_ARGUMENT when out or path is NULL",
          "[mmapio_create][errors][open]") {
  TempDir d;
  const std::string p = d.path("f");
  mmapio_map *m = map_sentinel();
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_create(nullptr, p.c_str(), 4096),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK_FALSE(path_exists(p));
  }
  SECTION("out is NULL, file exists") {
    write_bytes(p, kContent);
    CHECK_CODE(mmapio_create(nullptr, p.c_str(), 4096),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK_BYTES(read_bytes(p), kContent);
  }
  SECTION("path is NULL") {
    CHECK_CODE(mmapio_create(&m, nullptr, 4096), MMAPIO_E_INVALID_ARGUMENT);
  }
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_create: RESIZE_FAILED when size is 0",
          "[mmapio_create][errors][open]") {
  TempDir d;
  mmapio_map *m = map_sentinel();
  SECTION("missing file: not created") {
    CHECK_CODE(mmapio_create(&m, d.path("new").c_str(), 0),
               MMAPIO_E_RESIZE_FAILED);
    CHECK_FALSE(path_exists(d.path("new")));
  }
  SECTION("existing file: content kept") {
    const std::string p = make_file(d, "f", kContent);
    CHECK_CODE(mmapio_create(&m, p.c_str(), 0), MMAPIO_E_RESIZE_FAILED);
    CHECK_BYTES(read_bytes(p), kContent);
  }
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_create: RESIZE_FAILED when size is above mmapio_max_size()",
          "[mmapio_create][errors][open]") {
  const uint64_t size =
      GENERATE(mmapio_max_size() + 1, UINT64_MAX, uint64_t(INT64_MAX) + 1);
  INFO("size " << size);
  TempDir d;
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_create(&m, d.path("new").c_str(), size),
             MMAPIO_E_RESIZE_FAILED);
  CHECK_FALSE(path_exists(d.path("new")));
  const std::string p = make_file(d, "f", kContent);
  CHECK_CODE(mmapio_create(&m, p.c_str(), size), MMAPIO_E_RESIZE_FAILED);
  CHECK_BYTES(read_bytes(p), kContent);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_create: IO when the file cannot be created",
          "[mmapio_create][errors][open]") {
  TempDir d;
  write_bytes(d.path("file"), kContent);
  mmapio_map *m = map_sentinel();
  SECTION("parent directory missing (ENOENT)") {
    CHECK_CODE(mmapio_create(&m, d.path("nodir/f").c_str(), 4096), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
    REQUIRE(mmapio_last_error()->syscall != nullptr);
  }
  SECTION("a path component is a file (ENOTDIR)") {
    CHECK_CODE(mmapio_create(&m, d.path("file/f").c_str(), 4096), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
  }
  SECTION("empty path (ENOENT)") {
    CHECK_CODE(mmapio_create(&m, "", 4096), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
  }
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(d.path("file")), kContent);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_create: IO when the file cannot be sized",
          "[mmapio_create][errors][open]") {
  // RLIMIT_FSIZE makes ftruncate fail with EFBIG (SIGXFSZ ignored), in a
  // child so the limit does not leak into other tests.
  TempDir d;
  const std::string p = d.path("f");
  const ChildOutcome r = run_in_child([&](int &extra) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    rl.rlim_cur = 1 << 20;
    rl.rlim_max = 1 << 20;
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0)
      return 1000;
    mmapio_map *m = map_sentinel();
    const int rc = mmapio_create(&m, p.c_str(), 2 << 20);
    extra = m == map_sentinel() ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_IO);
  CHECK(r.os_errno == EFBIG);
  CHECK(std::string(r.syscall) == "ftruncate");
  CHECK(r.extra == 1);
}

TEST_CASE("mmapio_create: NO_MEMORY when allocating the handle fails",
          "[mmapio_create][errors][open]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = d.path("f");
  const ChildOutcome r = open_without_memory(
      [&](mmapio_map **m) { return mmapio_create(m, p.c_str(), 4096); });
  INFO(r.describe());
  REQUIRE(r.reported);
  // The handle's allocation and the mapping's address space both come
  // from the exhausted pool; if the library maps before allocating, the
  // mmap fails first (IO with ENOMEM). Either way: a clean failure;
  // NO_MEMORY itself is covered by the RO tests.
  check_out_of_memory(r, "mmapio_create");
  CHECK(r.extra == 1);
}

// ------------------------------------------------------------------
// mmapio_open errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_open: INVALID_ARGUMENT when out or path is NULL",
          "[mmapio_open][errors][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_map *m = map_sentinel();
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_open(nullptr, p.c_str(), MMAPIO_MODE_RO),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("path is NULL") {
    CHECK_CODE(mmapio_open(&m, nullptr, MMAPIO_MODE_RO),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open: INVALID_ARGUMENT when the mode is unknown",
          "[mmapio_open][errors][open]") {
  const int mode = GENERATE(0, 4, 100, -1);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(open_with_mode(&m, p.c_str(), mode), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(p), kContent);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open: RESIZE_FAILED when the file is empty and mode is RW "
          "or COW",
          "[mmapio_open][errors][open]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open(&m, p.c_str(), mode), MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  CHECK(stat_of(p).st_size == 0);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open: IO when the file is missing",
          "[mmapio_open][errors][open]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = d.path("missing");
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open(&m, p.c_str(), mode), MMAPIO_E_IO);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == ENOENT);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "open");
  CHECK(m == map_sentinel());
  CHECK_FALSE(path_exists(p));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open: IO when another OS failure occurs",
          "[mmapio_open][errors][open][linux]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  TempDir d;
  write_bytes(d.path("file"), kContent);
  mmapio_map *m = map_sentinel();
  SECTION("a path component is not a directory (ENOTDIR)") {
    CHECK_CODE(mmapio_open(&m, d.path("file/x").c_str(), mode), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
  }
  SECTION("a symlink loop (ELOOP)") {
    REQUIRE(::symlink("loop", d.path("loop").c_str()) == 0);
    CHECK_CODE(mmapio_open(&m, d.path("loop").c_str(), mode), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ELOOP);
  }
  SECTION("a name is too long (ENAMETOOLONG)") {
    CHECK_CODE(mmapio_open(&m, d.path(std::string(300, 'n')).c_str(), mode),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENAMETOOLONG);
  }
  SECTION("the file is larger than the address space (EOVERFLOW)") {
    const std::string tb = tmpfs_base();
    std::unique_ptr<TempDir> td(tb.empty() ? nullptr : new TempDir(tb));
    std::string why;
    const std::string p = make_oversized_file(d, td.get(), &why);
    if (p.empty() || sizeof(void *) != 8) {
      MMAPIO_NOTE_SKIP("no file above mmapio_max_size() possible: " << why);
    } else {
      CHECK_CODE(mmapio_open(&m, p.c_str(), mode), MMAPIO_E_IO);
      CHECK(mmapio_last_error()->os_errno == EOVERFLOW);
    }
  }
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open: NO_MEMORY when allocating the handle fails",
          "[mmapio_open][errors][open]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  const ChildOutcome r = open_without_memory([&](mmapio_map **m) {
    return mmapio_open(m, p.c_str(), MMAPIO_MODE_RO);
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.code == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

// ------------------------------------------------------------------
// mmapio_open_or_create errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_open_or_create: INVALID_ARGUMENT when out or path is NULL",
          "[mmapio_open_or_create][errors][open]") {
  TempDir d;
  const std::string p = d.path("f");
  mmapio_map *m = map_sentinel();
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_open_or_create(nullptr, p.c_str(), 4096),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK_FALSE(path_exists(p));
  }
  SECTION("path is NULL") {
    CHECK_CODE(mmapio_open_or_create(&m, nullptr, 4096),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_or_create: RESIZE_FAILED when the file must be "
          "created and default_size is 0 or above mmapio_max_size()",
          "[mmapio_open_or_create][errors][open]") {
  const uint64_t size =
      GENERATE(uint64_t(0), mmapio_max_size() + 1, UINT64_MAX);
  INFO("default_size " << size);
  TempDir d;
  const std::string p = d.path("new");
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_or_create(&m, p.c_str(), size),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  CHECK_FALSE(path_exists(p));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_or_create: RESIZE_FAILED when the file exists but is "
          "empty",
          "[mmapio_open_or_create][errors][open]") {
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_open_or_create(&m, p.c_str(), 4096),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  CHECK(stat_of(p).st_size == 0);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_or_create: IO when an OS call fails",
          "[mmapio_open_or_create][errors][open]") {
  TempDir d;
  write_bytes(d.path("file"), kContent);
  mmapio_map *m = map_sentinel();
  SECTION("parent directory missing (ENOENT)") {
    CHECK_CODE(mmapio_open_or_create(&m, d.path("nodir/f").c_str(), 4096),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
  }
  SECTION("a path component is a file (ENOTDIR)") {
    CHECK_CODE(mmapio_open_or_create(&m, d.path("file/f").c_str(), 4096),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
  }
  CHECK(m == map_sentinel());
  CHECK_BYTES(read_bytes(d.path("file")), kContent);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_open_or_create: NO_MEMORY when allocating the handle fails",
          "[mmapio_open_or_create][errors][open]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const ChildOutcome r = open_without_memory([&](mmapio_map **m) {
    return mmapio_open_or_create(m, p.c_str(), 4096);
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  check_out_of_memory(r, "mmapio_open_or_create");
  CHECK(r.extra == 1);
  CHECK_BYTES(read_bytes(p), kContent);
}

// ------------------------------------------------------------------
// mmapio_unmap errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_unmap: INVALID_ARGUMENT when m or out_fd is NULL",
          "[mmapio_unmap][errors][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  SECTION("m is NULL") {
    int fd = -7;
    CHECK_CODE(mmapio_unmap(nullptr, &fd), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(fd == -7);
  }
  SECTION("out_fd is NULL: the handle stays usable") {
    MapPtr m = open_map(p, MMAPIO_MODE_RW);
    const int lib_fd = mmapio_fd(m.get());
    CHECK_CODE(mmapio_unmap(m.get(), nullptr), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(mmapio_len(m.get()) == kContent.size());
    CHECK(fd_open(lib_fd));
    CHECK_BYTES(view_all(m.get()), kContent);
    CHECK_OK(mmapio_update(m.get(), 0, "x", 1));
  }
}

TEST_CASE("mmapio_unmap: BUSY when a pin is alive",
          "[mmapio_unmap][errors][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  MapPtr m = open_map(p, MMAPIO_MODE_RW);
  mmapio_pin pin;
  REQUIRE_OK(mmapio_pin_range(&pin, m.get(), 0, 100));
  int fd = -7;
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  CHECK(fd == -7);
  // The handle is unchanged and still usable.
  CHECK(mmapio_len(m.get()) == kContent.size());
  CHECK_BYTES(view_all(m.get()), kContent);
  CHECK_OK(mmapio_update(m.get(), 0, "Z", 1));
  CHECK(fd_open(mmapio_fd(m.get())));
  mmapio_unpin(&pin);
  // Without the pin it works.
  mmapio_map *raw = m.release();
  REQUIRE_OK(mmapio_unmap(raw, &fd));
  CHECK(fd >= 0);
  CHECK(fd_open(fd));
  ::close(fd);
  CHECK_BYTES(read_bytes(p).substr(0, 1), "Z");
}
