// Creating and copying files with a failure injected at each system call
// of the system-call table (lib/src/unix/syscalls.h) that the path makes,
// one call at a time: the first ftruncate, the second, ..., then the same
// for posix_fallocate, mmap and fsync. After each failure: the documented
// code and system call in the detail, an existing file exactly as it was,
// and no new or temporary file left in the directory. A directory fsync
// fails only once the new file has its name: FLUSH_FAILED, with the new
// file in place.
#include "support.hpp"
#include "support_create.hpp"
#include "support_proc.hpp"
#include "support_seam.hpp"

#include <sys/mman.h>

using namespace mmapio_test;

namespace {

enum class Call { Ftruncate, Fallocate, Mmap, Fsync };

const char *call_name(Call c) {
  static const char *const names[] = {"ftruncate", "posix_fallocate", "mmap",
                                      "fsync"};
  return enum_name(c, names);
}

// The injection: the nth call (from 1) of one entry fails; calls of that
// entry are counted.
Call g_call = Call::Ftruncate;
int g_nth = 0;
int g_seen = 0;

bool fail_now(Call c) { return c == g_call && ++g_seen == g_nth; }

int inj_ftruncate(int fd, off_t len) {
  if (fail_now(Call::Ftruncate)) {
    errno = EIO;
    return -1;
  }
  return ::ftruncate(fd, len);
}

int inj_fallocate(int fd, off_t off, off_t len) {
  if (fail_now(Call::Fallocate))
    return ENOSPC;
  return ::posix_fallocate(fd, off, len);
}

void *inj_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
  if (fail_now(Call::Mmap)) {
    errno = ENOMEM;
    return MAP_FAILED;
  }
  return ::mmap(addr, len, prot, flags, fd, off);
}

int inj_fsync(int fd) {
  if (fail_now(Call::Fsync)) {
    errno = EIO;
    return -1;
  }
  return ::fsync(fd);
}

// Installs the injection for one run; its guard restores the real calls
// on every exit path.
class Inject {
public:
  Inject(Call c, int nth) {
    g_call = c;
    g_nth = nth;
    g_seen = 0;
    guard_.set(call_name(Call::Ftruncate), inj_ftruncate);
    guard_.set(call_name(Call::Fallocate), inj_fallocate);
    guard_.set(call_name(Call::Mmap), inj_mmap);
    guard_.set(call_name(Call::Fsync), inj_fsync);
  }
  // Whether the failing call was reached.
  static bool fired() { return g_seen >= g_nth; }

private:
  SysGuard guard_;
};

const Call kCalls[] = {Call::Ftruncate, Call::Fallocate, Call::Mmap,
                       Call::Fsync};

// The code each injected failure must give.
int code_for(Call c) {
  switch (c) {
  case Call::Ftruncate:
  case Call::Mmap:
    return MMAPIO_E_IO;
  case Call::Fallocate:
    return MMAPIO_E_RESIZE_FAILED;
  case Call::Fsync:
    return MMAPIO_E_FLUSH_FAILED;
  }
  return 0;
}

const std::string kOld = state_bytes(State::Full);
constexpr uint64_t kSize = 64 * 1024;

} // namespace

TEST_CASE("create: a failure injected at any system call leaves an existing "
          "file as it was and no new file behind",
          "[mmapio_create][mmapio_open_ex][mmapio_open_or_create][create]") {
  const CreateWay way = GENERATE(
      CreateWay{"mmapio_create", MMAPIO_CREATE, 0, true},
      CreateWay{"mmapio_open_ex CREATE + PREALLOCATE + SYNC_DIR", MMAPIO_CREATE,
                MMAPIO_OPT_PREALLOCATE | MMAPIO_OPT_SYNC_DIR, false},
      CreateWay{"mmapio_open_or_create", MMAPIO_OPEN_OR_CREATE, 0, true},
      CreateWay{"mmapio_open_ex OPEN_OR_CREATE + PREALLOCATE + SYNC_DIR",
                MMAPIO_OPEN_OR_CREATE,
                MMAPIO_OPT_PREALLOCATE | MMAPIO_OPT_SYNC_DIR, false});
  const State state = GENERATE(State::Missing, State::Empty, State::Full);
  if (!creates_over(way, state))
    return;
  for (Call call : kCalls) {
    for (int nth = 1;; nth++) {
      INFO(way.name << " over " << state_name(state) << "; call " << nth
                    << " of " << call_name(call) << " fails");
      REQUIRE(nth < 32); // the path makes only a few calls of each
      TempDir d;
      const std::string p = d.path("f");
      prepare(p, state);
      const std::vector<std::string> names = dir_listing(d.dir());
      const ino_t ino = state != State::Missing ? stat_of(p).st_ino : 0;
      mmapio_map *m = map_sentinel();
      int rc;
      bool fired;
      {
        Inject inject(call, nth);
        rc = create_by(way, p, kSize, &m);
        fired = Inject::fired();
      }
      INFO("returned " << mmapio_describe(rc));
      if (rc == 0) {
        // Past the last call of this kind, or a failure the library
        // works around (a smaller reservation after a failed one).
        CHECK(mmapio_len(m) == kSize);
        CHECK(stat_of(p).st_size == static_cast<off_t>(kSize));
        mmapio_close(m);
        CHECK(dir_listing(d.dir()) == std::vector<std::string>{"f"});
        if (!fired)
          break;
        continue;
      }
      REQUIRE(fired);
      CHECK(rc == code_for(call));
      CHECK(m == map_sentinel());
      REQUIRE(mmapio_last_error()->syscall != nullptr);
      CHECK(std::string(mmapio_last_error()->syscall) == call_name(call));
      if (call == Call::Fsync) {
        // Reported after the new file got its name: it is in place.
        CHECK_BYTES(read_bytes(p), std::string(kSize, '\0'));
        CHECK(dir_listing(d.dir()) == std::vector<std::string>{"f"});
        continue;
      }
      CHECK(dir_listing(d.dir()) == names);
      if (state != State::Missing) {
        CHECK_BYTES(read_bytes(p), state_bytes(state));
        CHECK(stat_of(p).st_ino == ino);
      } else {
        // The name is free for the next try.
        mmapio_map *n = nullptr;
        REQUIRE_OK(mmapio_open_or_create(&n, p.c_str(), 4096));
        mmapio_close(n);
      }
      close_unless_sentinel(m);
    }
  }
}

TEST_CASE("mmapio_open_ex: FLUSH_FAILED when MMAPIO_OPT_SYNC_DIR cannot sync "
          "the directory after the new file got its name",
          "[mmapio_open_ex][errors][create][durability][linux]") {
  const mmapio_disposition how = GENERATE(MMAPIO_CREATE, MMAPIO_OPEN_OR_CREATE);
  const bool existing = GENERATE(false, true);
  if (how == MMAPIO_OPEN_OR_CREATE && existing)
    return;
  INFO("disposition " << how << (existing ? " over a 12 KiB file" : ""));
  TempDir d;
  const std::string p = d.path("f");
  if (existing)
    write_bytes(p, kOld);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = kSize;
  o.flags = MMAPIO_OPT_SYNC_DIR;
  mmapio_map *m = map_sentinel();
  const size_t fds = count_dir("/proc/self/fd");
  {
    Inject inject(Call::Fsync, 1);
    CHECK_CODE(mmapio_open_ex(&m, p.c_str(), &o, how), MMAPIO_E_FLUSH_FAILED);
    CHECK(g_seen == 1); // the directory, once
  }
  CHECK(count_dir("/proc/self/fd") == fds); // nothing leaked
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == EIO);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "fsync");
  CHECK(m == map_sentinel());
  // The new file is in place under its name; only its durability is
  // unknown. Nothing else is left in the directory.
  CHECK_BYTES(read_bytes(p), std::string(kSize, '\0'));
  CHECK(dir_listing(d.dir()) == std::vector<std::string>{"f"});
  close_unless_sentinel(m);
}

TEST_CASE("mmapio_copy_file: FLUSH_FAILED when syncing dst's directory fails "
          "after the rename",
          "[mmapio_copy_file][errors][open][durability]") {
  TempDir d;
  const std::string src = d.path("src");
  const std::string dst = d.path("dst");
  const std::string copy = pattern_bytes(3 * 4096 + 5, 42);
  write_bytes(src, copy);
  write_bytes(dst, kOld);
  // The first fsync makes the copy durable before the rename: its failure
  // leaves dst unchanged (IO). The second syncs the directory after it.
  {
    Inject inject(Call::Fsync, 1);
    CHECK_CODE(mmapio_copy_file(src.c_str(), dst.c_str()), MMAPIO_E_IO);
  }
  CHECK_BYTES(read_bytes(dst), kOld);
  CHECK(dir_listing(d.dir()) == (std::vector<std::string>{"dst", "src"}));
  {
    Inject inject(Call::Fsync, 2);
    CHECK_CODE(mmapio_copy_file(src.c_str(), dst.c_str()),
               MMAPIO_E_FLUSH_FAILED);
    CHECK(Inject::fired());
  }
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == EIO);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "fsync");
  CHECK_BYTES(read_bytes(dst), copy);
  CHECK(dir_listing(d.dir()) == (std::vector<std::string>{"dst", "src"}));
}

TEST_CASE("mmapio_open_or_create: a name that is missing when opened and "
          "taken when linked, round after round, ends in MMAPIO_E_IO",
          "[mmapio_open_or_create][errors][create][linux]") {
  // Another process creating and deleting the name between each open and
  // link is what this fakes: every link of the new file reports EEXIST
  // while the name stays free. The call returns instead of retrying
  // forever, and leaves nothing in the directory.
  TempDir d;
  const std::string p = d.path("f");
  mmapio_map *m = map_sentinel();
  const size_t fds = count_dir("/proc/self/fd");
  {
    SysGuard guard;
    guard.fail("link", EEXIST);
    if (SysGuard::has("linkat"))
      guard.fail("linkat", EEXIST);
    CHECK_CODE(mmapio_open_or_create(&m, p.c_str(), 4096), MMAPIO_E_IO);
  }
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->os_errno == EEXIST);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "link");
  CHECK(m == map_sentinel());
  CHECK(count_dir("/proc/self/fd") == fds);
  CHECK(dir_listing(d.dir()).empty());
  close_unless_sentinel(m);
}
