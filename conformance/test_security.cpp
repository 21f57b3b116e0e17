// Security: symlinks and MMAPIO_OPT_NOFOLLOW, non-regular files (never a
// hang), close-on-exec, creation permission bits, replacement on create.
#include "support.hpp"

#include <algorithm>
#include <dirent.h>
#include <set>
#include <sys/socket.h>
#include <sys/un.h>

using namespace mmapio_test;

namespace {

const std::string kContent = pattern_bytes(2 * 4096 + 77, 11);

// ---- non-regular files ---------------------------------------------

enum class Kind { Fifo, Directory, DevNull, Socket };

const char *kind_name(Kind k) {
  static const char *const names[] = {"FIFO", "directory", "/dev/null",
                                      "Unix socket"};
  return enum_name(k, names);
}

// A non-regular file of the given kind, and what it looked like.
class Special {
public:
  Special(const TempDir &d, Kind k) : kind_(k) {
    switch (k) {
    case Kind::Fifo:
      path_ = d.path("fifo");
      if (::mkfifo(path_.c_str(), 0644) != 0)
        throw std::runtime_error("mkfifo failed");
      break;
    case Kind::Directory:
      path_ = d.path("dir");
      if (::mkdir(path_.c_str(), 0755) != 0)
        throw std::runtime_error("mkdir failed");
      write_bytes(path_ + "/inside", "keep");
      break;
    case Kind::DevNull:
      path_ = "/dev/null";
      break;
    case Kind::Socket: {
      path_ = d.path("sock");
      sock_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (sock_ < 0)
        throw std::runtime_error("socket failed");
      struct sockaddr_un a;
      std::memset(&a, 0, sizeof a);
      a.sun_family = AF_UNIX;
      if (path_.size() >= sizeof a.sun_path)
        throw std::runtime_error("socket path too long: " + path_);
      std::memcpy(a.sun_path, path_.c_str(), path_.size() + 1);
      if (::bind(sock_, reinterpret_cast<struct sockaddr *>(&a), sizeof a) != 0)
        throw std::runtime_error("bind failed");
      if (::listen(sock_, 1) != 0)
        throw std::runtime_error("listen failed");
      break;
    }
    }
    if (::lstat(path_.c_str(), &st_) != 0)
      throw std::runtime_error("lstat of special file failed");
    dir_listing_ = dir_listing(d.dir());
    dir_ = d.dir();
  }
  Special(const Special &) = delete;
  Special &operator=(const Special &) = delete;
  ~Special() {
    if (sock_ >= 0)
      ::close(sock_);
  }
  const std::string &path() const { return path_; }

  // The special file and the test directory are exactly as before.
  void check_unchanged() const {
    struct stat now;
    INFO(kind_name(kind_) << " at " << path_ << " must be unchanged");
    REQUIRE(::lstat(path_.c_str(), &now) == 0);
    CHECK((now.st_mode & S_IFMT) == (st_.st_mode & S_IFMT));
    CHECK(now.st_ino == st_.st_ino);
    CHECK(now.st_dev == st_.st_dev);
    CHECK(now.st_rdev == st_.st_rdev);
    CHECK((now.st_mode & 07777) == (st_.st_mode & 07777));
    if (kind_ == Kind::Directory)
      CHECK_BYTES(read_bytes(path_ + "/inside"), "keep");
    CHECK(dir_listing(dir_) == dir_listing_);
  }

private:
  Kind kind_;
  std::string path_;
  std::string dir_;
  std::vector<std::string> dir_listing_;
  struct stat st_;
  int sock_ = -1;
};

// Runs call in a child (hang guard) and checks it returned
// INVALID_ARGUMENT without touching *out.
template <class Call> void expect_rejected_in_child(Call call) {
  const ChildOutcome r = run_in_child([&](int &extra) {
    mmapio_map *m = map_sentinel();
    const int rc = call(&m);
    extra = m == map_sentinel() ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.exited);
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(r.code == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(r.extra == 1);
}

// ---- file descriptors ----------------------------------------------

// The open descriptors (without the one used to list them).
std::set<int> open_fds() {
  std::set<int> fds;
  DIR *dp = ::opendir("/proc/self/fd");
  if (dp == nullptr)
    return fds;
  const int own = ::dirfd(dp);
  while (struct dirent *e = ::readdir(dp)) {
    if (e->d_name[0] == '.')
      continue;
    const int fd = std::atoi(e->d_name);
    if (fd != own)
      fds.insert(fd);
  }
  ::closedir(dp);
  return fds;
}

// Every fd in now but not in before has FD_CLOEXEC (ignoring one that
// was closed between the scans, e.g. the DIR's own).
void check_new_fds_cloexec(const std::set<int> &before,
                           const std::set<int> &now) {
  int checked = 0;
  for (int fd : now) {
    if (before.count(fd) != 0)
      continue;
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags == -1)
      continue;
    char target[512] = {0};
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    if (n > 0)
      target[n] = '\0';
    INFO("fd " << fd << " -> " << target);
    CHECK((flags & FD_CLOEXEC) != 0);
    checked++;
  }
  CHECK(checked >= 1); // at least the mapping's own fd
}

// ---- umask ---------------------------------------------------------

} // namespace

// ------------------------------------------------------------------
// Symlinks
// ------------------------------------------------------------------

TEST_CASE("mmapio_open_ex: IO when the path is a symlink and "
          "MMAPIO_OPT_NOFOLLOW is set",
          "[mmapio_open_ex][errors][security]") {
  struct Row {
    mmapio_disposition how;
    mmapio_mode mode;
  };
  const Row row = GENERATE(
      Row{MMAPIO_OPEN, MMAPIO_MODE_RO}, Row{MMAPIO_OPEN, MMAPIO_MODE_RW},
      Row{MMAPIO_OPEN, MMAPIO_MODE_COW}, Row{MMAPIO_CREATE, MMAPIO_MODE_RW},
      Row{MMAPIO_OPEN_OR_CREATE, MMAPIO_MODE_RW});
  INFO("disposition " << row.how << " mode " << row.mode);
  TempDir d;
  const std::string target = d.path("target");
  const std::string link = d.path("link");
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.mode = row.mode;
  o.size = 4096;
  o.flags = MMAPIO_OPT_NOFOLLOW;
  mmapio_map *m = map_sentinel();
  SECTION("symlink to an existing file: the target is untouched") {
    write_bytes(target, kContent);
    REQUIRE(::symlink("target", link.c_str()) == 0);
    CHECK_CODE(mmapio_open_ex(&m, link.c_str(), &o, row.how), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ELOOP);
    CHECK_BYTES(read_bytes(target), kContent);
  }
  SECTION("dangling symlink: the target is not created") {
    REQUIRE(::symlink("target", link.c_str()) == 0);
    CHECK_CODE(mmapio_open_ex(&m, link.c_str(), &o, row.how), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ELOOP);
    CHECK_FALSE(path_exists(target));
  }
  CHECK(m == map_sentinel());
  struct stat st;
  REQUIRE(::lstat(link.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
  close_unless_sentinel(m);
}

// Found by fuzz_options: the link that publishes a new file fails with
// EEXIST on the symlink while opening through it fails with ENOENT, and
// open_or_create took that for a lost race, again and again. In a child,
// so that a hang fails the test (the hang guard) instead of the suite.
TEST_CASE("mmapio_open_or_create: IO when the path is a dangling symlink "
          "and nothing is created",
          "[mmapio_open_or_create][mmapio_open_ex][errors][security]") {
  TempDir d;
  const std::string link = d.path("link");
  REQUIRE(::symlink("target", link.c_str()) == 0);
  const bool shorthand = GENERATE(true, false);
  INFO((shorthand ? "mmapio_open_or_create" : "mmapio_open_ex OPEN_OR_CREATE"));
  ChildOutcome r = run_in_child(
      [&](int &) {
        mmapio_map *m = nullptr;
        mmapio_options o = MMAPIO_OPTIONS_INIT;
        o.size = 4096;
        int rc = shorthand ? mmapio_open_or_create(&m, link.c_str(), 4096)
                           : mmapio_open_ex(&m, link.c_str(), &o,
                                            MMAPIO_OPEN_OR_CREATE);
        mmapio_close(m);
        return rc;
      },
      10);
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_IO);
  CHECK(r.os_errno == ENOENT);
  CHECK_FALSE(path_exists(d.path("target")));
  struct stat st;
  REQUIRE(::lstat(link.c_str(), &st) == 0);
  CHECK(S_ISLNK(st.st_mode));
}

TEST_CASE("MMAPIO_OPT_NOFOLLOW only refuses a symlink as the final "
          "component",
          "[mmapio_open_ex][security]") {
  TempDir d;
  REQUIRE(::mkdir(d.path("real").c_str(), 0755) == 0);
  REQUIRE(::symlink("real", d.path("alias").c_str()) == 0);
  write_bytes(d.path("real/f"), kContent);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.flags = MMAPIO_OPT_NOFOLLOW;
  o.mode = MMAPIO_MODE_RO;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, d.path("alias/f").c_str(), &o, MMAPIO_OPEN));
  MapPtr g(m);
  CHECK(mmapio_len(m) == kContent.size());
  // A regular file is of course fine with the flag too.
  mmapio_map *m2 = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m2, d.path("real/f").c_str(), &o, MMAPIO_OPEN));
  mmapio_close(m2);
}

TEST_CASE("without MMAPIO_OPT_NOFOLLOW a symlink is followed",
          "[mmapio_open][security]") {
  TempDir d;
  const std::string target = d.path("target");
  const std::string link = d.path("link");
  write_bytes(target, kContent);
  REQUIRE(::symlink("target", link.c_str()) == 0);
  SECTION("mmapio_open in every mode") {
    for (mmapio_mode mode : {MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW}) {
      INFO("mode " << mode);
      mmapio_map *m = nullptr;
      REQUIRE_OK(mmapio_open(&m, link.c_str(), mode));
      MapPtr g(m);
      const void *v = nullptr;
      REQUIRE_OK(mmapio_view(m, 0, kContent.size(), &v));
      CHECK_BYTES(std::string(static_cast<const char *>(v), kContent.size()),
                  kContent);
      struct stat st;
      REQUIRE(::fstat(mmapio_fd(m), &st) == 0);
      CHECK(st.st_ino == stat_of(target).st_ino);
    }
  }
  SECTION("mmapio_open_or_create opens the target") {
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open_or_create(&m, link.c_str(), 4096));
    MapPtr g(m);
    CHECK(mmapio_len(m) == kContent.size());
    g.reset();
    CHECK_BYTES(read_bytes(target), kContent);
  }
  SECTION("mmapio_open_ex OPEN") {
    mmapio_options o = MMAPIO_OPTIONS_INIT;
    o.mode = MMAPIO_MODE_RO;
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open_ex(&m, link.c_str(), &o, MMAPIO_OPEN));
    MapPtr g(m);
    CHECK(mmapio_len(m) == kContent.size());
  }
}

// ------------------------------------------------------------------
// Non-regular files: INVALID_ARGUMENT, promptly (each call runs in a
// child with a hang guard, so a blocking open shows as a failure).
// ------------------------------------------------------------------

TEST_CASE("mmapio_open: INVALID_ARGUMENT when path names a non-regular file",
          "[mmapio_open][errors][security]") {
  const Kind kind =
      GENERATE(Kind::Fifo, Kind::Directory, Kind::DevNull, Kind::Socket);
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO(kind_name(kind) << ", mode " << mode);
  TempDir d;
  Special s(d, kind);
  expect_rejected_in_child([&](mmapio_map **out) {
    return mmapio_open(out, s.path().c_str(), mode);
  });
  s.check_unchanged();
}

TEST_CASE("mmapio_create: INVALID_ARGUMENT when path names a non-regular "
          "file",
          "[mmapio_create][errors][security]") {
  const Kind kind =
      GENERATE(Kind::Fifo, Kind::Directory, Kind::DevNull, Kind::Socket);
  INFO(kind_name(kind));
  TempDir d;
  Special s(d, kind);
  expect_rejected_in_child([&](mmapio_map **out) {
    return mmapio_create(out, s.path().c_str(), 4096);
  });
  s.check_unchanged();
}

TEST_CASE("mmapio_open_or_create: INVALID_ARGUMENT when path names a "
          "non-regular file",
          "[mmapio_open_or_create][errors][security]") {
  const Kind kind =
      GENERATE(Kind::Fifo, Kind::Directory, Kind::DevNull, Kind::Socket);
  INFO(kind_name(kind));
  TempDir d;
  Special s(d, kind);
  expect_rejected_in_child([&](mmapio_map **out) {
    return mmapio_open_or_create(out, s.path().c_str(), 4096);
  });
  s.check_unchanged();
}

TEST_CASE("mmapio_open_ex: INVALID_ARGUMENT when path names a non-regular "
          "file",
          "[mmapio_open_ex][errors][security]") {
  const Kind kind =
      GENERATE(Kind::Fifo, Kind::Directory, Kind::DevNull, Kind::Socket);
  struct Row {
    mmapio_disposition how;
    mmapio_mode mode;
  };
  const Row row = GENERATE(
      Row{MMAPIO_OPEN, MMAPIO_MODE_RO}, Row{MMAPIO_OPEN, MMAPIO_MODE_RW},
      Row{MMAPIO_OPEN, MMAPIO_MODE_COW}, Row{MMAPIO_CREATE, MMAPIO_MODE_RW},
      Row{MMAPIO_OPEN_OR_CREATE, MMAPIO_MODE_RW});
  INFO(kind_name(kind) << ", disposition " << row.how << ", mode " << row.mode);
  TempDir d;
  Special s(d, kind);
  expect_rejected_in_child([&](mmapio_map **out) {
    mmapio_options o = MMAPIO_OPTIONS_INIT;
    o.mode = row.mode;
    o.size = 4096;
    return mmapio_open_ex(out, s.path().c_str(), &o, row.how);
  });
  s.check_unchanged();
}

TEST_CASE("a FIFO with a waiting writer is still refused",
          "[mmapio_open][security]") {
  // Even when opening would not block, a FIFO is not a regular file.
  TempDir d;
  Special s(d, Kind::Fifo);
  const int wfd = ::open(s.path().c_str(), O_RDWR | O_CLOEXEC);
  REQUIRE(wfd >= 0);
  expect_rejected_in_child([&](mmapio_map **out) {
    return mmapio_open(out, s.path().c_str(), MMAPIO_MODE_RO);
  });
  ::close(wfd);
  s.check_unchanged();
}

// ------------------------------------------------------------------
// Close-on-exec
// ------------------------------------------------------------------

namespace {
// The handle's fd and every fd opened since before are close-on-exec.
void check_handle_cloexec(const std::set<int> &before, mmapio_map *m) {
  REQUIRE(m != nullptr);
  const int fd = mmapio_fd(m);
  REQUIRE(fd >= 0);
  const int flags = ::fcntl(fd, F_GETFD);
  REQUIRE(flags != -1);
  CHECK((flags & FD_CLOEXEC) != 0);
  check_new_fds_cloexec(before, open_fds());
}
} // namespace

TEST_CASE("every fd the library opens is close-on-exec", "[security][linux]") {
  TempDir d;
  const std::string existing = make_file(d, "existing", kContent);
  const std::string fresh = d.path("fresh");
  SECTION("mmapio_open") {
    for (mmapio_mode mode : {MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW}) {
      INFO("mode " << mode);
      const std::set<int> before = open_fds();
      mmapio_map *m = nullptr;
      REQUIRE_OK(mmapio_open(&m, existing.c_str(), mode));
      MapPtr g(m);
      check_handle_cloexec(before, m);
    }
  }
  SECTION("mmapio_create") {
    const std::set<int> before = open_fds();
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_create(&m, fresh.c_str(), 4096));
    MapPtr g(m);
    check_handle_cloexec(before, m);
  }
  SECTION("mmapio_open_or_create, creating and opening") {
    for (const std::string &p : {fresh, existing}) {
      INFO("path " << p);
      const std::set<int> before = open_fds();
      mmapio_map *m = nullptr;
      REQUIRE_OK(mmapio_open_or_create(&m, p.c_str(), 4096));
      MapPtr g(m);
      check_handle_cloexec(before, m);
    }
  }
  SECTION("mmapio_open_ex, each disposition, with SYNC_DIR") {
    for (mmapio_disposition how :
         {MMAPIO_OPEN, MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE}) {
      INFO("disposition " << how);
      const std::set<int> before = open_fds();
      mmapio_options o = MMAPIO_OPTIONS_INIT;
      o.size = 4096;
      o.flags = MMAPIO_OPT_SYNC_DIR;
      mmapio_map *m = nullptr;
      REQUIRE_OK(mmapio_open_ex(
          &m,
          how == MMAPIO_OPEN ? existing.c_str()
                             : d.path("fresh" + std::to_string(how)).c_str(),
          &o, how));
      MapPtr g(m);
      check_handle_cloexec(before, m);
    }
  }
}

// ------------------------------------------------------------------
// Creation mode
// ------------------------------------------------------------------

TEST_CASE("the creation mode is exactly perm & ~umask", "[security]") {
  const mode_t mask = GENERATE(mode_t(022), mode_t(077), mode_t(0));
  INFO("umask 0" << std::oct << mask);
  TempDir d;
  const std::string p = d.path("f");
  UmaskGuard guard(mask);
  SECTION("mmapio_create: default 0644") {
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_create(&m, p.c_str(), 4096));
    mmapio_close(m);
    CHECK((stat_of(p).st_mode & 07777) == (0644 & ~mask));
  }
  SECTION("mmapio_open_or_create: default 0644") {
    mmapio_map *m = nullptr;
    REQUIRE_OK(mmapio_open_or_create(&m, p.c_str(), 4096));
    mmapio_close(m);
    CHECK((stat_of(p).st_mode & 07777) == (0644 & ~mask));
  }
  SECTION("mmapio_open_ex with perm") {
    for (unsigned perm : {0644u, 0600u, 0666u, 0640u, 0400u}) {
      for (mmapio_disposition how : {MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE}) {
        INFO("perm 0" << std::oct << perm << std::dec << " disposition "
                      << how);
        const std::string q =
            d.path("f" + std::to_string(perm) + "-" + std::to_string(how));
        mmapio_options o = MMAPIO_OPTIONS_INIT;
        o.size = 4096;
        o.perm = perm;
        mmapio_map *m = nullptr;
        REQUIRE_OK(mmapio_open_ex(&m, q.c_str(), &o, how));
        mmapio_close(m);
        CHECK((stat_of(q).st_mode & 07777) == (perm & ~mask));
      }
    }
  }
}

TEST_CASE("opening or creating over an existing file keeps its mode",
          "[security]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  REQUIRE(::chmod(p.c_str(), 0604) == 0);
  UmaskGuard guard(077);
  mmapio_map *m = nullptr;
  SECTION("mmapio_create") { REQUIRE_OK(mmapio_create(&m, p.c_str(), 4096)); }
  SECTION("mmapio_open_or_create") {
    REQUIRE_OK(mmapio_open_or_create(&m, p.c_str(), 4096));
  }
  mmapio_close(m);
  CHECK((stat_of(p).st_mode & 07777) == 0604);
}

// ------------------------------------------------------------------
// Replacement
// ------------------------------------------------------------------

TEST_CASE("mmapio_create: an existing file's old content is gone",
          "[mmapio_create][security]") {
  const uint64_t size =
      GENERATE(uint64_t(100), uint64_t(2 * 4096 + 77), uint64_t(64 * 1024));
  INFO("size " << size);
  TempDir d;
  const std::string p = make_file(d, "f", std::string(2 * 4096 + 77, 'X'));
  const ino_t ino = stat_of(p).st_ino;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, p.c_str(), size));
  MapPtr g(m);
  CHECK(mmapio_len(m) == size);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(m, 0, static_cast<size_t>(size), &v));
  const std::string zeros(static_cast<size_t>(size), '\0');
  CHECK_BYTES(std::string(static_cast<const char *>(v), zeros.size()), zeros);
  CHECK_BYTES(read_bytes(p), zeros);
  // A file with bytes is replaced, not truncated (test_create.cpp).
  CHECK(stat_of(p).st_ino != ino);
}
