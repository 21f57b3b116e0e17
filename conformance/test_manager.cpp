// The one-call file functions: mmapio_write_file, mmapio_copy_file,
// mmapio_delete_file. (write_file's FLUSH_FAILED needs the seam.)
#include "support.hpp"

#include <algorithm>
#include <dirent.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/sysmacros.h>
#include <sys/un.h>

using namespace mmapio_test;

namespace {

const std::string kContent = pattern_bytes(2 * 4096 + 555, 21);

// A bound Unix socket at p (closed on destruction; the name stays).
class SocketFile {
public:
  explicit SocketFile(const std::string &p) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    struct sockaddr_un a;
    std::memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    REQUIRE(p.size() < sizeof a.sun_path);
    std::memcpy(a.sun_path, p.c_str(), p.size() + 1);
    REQUIRE(::bind(fd_, reinterpret_cast<struct sockaddr *>(&a), sizeof a) ==
            0);
  }
  ~SocketFile() { ::close(fd_); }
  SocketFile(const SocketFile &) = delete;
  SocketFile &operator=(const SocketFile &) = delete;

private:
  int fd_ = -1;
};

// Runs call() in a child with a hang guard and returns the outcome.
template <class Call> ChildOutcome in_child(Call call) {
  return run_in_child([&](int &) { return call(); });
}

// Sets or clears FS_IMMUTABLE_FL; false when the filesystem or the
// capabilities do not allow it.
bool set_immutable(const std::string &p, bool on) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return false;
  int flags = 0;
  bool ok = ::ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0;
  if (ok) {
    flags = on ? (flags | FS_IMMUTABLE_FL) : (flags & ~FS_IMMUTABLE_FL);
    ok = ::ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;
  }
  ::close(fd);
  return ok;
}

} // namespace

// ------------------------------------------------------------------
// mmapio_write_file
// ------------------------------------------------------------------

TEST_CASE("mmapio_write_file: writes the bytes in place",
          "[mmapio_write_file][access]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const ino_t ino = stat_of(p).st_ino;
  const size_t n = kContent.size();
  std::string want = kContent;

  REQUIRE_OK(mmapio_write_file(p.c_str(), 100, "middle", 6));
  want.replace(100, 6, "middle");
  REQUIRE_OK(mmapio_write_file(p.c_str(), n - 3, "END", 3));
  want.replace(n - 3, 3, "END");
  REQUIRE_OK(mmapio_write_file(p.c_str(), 0, "S", 1));
  want[0] = 'S';
  REQUIRE_OK(mmapio_write_file(p.c_str(), n, nullptr, 0));
  REQUIRE_OK(mmapio_write_file(p.c_str(), 5, nullptr, 0));

  CHECK_BYTES(read_bytes(p), want);
  CHECK(stat_of(p).st_size == static_cast<off_t>(n));
  CHECK(stat_of(p).st_ino == ino);

  // A whole-file write.
  const std::string all = pattern_bytes(n, 99);
  REQUIRE_OK(mmapio_write_file(p.c_str(), 0, all.data(), all.size()));
  CHECK_BYTES(read_bytes(p), all);
}

TEST_CASE("mmapio_write_file: INVALID_ARGUMENT when path is NULL or data is "
          "NULL with len > 0",
          "[mmapio_write_file][errors][access]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  SECTION("path is NULL") {
    CHECK_CODE(mmapio_write_file(nullptr, 0, "x", 1),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("data is NULL with len > 0") {
    CHECK_CODE(mmapio_write_file(p.c_str(), 0, nullptr, 1),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  CHECK_BYTES(read_bytes(p), kContent);
}

TEST_CASE("mmapio_write_file: INVALID_ARGUMENT when path is not a regular "
          "file",
          "[mmapio_write_file][errors][access][security][linux]") {
  TempDir d;
  std::string p;
  std::unique_ptr<SocketFile> sock;
  SECTION("a FIFO") {
    p = d.path("fifo");
    REQUIRE(::mkfifo(p.c_str(), 0644) == 0);
  }
  SECTION("a directory") {
    p = d.path("dir");
    REQUIRE(::mkdir(p.c_str(), 0755) == 0);
  }
  SECTION("/dev/null") { p = "/dev/null"; }
  SECTION("a Unix socket") {
    p = d.path("sock");
    sock.reset(new SocketFile(p));
  }
  struct stat before;
  REQUIRE(::lstat(p.c_str(), &before) == 0);
  const ChildOutcome r =
      in_child([&] { return mmapio_write_file(p.c_str(), 0, "xyz", 3); });
  INFO(p << ": " << r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_INVALID_ARGUMENT);
  struct stat after;
  REQUIRE(::lstat(p.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK((after.st_mode & S_IFMT) == (before.st_mode & S_IFMT));
}

TEST_CASE("mmapio_write_file: OUT_OF_BOUNDS when off + len exceeds the "
          "file's size",
          "[mmapio_write_file][errors][access]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const uint64_t n = kContent.size();
  const std::string src(static_cast<size_t>(n) + 16, '@');
  struct Row {
    uint64_t off;
    size_t len;
  };
  const Row rows[] = {{n - 1, 2},          {n, 1},
                      {0, size_t(n) + 1},  {n + 100, 0},
                      {UINT64_MAX, 2},     {2, SIZE_MAX},
                      {UINT64_MAX - 1, 1}, {uint64_t(1) << 62, 1}};
  for (const Row &r : rows) {
    INFO("off " << r.off << " len " << r.len);
    CHECK_CODE(mmapio_write_file(p.c_str(), r.off, src.data(), r.len),
               MMAPIO_E_OUT_OF_BOUNDS);
  }
  // Never grown, nothing written.
  CHECK(stat_of(p).st_size == static_cast<off_t>(n));
  CHECK_BYTES(read_bytes(p), kContent);
}

TEST_CASE("mmapio_write_file: RESIZE_FAILED when the file is empty",
          "[mmapio_write_file][errors][access]") {
  TempDir d;
  const std::string p = make_file(d, "empty", "");
  CHECK_CODE(mmapio_write_file(p.c_str(), 0, "x", 1), MMAPIO_E_RESIZE_FAILED);
  CHECK_CODE(mmapio_write_file(p.c_str(), 0, nullptr, 0),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(stat_of(p).st_size == 0);
}

TEST_CASE("mmapio_write_file: IO when the file cannot be opened",
          "[mmapio_write_file][errors][access]") {
  TempDir d;
  write_bytes(d.path("file"), kContent);
  SECTION("missing: not created") {
    CHECK_CODE(mmapio_write_file(d.path("missing").c_str(), 0, "x", 1),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
    CHECK_FALSE(path_exists(d.path("missing")));
  }
  SECTION("a path component is a file (ENOTDIR)") {
    CHECK_CODE(mmapio_write_file(d.path("file/x").c_str(), 0, "x", 1),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
  }
  CHECK_BYTES(read_bytes(d.path("file")), kContent);
}

TEST_CASE("mmapio_write_file: NO_MEMORY when allocating the handle fails",
          "[mmapio_write_file][errors][access]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  const ChildOutcome r = run_in_child([&](int &) {
    exhaust_memory_in_child();
    return mmapio_write_file(p.c_str(), 0, "xyz", 3);
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  check_out_of_memory(r, "mmapio_write_file");
  CHECK_BYTES(read_bytes(p), kContent);
}

// ------------------------------------------------------------------
// mmapio_copy_file
// ------------------------------------------------------------------

TEST_CASE("mmapio_copy_file: copies content and permission bits",
          "[mmapio_copy_file][open]") {
  const mode_t perm =
      GENERATE(mode_t(0640), mode_t(0755), mode_t(0600), mode_t(0644));
  INFO("perm 0" << std::oct << perm);
  UmaskGuard guard(022);
  TempDir d;
  const std::string src = d.path("src");
  const std::string dst = d.path("dst");
  write_bytes(src, kContent);
  REQUIRE(::chmod(src.c_str(), perm) == 0);
  REQUIRE_OK(mmapio_copy_file(src.c_str(), dst.c_str()));
  CHECK_BYTES(read_bytes(dst), kContent);
  CHECK((stat_of(dst).st_mode & 07777) == perm);
  CHECK(S_ISREG(stat_of(dst).st_mode));
  CHECK_BYTES(read_bytes(src), kContent);
  CHECK(dir_listing(d.dir()) == std::vector<std::string>{"dst", "src"});
}

TEST_CASE("mmapio_copy_file: an empty source gives an empty copy",
          "[mmapio_copy_file][open]") {
  TempDir d;
  write_bytes(d.path("src"), "");
  write_bytes(d.path("dst"), kContent);
  REQUIRE_OK(mmapio_copy_file(d.path("src").c_str(), d.path("dst").c_str()));
  CHECK(stat_of(d.path("dst")).st_size == 0);
}

TEST_CASE("mmapio_copy_file: an existing dst is replaced atomically",
          "[mmapio_copy_file][open]") {
  TempDir d;
  const std::string src = d.path("src");
  const std::string dst = d.path("dst");
  write_bytes(src, kContent);
  const std::string old = std::string(100000, 'o');
  write_bytes(dst, old);
  REQUIRE(::link(dst.c_str(), d.path("dst.link").c_str()) == 0);
  const ino_t old_ino = stat_of(dst).st_ino;
  const int old_fd = ::open(dst.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(old_fd >= 0);

  REQUIRE_OK(mmapio_copy_file(src.c_str(), dst.c_str()));

  CHECK_BYTES(read_bytes(dst), kContent);
  CHECK(stat_of(dst).st_size == static_cast<off_t>(kContent.size()));
  // Renamed over, not rewritten in place: the old file is intact under
  // its other name and through an fd opened before.
  CHECK(stat_of(dst).st_ino != old_ino);
  CHECK_BYTES(read_bytes(d.path("dst.link")), old);
  struct stat st;
  REQUIRE(::fstat(old_fd, &st) == 0);
  CHECK(st.st_size == static_cast<off_t>(old.size()));
  ::close(old_fd);
  // No temporary file left behind.
  CHECK(dir_listing(d.dir()) ==
        (std::vector<std::string>{"dst", "dst.link", "src"}));
}

TEST_CASE("mmapio_copy_file: a sparse source stays sparse",
          "[mmapio_copy_file][open][sparse]") {
  TempDir d;
  const std::string src = d.path("src");
  const std::string dst = d.path("dst");
  const off_t size = 64 << 20;
  {
    int fd = ::open(src.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, size) == 0);
    REQUIRE(::pwrite(fd, "head", 4, 0) == 4);
    REQUIRE(::pwrite(fd, "middle", 6, 32 << 20) == 6);
    REQUIRE(::pwrite(fd, "tail", 4, size - 4) == 4);
    REQUIRE(::fsync(fd) == 0);
    ::close(fd);
  }
  const struct stat s = stat_of(src);
  REQUIRE(static_cast<uint64_t>(s.st_blocks) * 512 < (uint64_t(1) << 20));
  REQUIRE_OK(mmapio_copy_file(src.c_str(), dst.c_str()));
  const struct stat t = stat_of(dst);
  CHECK(t.st_size == size);
  INFO("src blocks " << s.st_blocks << ", dst blocks " << t.st_blocks);
  // Slack: 1 MiB in 512-byte blocks.
  CHECK(t.st_blocks <= s.st_blocks + 2048);
  CHECK_BYTES(read_bytes(dst), read_bytes(src));
}

TEST_CASE("mmapio_copy_file: INVALID_ARGUMENT when src or dst is NULL",
          "[mmapio_copy_file][errors][open]") {
  TempDir d;
  write_bytes(d.path("src"), kContent);
  CHECK_CODE(mmapio_copy_file(nullptr, d.path("dst").c_str()),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_copy_file(d.path("src").c_str(), nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_copy_file(nullptr, nullptr), MMAPIO_E_INVALID_ARGUMENT);
  CHECK(dir_listing(d.dir()) == std::vector<std::string>{"src"});
}

TEST_CASE("mmapio_copy_file: INVALID_ARGUMENT when src is not a regular file",
          "[mmapio_copy_file][errors][open][security][linux]") {
  TempDir d;
  std::string src;
  std::unique_ptr<SocketFile> sock;
  SECTION("a FIFO") {
    src = d.path("fifo");
    REQUIRE(::mkfifo(src.c_str(), 0644) == 0);
  }
  SECTION("a directory") {
    src = d.path("dir");
    REQUIRE(::mkdir(src.c_str(), 0755) == 0);
  }
  SECTION("/dev/null") { src = "/dev/null"; }
  SECTION("a Unix socket") {
    src = d.path("sock");
    sock.reset(new SocketFile(src));
  }
  const std::string dst = make_file(d, "dst", kContent);
  const std::vector<std::string> before = dir_listing(d.dir());
  const ChildOutcome r =
      in_child([&] { return mmapio_copy_file(src.c_str(), dst.c_str()); });
  INFO(src << ": " << r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_INVALID_ARGUMENT);
  CHECK_BYTES(read_bytes(dst), kContent);
  CHECK(dir_listing(d.dir()) == before);
}

TEST_CASE("mmapio_copy_file: IO when src cannot be read",
          "[mmapio_copy_file][errors][open]") {
  TempDir d;
  const std::string dst = make_file(d, "dst", kContent);
  write_bytes(d.path("file"), "x");
  SECTION("src is missing") {
    CHECK_CODE(mmapio_copy_file(d.path("missing").c_str(), dst.c_str()),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
  }
  SECTION("a component of src is a file (ENOTDIR)") {
    CHECK_CODE(mmapio_copy_file(d.path("file/x").c_str(), dst.c_str()),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
  }
  CHECK_BYTES(read_bytes(dst), kContent);
  CHECK(dir_listing(d.dir()) == (std::vector<std::string>{"dst", "file"}));
}

TEST_CASE("mmapio_copy_file: IO when dst cannot be written",
          "[mmapio_copy_file][errors][open]") {
  TempDir d;
  const std::string src = make_file(d, "src", kContent);
  SECTION("dst's directory is missing") {
    CHECK_CODE(mmapio_copy_file(src.c_str(), d.path("nodir/dst").c_str()),
               MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
    CHECK(dir_listing(d.dir()) == std::vector<std::string>{"src"});
  }
  SECTION("dst is a non-empty directory") {
    REQUIRE(::mkdir(d.path("dstdir").c_str(), 0755) == 0);
    write_bytes(d.path("dstdir/keep"), "keep");
    CHECK_CODE(mmapio_copy_file(src.c_str(), d.path("dstdir").c_str()),
               MMAPIO_E_IO);
    CHECK_BYTES(read_bytes(d.path("dstdir/keep")), "keep");
    CHECK(dir_listing(d.dir()) == (std::vector<std::string>{"dstdir", "src"}));
  }
  SECTION("writing the copy fails midway (EFBIG): dst unchanged") {
    // RLIMIT_FSIZE below the source's size, in a child.
    const std::string big = pattern_bytes(3 << 20, 8);
    write_bytes(src, big);
    const std::string dst = make_file(d, "dst", kContent);
    const ChildOutcome r = run_in_child([&](int &) {
      ::signal(SIGXFSZ, SIG_IGN);
      struct rlimit rl;
      rl.rlim_cur = rl.rlim_max = 1 << 20;
      if (::setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 1000;
      return mmapio_copy_file(src.c_str(), dst.c_str());
    });
    INFO(r.describe());
    REQUIRE(r.reported);
    CHECK(r.rc == MMAPIO_E_IO);
    CHECK(r.os_errno == EFBIG);
    CHECK_BYTES(read_bytes(dst), kContent);
    CHECK(dir_listing(d.dir()) == (std::vector<std::string>{"dst", "src"}));
  }
  CHECK(stat_of(src).st_size > 0);
}

// ------------------------------------------------------------------
// mmapio_delete_file
// ------------------------------------------------------------------

TEST_CASE("mmapio_delete_file: removes the file, open handles stay valid",
          "[mmapio_delete_file][open]") {
  TempDir d;
  const std::string p = make_file(d, "f", kContent);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), MMAPIO_MODE_RO));
  MapPtr g(m);
  REQUIRE_OK(mmapio_delete_file(p.c_str()));
  CHECK_FALSE(path_exists(p));
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(m, 0, kContent.size(), &v));
  CHECK_BYTES(std::string(static_cast<const char *>(v), kContent.size()),
              kContent);
  CHECK(dir_listing(d.dir()).empty());
}

TEST_CASE("mmapio_delete_file: INVALID_ARGUMENT when path is NULL or not a "
          "regular file",
          "[mmapio_delete_file][errors][open][security][linux]") {
  TempDir d;
  SECTION("path is NULL") {
    CHECK_CODE(mmapio_delete_file(nullptr), MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("non-regular files are not removed") {
    REQUIRE(::mkfifo(d.path("fifo").c_str(), 0644) == 0);
    REQUIRE(::mkdir(d.path("dir").c_str(), 0755) == 0);
    REQUIRE(::mkdir(d.path("emptydir").c_str(), 0755) == 0);
    write_bytes(d.path("dir/keep"), "keep");
    SocketFile sock(d.path("sock"));
    std::vector<std::string> targets = {d.path("fifo"), d.path("dir"),
                                        d.path("emptydir"), d.path("sock")};
    if (::mknod(d.path("null").c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0)
      targets.push_back(d.path("null"));
    else
      MMAPIO_NOTE_SKIP(
          "the character device case: mknod failed: " << std::strerror(errno));
    for (const std::string &t : targets) {
      const std::vector<std::string> before = dir_listing(d.dir());
      const ChildOutcome r =
          in_child([&] { return mmapio_delete_file(t.c_str()); });
      INFO(t << ": " << r.describe());
      REQUIRE(r.reported);
      CHECK(r.rc == MMAPIO_E_INVALID_ARGUMENT);
      CHECK(path_exists(t));
      CHECK(dir_listing(d.dir()) == before);
    }
    CHECK_BYTES(read_bytes(d.path("dir/keep")), "keep");
  }
}

TEST_CASE("mmapio_delete_file: IO when the file does not exist or cannot be "
          "removed",
          "[mmapio_delete_file][errors][open][linux]") {
  TempDir d;
  SECTION("missing (ENOENT)") {
    CHECK_CODE(mmapio_delete_file(d.path("missing").c_str()), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOENT);
  }
  SECTION("a path component is a file (ENOTDIR)") {
    write_bytes(d.path("file"), "x");
    CHECK_CODE(mmapio_delete_file(d.path("file/x").c_str()), MMAPIO_E_IO);
    CHECK(mmapio_last_error()->os_errno == ENOTDIR);
    CHECK(path_exists(d.path("file")));
  }
  SECTION("an immutable file cannot be removed (EPERM)") {
    const std::string p = make_file(d, "locked", kContent);
    if (!set_immutable(p, true)) {
      MMAPIO_NOTE_SKIP("cannot set FS_IMMUTABLE_FL on "
                       << p << ": " << std::strerror(errno));
    } else {
      const int rc = mmapio_delete_file(p.c_str());
      const int os = mmapio_last_error()->os_errno;
      const bool still_there = path_exists(p);
      set_immutable(p, false);
      CHECK(rc == MMAPIO_E_IO);
      CHECK(os == EPERM);
      CHECK(still_there);
      CHECK_BYTES(read_bytes(p), kContent);
    }
  }
}
