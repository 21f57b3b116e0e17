// Opening and closing: options, open_ex, create, open, open_or_create,
// unmap, close, accessors: the happy paths (errors: test_open_errors.cpp;
// mmapio_from_fd: test_from_fd.cpp; non-regular files and symlinks:
// test_security.cpp).
#include "support_open.hpp"
#include "support_proc.hpp"

#include <climits>
#include <fstream>
#include <sstream>

using namespace mmapio_test;

// ------------------------------------------------------------------
// Options
// ------------------------------------------------------------------

TEST_CASE("mmapio_options_init fills the defaults",
          "[mmapio_options_init][open]") {
  mmapio_options o;
  std::memset(&o, 0xA5, sizeof o);
  REQUIRE_OK(mmapio_options_init(&o));
  const mmapio_options want = MMAPIO_OPTIONS_INIT;
  CHECK(o.version == MMAPIO_OPTIONS_VERSION);
  CHECK(o.version == want.version);
  CHECK(o.mode == MMAPIO_MODE_RW);
  CHECK(o.size == 0);
  CHECK(o.flags == 0);
  CHECK(o.perm == 0644);
  CHECK(o.flush_policy == MMAPIO_FLUSH_MANUAL);
  CHECK(o.flush_arg == 0);
  CHECK(o.reserve == 0);
  CHECK(o.mode == want.mode);
  CHECK(o.perm == want.perm);
}

TEST_CASE("mmapio_options_init: INVALID_ARGUMENT when out is NULL",
          "[mmapio_options_init][errors][open]") {
  CHECK_CODE(mmapio_options_init(nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_max_size: 128 TiB on 64-bit, 2 GiB on 32-bit", "[open]") {
  if (sizeof(void *) == 8)
    CHECK(mmapio_max_size() == (uint64_t(128) << 40));
  else
    CHECK(mmapio_max_size() == (uint64_t(2) << 30));
}

// ------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------

TEST_CASE("mmapio_open: every mode maps the whole file",
          "[mmapio_open][open]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  MapPtr m = open_map(p, mode);
  CHECK(mmapio_len(m.get()) == kContent.size());
  CHECK_FALSE(mmapio_is_empty(m.get()));
  CHECK(mmapio_mode_of(m.get()) == mode);
  CHECK(mmapio_flush_policy_of(m.get()) == MMAPIO_FLUSH_MANUAL);
  CHECK(mmapio_pending(m.get()) == 0);
  REQUIRE(mmapio_path(m.get()) != nullptr);
  CHECK(std::string(mmapio_path(m.get())) == p);
  CHECK_BYTES(view_all(m.get()), kContent);

  std::string buf(kContent.size(), '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, &buf[0], buf.size()));
  CHECK_BYTES(buf, kContent);

  // The fd is the file's.
  const int fd = mmapio_fd(m.get());
  REQUIRE(fd >= 0);
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  CHECK(st.st_ino == stat_of(p).st_ino);
  CHECK(st.st_dev == stat_of(p).st_dev);

  // base is view(0)'s address, and views are base + off.
  const void *v0 = nullptr;
  const void *v10 = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, 0, &v0));
  REQUIRE_OK(mmapio_view(m.get(), 10, 1, &v10));
  CHECK(mmapio_base(m.get()) == v0);
  CHECK(static_cast<const char *>(v10) ==
        static_cast<const char *>(mmapio_base(m.get())) + 10);

  // Opening does not change the file.
  m.reset();
  CHECK_BYTES(read_bytes(p), kContent);
}

TEST_CASE("mmapio_open: RO on a zero-length file is an empty mapping",
          "[mmapio_open][open]") {
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  MapPtr m = open_map(p, MMAPIO_MODE_RO);
  CHECK(mmapio_len(m.get()) == 0);
  CHECK(mmapio_is_empty(m.get()));
  CHECK(mmapio_mode_of(m.get()) == MMAPIO_MODE_RO);
  const void *v = nullptr;
  CHECK_OK(mmapio_view(m.get(), 0, 0, &v));
  CHECK_OK(mmapio_read(m.get(), 0, nullptr, 0));
  CHECK_CODE(mmapio_view(m.get(), 0, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view(m.get(), 1, 0, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_fd(m.get()) >= 0);
}

TEST_CASE("mmapio_open_ex: OPEN maps an existing file in every mode",
          "[mmapio_open_ex][open]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_options o = default_options();
  o.mode = mode;
  o.size = 1; // ignored by OPEN
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN));
  MapPtr g(m);
  CHECK(mmapio_mode_of(m) == mode);
  CHECK(mmapio_len(m) == kContent.size());
  CHECK_BYTES(view_all(m), kContent);
  g.reset();
  CHECK_BYTES(read_bytes(p), kContent);
  CHECK(stat_of(p).st_size == static_cast<off_t>(kContent.size()));
}

TEST_CASE("mmapio_open_ex: CREATE creates or truncates to opts.size",
          "[mmapio_open_ex][open]") {
  TempDir d;
  const std::string p = d.path("f");
  mmapio_options o = default_options();
  o.size = 10000;
  SECTION("missing file is created") {}
  SECTION("existing larger file is truncated") { write_bytes(p, kContent); }
  SECTION("existing smaller file is reset and grown") {
    write_bytes(p, "abcdef");
  }
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_CREATE));
  MapPtr g(m);
  CHECK(mmapio_mode_of(m) == MMAPIO_MODE_RW);
  CHECK(mmapio_len(m) == 10000);
  CHECK_BYTES(view_all(m), std::string(10000, '\0'));
  CHECK(stat_of(p).st_size == 10000);
  CHECK_BYTES(read_bytes(p), std::string(10000, '\0'));
}

TEST_CASE("mmapio_open_ex: OPEN_OR_CREATE creates a missing file and keeps "
          "an existing one",
          "[mmapio_open_ex][open]") {
  TempDir d;
  const std::string p = d.path("f");
  mmapio_options o = default_options();
  o.size = 8192;
  SECTION("missing: created at opts.size") {
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN_OR_CREATE));
    MapPtr g(m);
    CHECK(mmapio_len(m) == 8192);
    CHECK(stat_of(p).st_size == 8192);
    CHECK_BYTES(view_all(m), std::string(8192, '\0'));
  }
  SECTION("existing: opened, content and size preserved") {
    write_bytes(p, kContent);
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN_OR_CREATE));
    MapPtr g(m);
    CHECK(mmapio_len(m) == kContent.size());
    CHECK_BYTES(view_all(m), kContent);
    g.reset();
    CHECK_BYTES(read_bytes(p), kContent);
  }
}

TEST_CASE("mmapio_open_ex: the flush policy is recorded on RW",
          "[mmapio_open_ex][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  struct Row {
    mmapio_flush_policy policy;
    uint64_t arg;
  };
  const Row rows[] = {{MMAPIO_FLUSH_MANUAL, 0},
                      {MMAPIO_FLUSH_ALWAYS, 0},
                      {MMAPIO_FLUSH_EVERY_BYTES, 100},
                      {MMAPIO_FLUSH_EVERY_WRITES, 3},
                      {MMAPIO_FLUSH_EVERY_MILLIS, 1000}};
  for (const Row &r : rows) {
    INFO("policy " << r.policy);
    mmapio_options o = default_options();
    o.flush_policy = r.policy;
    o.flush_arg = r.arg;
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_OPEN));
    MapPtr g(m);
    CHECK(mmapio_flush_policy_of(m) == r.policy);
  }
  CHECK(MMAPIO_FLUSH_NEVER == MMAPIO_FLUSH_MANUAL);
}

TEST_CASE("mmapio_create: a new zero-filled RW mapping of the size",
          "[mmapio_create][open]") {
  const uint64_t size = GENERATE(uint64_t(1), uint64_t(4095), uint64_t(4096),
                                 uint64_t(4097), uint64_t(1 << 20) + 3);
  INFO("size " << size);
  TempDir d;
  const std::string p = d.path("f");
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, p.c_str(), size));
  MapPtr g(m);
  CHECK(mmapio_len(m) == size);
  CHECK(mmapio_mode_of(m) == MMAPIO_MODE_RW);
  CHECK(mmapio_flush_policy_of(m) == MMAPIO_FLUSH_MANUAL);
  CHECK(stat_of(p).st_size == static_cast<off_t>(size));
  CHECK(S_ISREG(stat_of(p).st_mode));
  CHECK_BYTES(view_all(m), std::string(static_cast<size_t>(size), '\0'));
  REQUIRE(mmapio_path(m) != nullptr);
  CHECK(std::string(mmapio_path(m)) == p);
}

TEST_CASE("mmapio_open_or_create: creates at the default size",
          "[mmapio_open_or_create][open]") {
  TempDir d;
  const std::string p = d.path("f");
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_or_create(&m, p.c_str(), 5000));
  MapPtr g(m);
  CHECK(mmapio_len(m) == 5000);
  CHECK(mmapio_mode_of(m) == MMAPIO_MODE_RW);
  CHECK(stat_of(p).st_size == 5000);
  CHECK_BYTES(view_all(m), std::string(5000, '\0'));
}

TEST_CASE("mmapio_open_or_create: opens an existing file without truncating",
          "[mmapio_open_or_create][open]") {
  // The default size is smaller, larger, and 0 (only used when creating).
  const uint64_t dflt = GENERATE(uint64_t(0), uint64_t(10), uint64_t(1 << 20));
  INFO("default_size " << dflt);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const ino_t ino = stat_of(p).st_ino;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_or_create(&m, p.c_str(), dflt));
  MapPtr g(m);
  CHECK(mmapio_len(m) == kContent.size());
  CHECK(mmapio_mode_of(m) == MMAPIO_MODE_RW);
  CHECK_BYTES(view_all(m), kContent);
  g.reset();
  CHECK_BYTES(read_bytes(p), kContent);
  CHECK(stat_of(p).st_ino == ino);
}

TEST_CASE("mmapio_unmap: hands back a working fd", "[mmapio_unmap][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), MMAPIO_MODE_RW));
  const int lib_fd = mmapio_fd(m);
  REQUIRE_OK(mmapio_update(m, 0, "UPDATED", 7));
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m, &fd));
  REQUIRE(fd >= 0);
  CHECK(fd == lib_fd);
  CHECK(fd_open(fd));
  struct stat st;
  REQUIRE(::fstat(fd, &st) == 0);
  CHECK(st.st_ino == stat_of(p).st_ino);

  // The mapping's write is in the file.
  char buf[7];
  REQUIRE(::pread(fd, buf, 7, 0) == 7);
  CHECK(std::string(buf, 7) == "UPDATED");

  // A write through the fd is visible in a new mapping.
  REQUIRE(::pwrite(fd, "via-fd", 6, 100) == 6);
  ::close(fd);
  MapPtr again = open_map(p, MMAPIO_MODE_RO);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(again.get(), 100, 6, &v));
  CHECK_BYTES(std::string(static_cast<const char *>(v), 6), "via-fd");
}

TEST_CASE("mmapio_close: NULL is a no-op", "[mmapio_close][open]") {
  mmapio_clear_error();
  mmapio_close(nullptr);
  CHECK(mmapio_last_error()->code == 0);
}

TEST_CASE("mmapio_close: closes the fd", "[mmapio_close][open]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), mode));
  const int fd = mmapio_fd(m);
  REQUIRE(fd_open(fd));
  mmapio_close(m);
  CHECK(fd_closed(fd));
}

TEST_CASE("accessors: values for a NULL handle, no error set",
          "[access][open]") {
  mmapio_map *x = nullptr;
  REQUIRE_CODE(mmapio_open(&x, "", MMAPIO_MODE_RO), MMAPIO_E_IO);
  const mmapio_error before = *mmapio_last_error();
  CHECK(mmapio_len(nullptr) == 0);
  CHECK(mmapio_is_empty(nullptr));
  CHECK(mmapio_path(nullptr) == nullptr);
  CHECK(static_cast<int>(mmapio_mode_of(nullptr)) == 0);
  CHECK(mmapio_flush_policy_of(nullptr) == MMAPIO_FLUSH_MANUAL);
  CHECK(mmapio_pending(nullptr) == 0);
  CHECK(mmapio_fd(nullptr) == -1);
  CHECK(mmapio_base(nullptr) == nullptr);
  const mmapio_error *after = mmapio_last_error();
  CHECK(after->code == before.code);
  CHECK(after->os_errno == before.os_errno);
  CHECK(std::string(after->message) == before.message);
}
