// mmapio_from_fd: mapping a descriptor the caller opened, its happy
// paths and every documented error (the descriptor stays the caller's,
// untouched, when the call fails).
#include "support_open.hpp"
#include "support_proc.hpp"

#include <climits>
#include <fstream>
#include <sstream>

using namespace mmapio_test;

// ------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------

TEST_CASE("mmapio_from_fd: maps the fd and takes ownership",
          "[mmapio_from_fd][open]") {
  struct Row {
    mmapio_mode mode;
    int flags;
  };
  const Row row =
      GENERATE(Row{MMAPIO_MODE_RO, O_RDONLY}, Row{MMAPIO_MODE_RO, O_RDWR},
               Row{MMAPIO_MODE_RW, O_RDWR}, Row{MMAPIO_MODE_COW, O_RDONLY},
               Row{MMAPIO_MODE_COW, O_RDWR});
  INFO("mode " << row.mode << " flags " << row.flags);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const int fd = open_fd(p, row.flags);
  char name[64];
  std::snprintf(name, sizeof name, "%s", "informational-name");
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_from_fd(&m, fd, row.mode, name));
  std::snprintf(name, sizeof name, "%s", "changed-by-caller");
  CHECK(mmapio_fd(m) == fd);
  CHECK(mmapio_mode_of(m) == row.mode);
  CHECK(mmapio_len(m) == kContent.size());
  CHECK_BYTES(view_all(m), kContent);
  REQUIRE(mmapio_path(m) != nullptr);
  CHECK(std::string(mmapio_path(m)) == "informational-name");
  CHECK(fd_open(fd));
  mmapio_close(m);
  CHECK(fd_closed(fd));
}

TEST_CASE("mmapio_from_fd: path may be NULL", "[mmapio_from_fd][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const int fd = open_fd(p, O_RDONLY);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_from_fd(&m, fd, MMAPIO_MODE_RO, nullptr));
  MapPtr g(m);
  CHECK(mmapio_path(m) == nullptr);
  CHECK_BYTES(view_all(m), kContent);
}

TEST_CASE("mmapio_from_fd: RO on an empty file is an empty mapping",
          "[mmapio_from_fd][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", "");
  const int fd = open_fd(p, O_RDONLY);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_from_fd(&m, fd, MMAPIO_MODE_RO, p.c_str()));
  CHECK(mmapio_len(m) == 0);
  CHECK(mmapio_is_empty(m));
  mmapio_close(m);
  CHECK(fd_closed(fd));
}

// ------------------------------------------------------------------
// mmapio_from_fd errors (the fd stays the caller's, untouched)
// ------------------------------------------------------------------

TEST_CASE("mmapio_from_fd: INVALID_ARGUMENT when out is NULL",
          "[mmapio_from_fd][errors][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const int fd = open_fd(p, O_RDWR);
  REQUIRE(::lseek(fd, 3, SEEK_SET) == 3);
  const FdState before = fd_state(fd);
  CHECK_CODE(mmapio_from_fd(nullptr, fd, MMAPIO_MODE_RW, p.c_str()),
             MMAPIO_E_INVALID_ARGUMENT);
  check_fd_untouched(fd, before);
  ::close(fd);
}

TEST_CASE("mmapio_from_fd: INVALID_ARGUMENT when fd is negative",
          "[mmapio_from_fd][errors][open]") {
  const int fd = GENERATE(-1, -2, INT_MIN);
  INFO("fd " << fd);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_from_fd(&m, fd, MMAPIO_MODE_RO, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_from_fd: INVALID_ARGUMENT when the mode is unknown",
          "[mmapio_from_fd][errors][open]") {
  const int mode = GENERATE(0, 4, -1);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const int fd = open_fd(p, O_RDWR);
  const FdState before = fd_state(fd);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(from_fd_with_mode(&m, fd, mode, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(m == map_sentinel());
  check_fd_untouched(fd, before);
  ::close(fd);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_from_fd: INVALID_ARGUMENT when fd is not a regular file",
          "[mmapio_from_fd][errors][open][security]") {
  // Each fd's access mode permits the mode tried, so only the file type
  // is wrong (a pipe's ends and a directory cannot be opened O_RDWR).
  TempDir d;
  int fd = -1;
  int other = -1;
  std::vector<mmapio_mode> modes = {MMAPIO_MODE_RO, MMAPIO_MODE_COW};
  SECTION("a pipe") {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    fd = p[0];
    other = p[1];
  }
  SECTION("a directory") { fd = open_fd(d.dir(), O_RDONLY | O_DIRECTORY); }
  SECTION("/dev/null") {
    fd = open_fd("/dev/null", O_RDWR);
    modes.push_back(MMAPIO_MODE_RW);
  }
  SECTION("a FIFO opened O_RDWR") {
    REQUIRE(::mkfifo(d.path("fifo").c_str(), 0644) == 0);
    fd = open_fd(d.path("fifo"), O_RDWR);
    modes.push_back(MMAPIO_MODE_RW);
  }
  REQUIRE(fd >= 0);
  const FdState before = fd_state(fd);
  for (mmapio_mode mode : modes) {
    INFO("mode " << mode);
    mmapio_map *m = map_sentinel();
    CHECK_CODE(mmapio_from_fd(&m, fd, mode, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(m == map_sentinel());
    check_fd_untouched(fd, before);
    close_unless_sentinel(m);
  }
  ::close(fd);
  if (other >= 0)
    ::close(other);
}

TEST_CASE("mmapio_from_fd: INVALID_MODE when the fd's access mode does not "
          "permit mode",
          "[mmapio_from_fd][errors][open]") {
  struct Row {
    int flags;
    mmapio_mode mode;
  };
  const Row row =
      GENERATE(Row{O_RDONLY, MMAPIO_MODE_RW}, Row{O_WRONLY, MMAPIO_MODE_RW},
               Row{O_WRONLY, MMAPIO_MODE_RO}, Row{O_WRONLY, MMAPIO_MODE_COW});
  INFO("flags " << row.flags << " mode " << row.mode);
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const int fd = open_fd(p, row.flags);
  const FdState before = fd_state(fd);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_from_fd(&m, fd, row.mode, p.c_str()),
             MMAPIO_E_INVALID_MODE);
  CHECK(m == map_sentinel());
  check_fd_untouched(fd, before);
  ::close(fd);
  CHECK_BYTES(read_bytes(p), kContent);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_from_fd: RESIZE_FAILED when the file is empty and mode is "
          "RW or COW",
          "[mmapio_from_fd][errors][open]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  const int fd = open_fd(p, O_RDWR);
  const FdState before = fd_state(fd);
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_from_fd(&m, fd, mode, p.c_str()), MMAPIO_E_RESIZE_FAILED);
  CHECK(m == map_sentinel());
  check_fd_untouched(fd, before);
  ::close(fd);
  CHECK(stat_of(p).st_size == 0);
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_from_fd: IO when fd is not open (EBADF)",
          "[mmapio_from_fd][errors][open]") {
  const int fd = closed_fd_number();
  mmapio_map *m = map_sentinel();
  CHECK_CODE(mmapio_from_fd(&m, fd, MMAPIO_MODE_RO, nullptr), MMAPIO_E_IO);
  CHECK(mmapio_last_error()->os_errno == EBADF);
  CHECK(m == map_sentinel());
  CHECK(fd_closed(fd));
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_from_fd: NO_MEMORY when allocating the handle fails",
          "[mmapio_from_fd][errors][open]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  const int fd = open_fd(p, O_RDONLY);
  const ChildOutcome r = run_in_child([&](int &extra) {
    mmapio_map *m = map_sentinel();
    exhaust_memory_in_child();
    const int rc = mmapio_from_fd(&m, fd, MMAPIO_MODE_RO, nullptr);
    // 1: out untouched; 2: fd still open.
    extra = (m == map_sentinel() ? 1 : 0) | (fd_open(fd) ? 2 : 0);
    return rc;
  });
  ::close(fd);
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.code == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 3);
}
