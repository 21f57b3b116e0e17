// Creating over what is already there: a failed create leaves an existing
// file exactly as it was and no new file behind, whatever the disposition
// and whatever failed; a successful one sizes an empty file in place and
// replaces a file with bytes as documented (mmapio_open_ex in the header).
// Injected failures at each system call are in test_seam_files.cpp.
#include "support.hpp"
#include "support_create.hpp"
#include "support_proc.hpp"

#include <sched.h>
#include <sys/mount.h>

using namespace mmapio_test;

namespace {

const std::string kOld = state_bytes(State::Full);

// The ways to create: each public creating function and option.
const CreateWay kWays[] = {
    {"mmapio_create", MMAPIO_CREATE, 0, true},
    {"mmapio_open_ex CREATE", MMAPIO_CREATE, 0, false},
    {"mmapio_open_ex CREATE + PREALLOCATE", MMAPIO_CREATE,
     MMAPIO_OPT_PREALLOCATE, false},
    {"mmapio_open_ex CREATE + SYNC_DIR", MMAPIO_CREATE, MMAPIO_OPT_SYNC_DIR,
     false},
    {"mmapio_open_or_create", MMAPIO_OPEN_OR_CREATE, 0, true},
    {"mmapio_open_ex OPEN_OR_CREATE + PREALLOCATE", MMAPIO_OPEN_OR_CREATE,
     MMAPIO_OPT_PREALLOCATE, false},
};

// What a failed create must have left: the file as prepared (same bytes,
// same inode) or still nothing, and no other name in the directory.
class Before {
public:
  Before(const TempDir &d, const std::string &path, State s)
      : dir_(d.dir()), path_(path), state_(s), names_(dir_listing(d.dir())) {
    if (s != State::Missing)
      ino_ = stat_of(path).st_ino;
  }
  void check_unchanged() const {
    INFO(state_name(state_) << " at " << path_ << " must be as it was");
    if (state_ == State::Missing) {
      CHECK_FALSE(path_exists(path_));
    } else {
      REQUIRE(path_exists(path_));
      CHECK_BYTES(read_bytes(path_), state_bytes(state_));
      CHECK(stat_of(path_).st_ino == ino_);
    }
    CHECK(dir_listing(dir_) == names_);
  }

private:
  std::string dir_, path_;
  State state_;
  std::vector<std::string> names_;
  ino_t ino_ = 0;
};

// Runs create_by in a child under RLIMIT_FSIZE = limit (SIGXFSZ ignored,
// so the size call fails with EFBIG instead of killing the child).
ChildOutcome create_under_fsize_limit(const CreateWay &w,
                                      const std::string &path, uint64_t size,
                                      rlim_t limit) {
  return run_in_child([&](int &extra) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl;
    rl.rlim_cur = rl.rlim_max = limit;
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0)
      return 1000;
    mmapio_map *m = map_sentinel();
    const int rc = create_by(w, path, size, &m);
    extra = m == map_sentinel() ? 1 : 0;
    return rc;
  });
}

// The steps of mount_small_tmpfs, for the reason of a skip.
const char *const kMountSteps[] = {
    "unshare (of a mount namespace, or of a user namespace with one)",
    "writing the user namespace's id maps", "making / private",
    "mounting a tmpfs"};

// Writes s to a /proc file; false on failure (errno set).
bool write_proc(const std::string &p, const std::string &s) {
  const int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  const bool ok = ::write(fd, s.data(), s.size()) == ssize_t(s.size());
  const int e = errno;
  ::close(fd);
  errno = e;
  return ok;
}

// Makes the calling process (a forked, single-threaded child) a private
// mount namespace with a tmpfs of `size` mounted on dir. Without
// CAP_SYS_ADMIN, a user namespace of our own grants it, where the kernel
// allows unprivileged user namespaces. Returns 0, or 1 + the index in
// kMountSteps of the step that failed, with errno set.
int mount_small_tmpfs(const std::string &dir, const char *size) {
  if (::unshare(CLONE_NEWNS) != 0) {
    const uid_t uid = ::geteuid();
    const gid_t gid = ::getegid();
    if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0)
      return 1;
    if (!write_proc("/proc/self/setgroups", "deny") ||
        !write_proc("/proc/self/uid_map", "0 " + std::to_string(uid) + " 1") ||
        !write_proc("/proc/self/gid_map", "0 " + std::to_string(gid) + " 1"))
      return 2;
  }
  // Nothing mounted here may reach the parent's namespace.
  // "none": the kernel ignores source and type here, but memcheck reports
  // a NULL type as an unaddressable argument.
  if (::mount("none", "/", "none", MS_REC | MS_PRIVATE, nullptr) != 0)
    return 3;
  const std::string opts = std::string("size=") + size;
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0)
    return 4;
  return 0;
}

// A child's result when mount_small_tmpfs failed: kNoTmpfs + its step,
// with errno as the child's extra value.
constexpr int kNoTmpfs = 1000;

} // namespace

// ------------------------------------------------------------------
// Failures leave things as they were
// ------------------------------------------------------------------

TEST_CASE("create: a failure under RLIMIT_FSIZE leaves an existing file as "
          "it was and no new file behind",
          "[mmapio_create][mmapio_open_ex][mmapio_open_or_create][create]") {
  const State state = GENERATE(State::Missing, State::Empty, State::Full);
  for (const CreateWay &w : kWays) {
    if (!creates_over(w, state))
      continue;
    INFO(w.name << " over " << state_name(state));
    TempDir d;
    const std::string p = d.path("f");
    prepare(p, state);
    const Before before(d, p, state);
    const ChildOutcome r = create_under_fsize_limit(w, p, 4 << 20, 1 << 20);
    INFO(r.describe());
    REQUIRE(r.reported);
    CHECK(r.rc == (w.flags & MMAPIO_OPT_PREALLOCATE ? MMAPIO_E_RESIZE_FAILED
                                                    : MMAPIO_E_IO));
    CHECK(r.os_errno == EFBIG);
    CHECK(r.extra == 1); // *out untouched
    before.check_unchanged();
    if (state == State::Missing) {
      // Nothing was left that a later open_or_create would trip over.
      mmapio_map *m = nullptr;
      REQUIRE_OK(mmapio_open_or_create(&m, p.c_str(), 64 * 1024));
      CHECK(mmapio_len(m) == 64 * 1024);
      mmapio_close(m);
    }
  }
}

TEST_CASE("create: PREALLOCATE on a file system too small fails with "
          "RESIZE_FAILED and leaves the file as it was",
          "[mmapio_open_ex][create][linux]") {
  // A 512 KiB tmpfs in a private mount namespace of a child; the 1 MiB
  // preallocation fails with ENOSPC. Replacing a 300 KiB file by another
  // needs room for both, which the tmpfs does not have either.
  struct Case {
    State state;
    uint64_t size;
    bool or_create;
  };
  const Case c = GENERATE(
      Case{State::Missing, 1 << 20, false}, Case{State::Empty, 1 << 20, false},
      Case{State::Full, 1 << 20, false}, Case{State::Missing, 1 << 20, true},
      Case{State::Full, 300 * 1024, false});
  INFO((c.or_create ? "OPEN_OR_CREATE" : "CREATE")
       << " of " << c.size << " bytes over " << state_name(c.state));
  TempDir d;
  const std::string dir = d.path("small");
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  const ChildOutcome r = run_in_child([&](int &extra) {
    if (const int step = mount_small_tmpfs(dir, "512k")) {
      extra = errno;
      return kNoTmpfs + step;
    }
    const std::string p = dir + "/f";
    std::string old = state_bytes(c.state);
    if (c.size < (1 << 20))
      old = pattern_bytes(300 * 1024, 5);
    if (c.state != State::Missing)
      write_bytes(p, old);
    const std::vector<std::string> names = dir_listing(dir);
    const ino_t ino = c.state != State::Missing ? stat_of(p).st_ino : 0;
    mmapio_options o = MMAPIO_OPTIONS_INIT;
    o.size = c.size;
    o.flags = MMAPIO_OPT_PREALLOCATE;
    mmapio_map *m = map_sentinel();
    const int rc = mmapio_open_ex(
        &m, p.c_str(), &o, c.or_create ? MMAPIO_OPEN_OR_CREATE : MMAPIO_CREATE);
    extra = 0;
    if (mmapio_last_error()->os_errno != ENOSPC)
      extra = 5;
    else if (m != map_sentinel())
      extra = 1;
    else if (dir_listing(dir) != names)
      extra = 2;
    else if (c.state != State::Missing &&
             (read_bytes(p) != old || stat_of(p).st_ino != ino))
      extra = 3;
    else if (c.state == State::Missing) {
      // The name is free: a smaller open_or_create now works.
      mmapio_map *n = nullptr;
      if (mmapio_open_or_create(&n, p.c_str(), 64 * 1024) != 0)
        extra = 4;
      mmapio_close(n);
    }
    return rc;
  });
  INFO(r.describe() << " (extra: 1 output touched, 2 stray files, 3 file "
                       "changed, 4 the name is not usable, 5 not ENOSPC)");
  REQUIRE(r.reported);
  if (r.rc > kNoTmpfs && r.rc <= kNoTmpfs + 4)
    MMAPIO_SKIP("cannot mount a small tmpfs in a private mount namespace: "
                << kMountSteps[r.rc - kNoTmpfs - 1]
                << " failed: " << std::strerror(r.extra));
  CHECK(r.rc == MMAPIO_E_RESIZE_FAILED);
  CHECK(r.extra == 0);
}

// ------------------------------------------------------------------
// What a successful create does with what is there
// ------------------------------------------------------------------

TEST_CASE("create: an empty file is sized in place",
          "[mmapio_create][mmapio_open_ex][create]") {
  TempDir d;
  const std::string p = make_file(d, "f", "");
  REQUIRE(::chmod(p.c_str(), 0604) == 0);
  REQUIRE(::link(p.c_str(), d.path("other").c_str()) == 0);
  const ino_t ino = stat_of(p).st_ino;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, p.c_str(), 3 * 4096));
  MapPtr g(m);
  CHECK(stat_of(p).st_ino == ino);
  CHECK(stat_of(p).st_size == 3 * 4096);
  CHECK((stat_of(p).st_mode & 07777) == 0604);
  // The same file under every name.
  CHECK(stat_of(d.path("other")).st_size == 3 * 4096);
}

TEST_CASE("create: a file with bytes is replaced, its other names and open "
          "descriptors keep the old content, and its permission bits, owner "
          "and group carry over",
          "[mmapio_create][mmapio_open_ex][create]") {
  TempDir d;
  const std::string p = make_file(d, "f", kOld);
  REQUIRE(::chmod(p.c_str(), 0640) == 0);
  const bool root = ::geteuid() == 0;
  if (root)
    REQUIRE(::chown(p.c_str(), 4321, 4322) == 0);
  const struct stat old = stat_of(p);
  REQUIRE(::link(p.c_str(), d.path("other").c_str()) == 0);
  const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  mmapio_map *ro = nullptr;
  REQUIRE_OK(mmapio_open(&ro, p.c_str(), MMAPIO_MODE_RO));
  MapPtr gro(ro);

  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, p.c_str(), 2 * 4096));
  MapPtr g(m);
  const struct stat now = stat_of(p);
  CHECK(now.st_ino != old.st_ino);
  CHECK(now.st_size == 2 * 4096);
  CHECK_BYTES(read_bytes(p), std::string(2 * 4096, '\0'));
  CHECK((now.st_mode & 07777) == 0640);
  if (root) {
    CHECK(now.st_uid == old.st_uid);
    CHECK(now.st_gid == old.st_gid);
  } else {
    WARN("not root: the owner is the caller's; only root can keep another "
         "user's ownership");
  }
  // The old file lives on under its other name, in the open descriptor
  // and in the old mapping, with all its bytes (never truncated).
  CHECK_BYTES(read_bytes(d.path("other")), kOld);
  std::string via_fd(kOld.size(), '\0');
  CHECK(::pread(fd, &via_fd[0], via_fd.size(), 0) ==
        static_cast<ssize_t>(kOld.size()));
  CHECK_BYTES(via_fd, kOld);
  ::close(fd);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(ro, 0, kOld.size(), &v));
  CHECK_BYTES(std::string(static_cast<const char *>(v), kOld.size()), kOld);
  CHECK(dir_listing(d.dir()) == (std::vector<std::string>{"f", "other"}));
}

namespace {
// real/target in the state given, and link -> real/target.
struct LinkedTarget {
  TempDir d;
  const std::string target = d.path("real/target");
  const std::string link = d.path("link");
  explicit LinkedTarget(State s) {
    if (::mkdir(d.path("real").c_str(), 0755) != 0)
      throw std::runtime_error("mkdir real: " + std::string(strerror(errno)));
    prepare(target, s);
    if (::symlink("real/target", link.c_str()) != 0)
      throw std::runtime_error("symlink: " + std::string(strerror(errno)));
  }
  bool link_still_a_link() const {
    struct stat st;
    return ::lstat(link.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
  }
};
} // namespace

TEST_CASE("create: through a symbolic link, the target is created, sized or "
          "replaced, and the link stays a link",
          "[mmapio_create][mmapio_open_ex][create][security]") {
  const State state = GENERATE(State::Missing, State::Empty, State::Full);
  INFO("the link points to " << state_name(state));
  const LinkedTarget t(state);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, t.link.c_str(), 2 * 4096));
  MapPtr g(m);
  CHECK(t.link_still_a_link());
  CHECK_BYTES(read_bytes(t.target), std::string(2 * 4096, '\0'));
  struct stat st;
  REQUIRE(::fstat(mmapio_fd(m), &st) == 0);
  CHECK(st.st_ino == stat_of(t.target).st_ino);
  CHECK(dir_listing(t.d.dir()) == (std::vector<std::string>{"link", "real"}));
  CHECK(dir_listing(t.d.path("real")) == std::vector<std::string>{"target"});
}

TEST_CASE("create: through a symbolic link, a failure leaves the target as "
          "it was, or not there",
          "[mmapio_create][mmapio_open_ex][create][security]") {
  const State state = GENERATE(State::Missing, State::Empty, State::Full);
  INFO("the link points to " << state_name(state));
  const LinkedTarget t(state);
  const std::vector<std::string> names = dir_listing(t.d.path("real"));
  const ChildOutcome r =
      create_under_fsize_limit(kWays[0], t.link, 4 << 20, 1 << 20);
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_IO);
  CHECK(r.os_errno == EFBIG);
  CHECK(dir_listing(t.d.path("real")) == names);
  if (state != State::Missing)
    CHECK_BYTES(read_bytes(t.target), state_bytes(state));
  CHECK(t.link_still_a_link());
}
