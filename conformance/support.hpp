// Shared helpers for the mmapio conformance suite (Catch2 v2, C++17).
//
// Stable interface (other test files rely on it):
//   TempDir            RAII temp directory: path(name), dir()
//   write_bytes, read_bytes, stat_of, dir_listing
//   CHECK_OK / REQUIRE_OK        expression must return 0; on failure the
//                                code's name and last_error message print
//   CHECK_CODE / REQUIRE_CODE    expression must return a given code
//   CHECK_BYTES / REQUIRE_BYTES  two byte strings are equal (a failure
//                                prints the first difference, not the bytes)
//   MapPtr             std::unique_ptr<mmapio_map> that calls mmapio_close
//   run_in_child       runs a function in a forked child (hang guard,
//                      result reported through a pipe; REQUIREs stay in
//                      the parent)
// Also: make_file, path_exists, pattern_bytes, tmpfs_base, map_sentinel /
// close_unless_sentinel (untouched-output checks), mmapio_describe,
// exhaust_memory_in_child / allocation_failure_testable /
// limit_address_space / open_without_memory / check_out_of_memory
// (NO_MEMORY tests), create_map / open_map / open_policy / MappedFile,
// leave_spare,
// read_map, file_size, SegPtr, query_capability.
//
// Skipping: MMAPIO_SKIP(reason) is the suite's one way to skip (see
// log_skip for MMAPIO_SKIP_LOG).
//
// Children: run_in_child (here) forks and runs a function of the test in
// the child: use it for a call that may crash, hang or exhaust memory.
// MMAPIO_CHILD / run_child (support_proc.hpp) re-execute the test binary:
// use them where the child must be a fresh process (another process
// mapping the same file, exec, a crash at a chosen point).
#ifndef MMAPIO_CONFORMANCE_SUPPORT_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_HPP

#include <catch2/catch.hpp>

#include "mmapio.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

// Every helper of the suite's support headers is in this one namespace;
// test files say `using namespace mmapio_test;`. Macros name what they
// call with its namespace, so they work in any scope.
namespace mmapio_test {

// The page size the library uses (mmapio_page_size()): every size and
// offset a test derives from pages is a multiple of it, never of 4096.
inline const uint64_t kPage = mmapio_page_size();

// ------------------------------------------------------------------
// Temporary directory
// ------------------------------------------------------------------

/** A fresh directory (mkdtemp under $MMAPIO_TEST_DIR, else /var/tmp),
 *  removed with everything in it on destruction. */
class TempDir {
public:
  TempDir() : TempDir(base_dir()) {}
  explicit TempDir(const std::string &base) {
    std::string tmpl = base + "/mmapio-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr)
      throw std::runtime_error("mkdtemp(" + tmpl +
                               ") failed: " + std::strerror(errno));
    dir_ = buf.data();
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  ~TempDir() { ::nftw(dir_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

  /** dir()/name */
  std::string path(const std::string &name) const { return dir_ + "/" + name; }
  const std::string &dir() const { return dir_; }

  static std::string base_dir() {
    const char *env = std::getenv("MMAPIO_TEST_DIR");
    return (env != nullptr && *env != '\0') ? std::string(env)
                                            : std::string("/var/tmp");
  }

private:
  static int remove_entry(const char *p, const struct stat *, int,
                          struct FTW *) {
    ::remove(p);
    return 0;
  }
  std::string dir_;
};

// ------------------------------------------------------------------
// Files
// ------------------------------------------------------------------

/** Creates or truncates p and writes bytes (mode 0644 before umask).
 *  Throws on failure. */
inline void write_bytes(const std::string &p, const std::string &bytes) {
  int fd = ::open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    throw std::runtime_error("open(" + p + "): " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      int e = errno;
      ::close(fd);
      throw std::runtime_error("write(" + p + "): " + std::strerror(e));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
}

/** dir.path(name), after writing bytes there (write_bytes): a test's
 *  file in one line. */
inline std::string make_file(const TempDir &dir, const std::string &name,
                             const std::string &bytes) {
  const std::string p = dir.path(name);
  write_bytes(p, bytes);
  return p;
}

/** Everything read from fd until end of file; errno is set and false
 * returned on a read error (what was read is in *out). */
inline bool read_all(int fd, std::string *out) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return false;
    if (n == 0)
      return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

/** The whole content of p. Throws on failure. */
inline std::string read_bytes(const std::string &p) {
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::runtime_error("open(" + p + "): " + std::strerror(errno));
  std::string out;
  const bool ok = read_all(fd, &out);
  const int e = errno;
  ::close(fd);
  if (!ok)
    throw std::runtime_error("read(" + p + "): " + std::strerror(e));
  return out;
}

/** Sets the umask for its lifetime. */
class UmaskGuard {
public:
  explicit UmaskGuard(mode_t m) : old_(::umask(m)) {}
  ~UmaskGuard() { ::umask(old_); }
  UmaskGuard(const UmaskGuard &) = delete;
  UmaskGuard &operator=(const UmaskGuard &) = delete;

private:
  mode_t old_;
};

/** stat of p (follows symlinks; use ::lstat for the link itself).
 *  Throws on failure. */
inline struct stat stat_of(const std::string &p) {
  struct stat st;
  if (::stat(p.c_str(), &st) != 0)
    throw std::runtime_error("stat(" + p + "): " + std::strerror(errno));
  return st;
}

/** The names in dir (without "." and ".."), sorted; empty if it cannot
 *  be read. */
inline std::vector<std::string> dir_listing(const std::string &dir) {
  std::vector<std::string> out;
  DIR *dp = ::opendir(dir.c_str());
  if (dp == nullptr)
    return out;
  while (const struct dirent *e = ::readdir(dp)) {
    const std::string n = e->d_name;
    if (n != "." && n != "..")
      out.push_back(n);
  }
  ::closedir(dp);
  std::sort(out.begin(), out.end());
  return out;
}

/** True when something (anything, even a dangling symlink) is at p. */
inline bool path_exists(const std::string &p) {
  struct stat st;
  return ::lstat(p.c_str(), &st) == 0;
}

/** n bytes of a deterministic, non-zero-heavy pattern. */
inline std::string pattern_bytes(size_t n, unsigned seed = 1) {
  std::string s(n, '\0');
  uint32_t x = 2463534242u ^ (seed * 2654435761u);
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    s[i] = static_cast<char>(x & 0xff);
  }
  return s;
}

/** A directory on tmpfs (/dev/shm) when there is one, else "". tmpfs
 *  allows sparse files beyond 128 TiB and refuses an oversized
 *  fallocate up front, without using memory. */
inline std::string tmpfs_base() {
  struct statfs sf;
  if (::statfs("/dev/shm", &sf) == 0 && sf.f_type == 0x01021994 /* TMPFS */)
    return "/dev/shm";
  return "";
}

// ------------------------------------------------------------------
// Handles and result checks
// ------------------------------------------------------------------

struct MapCloser {
  void operator()(mmapio_map *m) const noexcept { mmapio_close(m); }
};
/** Owns a handle; mmapio_close on destruction. */
using MapPtr = std::unique_ptr<mmapio_map, MapCloser>;

/** A pointer that is never a real handle: preset output parameters with
 *  it to check that a failing call leaves them untouched. */
inline mmapio_map *map_sentinel() {
  static char storage;
  return reinterpret_cast<mmapio_map *>(&storage);
}

/** Closes m unless it is the sentinel or NULL (cleanup after a call that
 *  wrongly succeeded). */
inline void close_unless_sentinel(mmapio_map *m) {
  if (m != nullptr && m != map_sentinel())
    mmapio_close(m);
}

/** "MMAPIO_E_IO (-1): message [os_errno 2, syscall open]" for rc. */
inline std::string mmapio_describe(int rc) {
  std::string s = mmapio_error_name(rc);
  s += " (" + std::to_string(rc) + ")";
  if (rc != 0) {
    const mmapio_error *e = mmapio_last_error();
    s += ": ";
    s += e->message;
    s += " [os_errno " + std::to_string(e->os_errno) + ", syscall " +
         (e->syscall != nullptr ? e->syscall : "none") + "]";
  }
  return s;
}

#define MMAPIO_EXPECT_CODE_IMPL(assertion, expr, code)                         \
  do {                                                                         \
    const int mmapio_t_rc = (expr);                                            \
    const int mmapio_t_want = (code);                                          \
    INFO(#expr << " returned " << ::mmapio_test::mmapio_describe(mmapio_t_rc)  \
               << "; expected " << mmapio_error_name(mmapio_t_want));          \
    assertion(mmapio_t_rc == mmapio_t_want);                                   \
  } while (0)

/** expr must return 0; else the code's name and last error are printed. */
#define CHECK_OK(expr) MMAPIO_EXPECT_CODE_IMPL(CHECK, expr, 0)
#define REQUIRE_OK(expr) MMAPIO_EXPECT_CODE_IMPL(REQUIRE, expr, 0)
/** expr must return code (an MMAPIO_E_* value). */
#define CHECK_CODE(expr, code) MMAPIO_EXPECT_CODE_IMPL(CHECK, expr, code)
#define REQUIRE_CODE(expr, code) MMAPIO_EXPECT_CODE_IMPL(REQUIRE, expr, code)

/** "" when got equals want; else the sizes and the first difference, so
 *  a failed comparison of large buffers prints one line, not the bytes. */
inline std::string bytes_diff(const std::string &got, const std::string &want) {
  if (got == want)
    return std::string();
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i])
    i++;
  char buf[160];
  const int g = i < got.size() ? static_cast<unsigned char>(got[i]) : -1;
  const int w = i < want.size() ? static_cast<unsigned char>(want[i]) : -1;
  std::snprintf(buf, sizeof buf,
                "got %zu bytes, want %zu; first difference at offset %zu: "
                "got %d, want %d (-1: past the end)",
                got.size(), want.size(), i, g, w);
  return buf;
}

/** got and want (anything a std::string can be made from) are equal. */
#define CHECK_BYTES(got, want)                                                 \
  CHECK(::mmapio_test::bytes_diff(std::string(got), std::string(want)) ==      \
        std::string())
#define REQUIRE_BYTES(got, want)                                               \
  REQUIRE(::mmapio_test::bytes_diff(std::string(got), std::string(want)) ==    \
          std::string())

// ------------------------------------------------------------------
// Forked children
// ------------------------------------------------------------------

/** What a child run with run_in_child reported. */
struct ChildOutcome {
  bool exited = false;   // the child exited normally
  int exit_status = -1;  // its exit status (0 when it reported)
  int term_signal = 0;   // the signal that killed it, if any
  bool reported = false; // the function returned and its result arrived
  int rc = 0;            // the function's return value
  int extra = 0;         // a second value the function may set
  int os_errno = 0;      // mmapio_last_error()->os_errno after the call
  int code = 0;          // mmapio_last_error()->code after the call
  char syscall[32] = {0};
  char message[256] = {0};

  std::string describe() const {
    std::string s;
    if (exited)
      s = "child exited with status " + std::to_string(exit_status);
    else
      s = "child killed by signal " + std::to_string(term_signal) + " (" +
          strsignal(term_signal) + ")" +
          (term_signal == SIGALRM ? " - hang guard fired" : "");
    if (reported)
      s += "; rc " + std::string(mmapio_error_name(rc)) + " (" +
           std::to_string(rc) + "), extra " + std::to_string(extra) +
           ", os_errno " + std::to_string(os_errno) + ", syscall " +
           (syscall[0] ? syscall : "none") + ", message \"" + message + "\"";
    else
      s += "; no result reported";
    return s;
  }
};

/** Runs int fn(int &extra) in a forked child and returns what it reported.
 *  The child arms alarm(hang_guard_seconds) (a hang guard: a blocking bug
 *  shows as SIGALRM, not as a stuck suite), never touches Catch2, and
 *  leaves with _exit. Use only REQUIRE/CHECK on the outcome, in the
 *  parent. */
template <class Fn>
ChildOutcome run_in_child(Fn &&fn, unsigned hang_guard_seconds = 30) {
  ChildOutcome out;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe2: ") + std::strerror(errno));
  pid_t pid = ::fork();
  if (pid < 0)
    throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(p[0]);
    const int sigs[] = {SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE, SIGALRM};
    for (int s : sigs)
      ::signal(s, SIG_DFL);
    ::alarm(hang_guard_seconds);
    ChildOutcome r;
    r.rc = fn(r.extra);
    const mmapio_error *e = mmapio_last_error();
    r.code = e->code;
    r.os_errno = e->os_errno;
    if (e->syscall != nullptr)
      std::strncpy(r.syscall, e->syscall, sizeof r.syscall - 1);
    std::memcpy(r.message, e->message, sizeof r.message);
    r.message[sizeof r.message - 1] = '\0';
    r.reported = true;
    const char *b = reinterpret_cast<const char *>(&r);
    size_t done = 0;
    while (done < sizeof r) {
      ssize_t n = ::write(p[1], b + done, sizeof r - done);
      if (n <= 0)
        ::_exit(120);
      done += static_cast<size_t>(n);
    }
    ::_exit(0);
  }
  ::close(p[1]);
  ChildOutcome got;
  char *b = reinterpret_cast<char *>(&got);
  size_t done = 0;
  for (;;) {
    ssize_t n = ::read(p[0], b + done, sizeof got - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      break;
    done += static_cast<size_t>(n);
    if (done == sizeof got)
      break;
  }
  ::close(p[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (done == sizeof got)
    out = got;
  else
    out.reported = false;
  out.exited = WIFEXITED(status);
  out.exit_status = out.exited ? WEXITSTATUS(status) : -1;
  out.term_signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  return out;
}

// Under ASan or TSan the allocator aborts (or the runtime itself needs
// address space) instead of malloc returning NULL, so allocation failures
// cannot be provoked there.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MMAPIO_SUPPORT_SANITIZED_ 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||     \
    __has_feature(memory_sanitizer)
#define MMAPIO_SUPPORT_SANITIZED_ 1
#endif
#endif

/** True where a read-write handle's default reservation leaves room to
 *  grow in place: 64-bit builds. On 32-bit it is exactly the file's size
 *  (mmapio.h, mmapio_open_ex), so growth moves unless options.reserve
 *  asks for more. */
constexpr bool mmapio_test_default_headroom() { return sizeof(void *) >= 8; }

/** The largest file the suite's "far larger than memory" tests map: 4 GiB
 *  on 64-bit, 1 GiB in a 32-bit address space. */
constexpr uint64_t mmapio_test_big_file() {
  return sizeof(void *) >= 8 ? uint64_t{1} << 32 : uint64_t{1} << 30;
}

/** True in a ThreadSanitizer build (its shadow takes most of the address
 *  space, so very large reservations fail there). */
constexpr bool mmapio_test_thread_sanitized() {
#if defined(__SANITIZE_THREAD__)
  return true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
  return true;
#else
  return false;
#endif
#else
  return false;
#endif
}

/** True when the suite runs under valgrind, which emulates the memory
 *  system calls (populate, huge pages, descriptor limits) only in part. */
inline bool mmapio_test_under_valgrind() {
  const char *pre = std::getenv("LD_PRELOAD");
  return pre != nullptr && std::strstr(pre, "vgpreload") != nullptr;
}

/** Appends "<test name>\t<reason>\n" to the file the environment variable
 *  MMAPIO_SKIP_LOG names, when it names one: a run's list of what it
 *  skipped and why (O_APPEND, one write a line, so that parallel test
 *  processes can share the file). Tabs and newlines in reason become
 *  spaces, to keep one line a skip. */
inline void log_skip(std::string reason) {
  const char *log = std::getenv("MMAPIO_SKIP_LOG");
  if (log == nullptr || *log == '\0')
    return;
  std::replace(reason.begin(), reason.end(), '\t', ' ');
  std::replace(reason.begin(), reason.end(), '\n', ' ');
  const std::string line =
      Catch::getResultCapture().getCurrentTestName() + "\t" + reason + "\n";
  const int fd = ::open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0)
    return;
  const ssize_t n = ::write(fd, line.data(), line.size());
  (void)n; // a lost log line must not fail the test
  ::close(fd);
}

// The suite's one skip idiom. Catch2 v2 has no SKIP: a skip is a warning
// "SKIPPED: <reason>" (and a line in MMAPIO_SKIP_LOG, see log_skip), and
// the test returns. reason may be a stream expression (a << ", " << b).
// MMAPIO_NOTE_SKIP only reports: for a helper that tells its caller to
// stop, or for one part of a test that is left out.
#define MMAPIO_NOTE_SKIP(reason)                                               \
  do {                                                                         \
    std::ostringstream mmapio_skip_os_;                                        \
    mmapio_skip_os_ << reason;                                                 \
    const std::string mmapio_skip_why_ = mmapio_skip_os_.str();                \
    WARN("SKIPPED: " << mmapio_skip_why_);                                     \
    ::mmapio_test::log_skip(mmapio_skip_why_);                                 \
  } while (0)
#define MMAPIO_SKIP(reason)                                                    \
  do {                                                                         \
    MMAPIO_NOTE_SKIP(reason);                                                  \
    return;                                                                    \
  } while (0)

/** Leaves the test with "SKIPPED: <capability>: <reason>" when
 *  mmapio_capability_query says cap is not supported here: a test that
 *  needs what a build, kernel or emulator may lack asks the library, and
 *  its skip carries the library's own reason. */
#define MMAPIO_REQUIRE_CAP(cap)                                                \
  do {                                                                         \
    mmapio_capability_info mmapio_cap_;                                        \
    REQUIRE(mmapio_capability_query((cap), &mmapio_cap_) == 0);                \
    if (!mmapio_cap_.supported)                                                \
      MMAPIO_SKIP(mmapio_cap_.name << ": " << mmapio_cap_.reason);             \
  } while (0)

/** Leaves the test with "SKIPPED: <capability> is supported here:
 *  <reason>": for a test of what a build without cap does, where it found
 *  that this one has it. The skip carries the library's own words. */
#define MMAPIO_SKIP_HAVING_CAP(cap)                                            \
  do {                                                                         \
    mmapio_capability_info mmapio_cap_;                                        \
    REQUIRE(mmapio_capability_query((cap), &mmapio_cap_) == 0);                \
    MMAPIO_SKIP(mmapio_cap_.name << " is supported here: "                     \
                                 << mmapio_cap_.reason);                       \
  } while (0)

/** Leaves the test with "SKIPPED: under valgrind, <why>" when it runs
 *  under valgrind. */
#define MMAPIO_SKIP_UNDER_VALGRIND(why)                                        \
  do {                                                                         \
    if (::mmapio_test::mmapio_test_under_valgrind())                           \
      MMAPIO_SKIP("under valgrind, " << why);                                  \
  } while (0)

/** True when the kernel enforces RLIMIT_AS here: a child lowers it to 0
 *  and a one-megabyte anonymous mmap must then fail. qemu-user does not
 *  pass the limit on to the host (it needs the address space itself), so
 *  under it allocations keep succeeding. Probed once per process. */
inline bool rlimit_as_enforced() {
  static const bool enforced = [] {
    const pid_t pid = ::fork();
    if (pid == 0) {
      struct rlimit rl;
      if (::getrlimit(RLIMIT_AS, &rl) != 0)
        ::_exit(2);
      rl.rlim_cur = 0;
      if (::setrlimit(RLIMIT_AS, &rl) != 0)
        ::_exit(2);
      void *p = ::mmap(nullptr, size_t(1) << 20, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      ::_exit(p == MAP_FAILED ? 0 : 1);
    }
    int st = 0;
    while (pid > 0 && ::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
  }();
  return enforced;
}

/** Why the SIGBUS guard cannot recognise its faults here, or "": a child
 *  maps a file, truncates it, reads past the new end and checks that the
 *  SIGBUS it gets carries the faulting page's address in si_addr (the
 *  guard compares it with its mappings). qemu-s390x 7.2 delivers a
 *  garbled si_addr (its two halves swapped). Probed once per process. */
inline std::string sigbus_address_blocker() {
  static const std::string why = [] {
    char path[] = "/tmp/mmapio-sigbus-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0)
      return std::string();
    ::unlink(path);
    const long page = ::sysconf(_SC_PAGESIZE);
    const pid_t pid = ::fork();
    if (pid == 0) {
      static volatile unsigned char *target;
      if (::ftruncate(fd, 2 * page) != 0)
        ::_exit(2);
      void *p = ::mmap(nullptr, static_cast<size_t>(2 * page), PROT_READ,
                       MAP_SHARED, fd, 0);
      if (p == MAP_FAILED || ::ftruncate(fd, page) != 0)
        ::_exit(2);
      target = static_cast<volatile unsigned char *>(p) + page;
      struct sigaction sa;
      std::memset(&sa, 0, sizeof sa);
      sa.sa_flags = SA_SIGINFO;
      sa.sa_sigaction = [](int, siginfo_t *info, void *) {
        const uintptr_t a = reinterpret_cast<uintptr_t>(info->si_addr);
        const uintptr_t t = reinterpret_cast<uintptr_t>(target);
        ::_exit(a >= t &&
                        a < t + static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE))
                    ? 0
                    : 1);
      };
      ::sigaction(SIGBUS, &sa, nullptr);
      (void)*target;
      ::_exit(3);
    }
    int st = 0;
    while (pid > 0 && ::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    ::close(fd);
    if (pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1)
      return std::string("a SIGBUS here does not carry the faulting address "
                         "in si_addr (qemu-user's signal delivery for some "
                         "guests: s390x, armhf), so the guard cannot tell "
                         "its own faults");
    return std::string();
  }();
  return why;
}

/** The page size of the system under this process, as mincore shows it:
 *  the probe asks about one page with a vector of a page's bytes and
 *  counts the entries written. A kernel writes one; qemu-user emulating
 *  pages larger than its host's passes the call through, and the host
 *  writes one entry per host page. Probed once per process. */
inline size_t mincore_host_page() {
  static const size_t host = [] {
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    void *p = ::mmap(nullptr, page, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
      return page;
    static_cast<volatile unsigned char *>(p)[0] = 1;
    // Entries are 0 or 1 (and other low bits); 0xEE marks one unwritten.
    std::vector<unsigned char> vec(page, 0xEE);
    size_t written = 0;
    if (::mincore(p, page, vec.data()) == 0)
      while (written < page && vec[written] != 0xEE)
        written++;
    ::munmap(p, page);
    return written > 1 ? page / written : page;
  }();
  return host;
}

/** "qemu-user emulating 65536-byte pages on 4096-byte host pages", from
 *  what mincore shows (mincore_host_page); "" when it shows none. */
inline std::string emulated_pages() {
  const long page = ::sysconf(_SC_PAGESIZE);
  const size_t host = mincore_host_page();
  if (host == static_cast<size_t>(page))
    return std::string();
  return "qemu-user emulating " + std::to_string(page) + "-byte pages on " +
         std::to_string(host) + "-byte host pages";
}

/** Why mincore cannot be used here, or "": it must write one entry per
 *  page. Under qemu-user emulating pages larger than the host's it
 *  writes one per host page, past the end of the caller's vector, and
 *  the entries do not describe the pages asked about; so neither
 *  mmapio_resident nor a test's own mincore can be trusted. */
inline std::string mincore_blocker() {
  const std::string emulator = emulated_pages();
  if (emulator.empty())
    return std::string();
  return "mincore writes one entry per host page, " +
         std::to_string(::sysconf(_SC_PAGESIZE) /
                        static_cast<long>(mincore_host_page())) +
         " per page, past the end of the caller's vector (" + emulator +
         " passes the call to the host)";
}

/** Why a file mapping past the file's end does not behave as the
 *  kernel's here, or "". A kernel maps the whole length asked for: past
 *  the end a page faults with SIGBUS until the file grows, then reads
 *  the file; the tail of the last page reads zeros. The library relies on
 *  it (a new handle maps past the end and grows by ftruncate). A child
 *  maps a 1-byte file over a 2-page reservation the way the library does
 *  (MAP_FIXED, shared, writable), grows the file to 2 pages and reads a
 *  byte of the second page. qemu-user emulating pages larger than its
 *  host's refuses that mapping, and where it maps, maps the file only up
 *  to its end at map time (rounded to a host page): the rest faults even
 *  after the file grows. Probed once per process. */
inline std::string file_tail_blocker() {
  static const std::string why = [] {
    char path[] = "/tmp/mmapio-tail-XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0)
      return std::string();
    ::unlink(path);
    const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const pid_t pid = ::fork();
    if (pid == 0) {
      if (::ftruncate(fd, 1) != 0)
        ::_exit(2);
      void *r = ::mmap(nullptr, 2 * page, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (r == MAP_FAILED)
        ::_exit(2);
      void *p = ::mmap(r, 2 * page, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_FIXED, fd, 0);
      if (p == MAP_FAILED)
        ::_exit(1);
      if (::ftruncate(fd, static_cast<off_t>(2 * page)) != 0)
        ::_exit(2);
      // Killed by SIGSEGV or SIGBUS where the second page stayed unmapped.
      ::_exit(static_cast<volatile unsigned char *>(p)[page] == 0 ? 0 : 3);
    }
    int st = 0;
    while (pid > 0 && ::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    ::close(fd);
    if (pid <= 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0) ||
        (WIFEXITED(st) && WEXITSTATUS(st) == 2))
      return std::string();
    // Only an emulator's pages excuse it: where the system's own pages
    // behave so, the library's growth is broken there, and the tests that
    // depend on it must run and fail.
    const std::string emulator = emulated_pages();
    if (emulator.empty())
      return std::string();
    const std::string seen =
        !WIFEXITED(st) ? "the probe's read past the old end took signal " +
                             std::to_string(WTERMSIG(st))
        : WEXITSTATUS(st) == 1 ? std::string("the probe's mapping was refused")
                               : std::string("the probe read a byte the file "
                                             "does not hold");
    return emulator +
           " maps a file only up to its end at map time: a shared writable "
           "mapping past the end over a reservation is refused, bytes past "
           "that end fault even after the file grows, and the tail of a page "
           "past a shrunk file's end faults instead of reading zeros (" +
           seen + ")";
  }();
  return why;
}

/** False (with the reason in *why) when exhaust_memory_in_child cannot
 *  make malloc return NULL in this build. */
inline bool allocation_failure_testable(std::string *why) {
#ifdef MMAPIO_SUPPORT_SANITIZED_
  *why = "a sanitizer's allocator aborts instead of returning NULL when "
         "memory runs out";
  return false;
#else
  // valgrind preloads its own allocator (vgpreload_*.so), which runs out
  // of its own memory instead of returning NULL.
  if (mmapio_test_under_valgrind()) {
    *why = "under valgrind the allocator cannot be made to return NULL";
    return false;
  }
  if (!rlimit_as_enforced()) {
    *why = "RLIMIT_AS is not enforced here (qemu-user does not pass it to "
           "the host), so memory cannot be made to run out";
    return false;
  }
  return true;
#endif
}

/** Leaves the test with a printed "SKIPPED: <reason>" when allocation
 *  failures cannot be provoked in this build (see above). */
#define MMAPIO_REQUIRE_ALLOCATION_FAILURE()                                    \
  do {                                                                         \
    std::string mmapio_why_;                                                   \
    if (!::mmapio_test::allocation_failure_testable(&mmapio_why_))             \
      MMAPIO_SKIP(mmapio_why_);                                                \
  } while (0)

/** Lets the calling process map at most `extra` more bytes of address
 *  space (RLIMIT_AS = current size, from /proc/self/statm, + extra).
 *  False when that cannot be done. Only for forked children. */
inline bool limit_address_space(size_t extra) {
  unsigned long pages = 0;
  std::FILE *f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr)
    return false;
  const bool ok = std::fscanf(f, "%lu", &pages) == 1;
  std::fclose(f);
  if (!ok)
    return false;
  const rlim_t now =
      static_cast<rlim_t>(pages) * static_cast<rlim_t>(::sysconf(_SC_PAGESIZE));
  struct rlimit rl;
  if (::getrlimit(RLIMIT_AS, &rl) != 0)
    return false;
  rl.rlim_cur = now + extra;
  return ::setrlimit(RLIMIT_AS, &rl) == 0;
}

/** For use only inside a forked child (run_in_child): makes every further
 *  allocation fail (RLIMIT_AS below the current size, then every block the
 *  heap still has taken, largest first, and never freed), so the next
 *  library call meets malloc == NULL. True when a 1-byte malloc then
 *  fails, as it should. */
inline void *volatile g_mmapio_sink;
inline bool exhaust_memory_in_child() {
  // Fault in stack now: the stack cannot grow once RLIMIT_AS is low.
  volatile char stack_reserve[256 * 1024];
  for (size_t i = 0; i < sizeof stack_reserve; i += 1024)
    stack_reserve[i] = 1;
  struct rlimit rl;
  if (::getrlimit(RLIMIT_AS, &rl) == 0) {
    rl.rlim_cur = 0;
    ::setrlimit(RLIMIT_AS, &rl);
  }
  // Through a volatile, or the compiler may drop an allocation it sees
  // unused and fold its NULL test.
  for (size_t s = size_t(1) << 30; s >= 1; s /= 2)
    while ((g_mmapio_sink = std::malloc(s)) != nullptr) {
    }
  for (size_t s = 1; s <= 8192; s += 8)
    while ((g_mmapio_sink = std::malloc(s)) != nullptr) {
    }
  g_mmapio_sink = std::malloc(1);
  return g_mmapio_sink == nullptr;
}

/** Runs open(&m) in a forked child with no memory left
 *  (exhaust_memory_in_child), m preset to map_sentinel(); the outcome's
 *  extra is 1 when the call left m untouched. */
template <class Open> ChildOutcome open_without_memory(Open &&open) {
  return run_in_child([&](int &extra) {
    mmapio_map *m = map_sentinel();
    exhaust_memory_in_child();
    const int rc = open(&m);
    extra = m == map_sentinel() ? 1 : 0;
    return rc;
  });
}

/** Checks what call (a function that allocates a handle and maps) did
 *  with no memory left: a clean failure, NO_MEMORY, or IO with ENOMEM
 *  where the library maps before it allocates (the mmap meets the
 *  exhausted address space first), which a warning reports. */
inline void check_out_of_memory(const ChildOutcome &r, const char *call) {
  const bool no_memory = r.rc == MMAPIO_E_NO_MEMORY;
  const bool mmap_enomem = r.rc == MMAPIO_E_IO && r.os_errno == ENOMEM;
  CHECK((no_memory || mmap_enomem));
  if (mmap_enomem)
    WARN(call << " reported IO/ENOMEM (mmap before allocating the handle)");
}

// ------------------------------------------------------------------
// Writing through each path, reading the file behind the mapping
// ------------------------------------------------------------------

/** The name of enum value e, from names given in the enum's order. */
template <typename E, size_t N>
const char *enum_name(E e, const char *const (&names)[N]) {
  const auto i = static_cast<size_t>(e);
  return i < N ? names[i] : "?";
}

/** The ways bytes can be written into a mapping; flushing and durability
 *  must treat them all alike. */
enum class WritePath { view_mut, base_mut, update };

inline const char *path_name(WritePath w) {
  static const char *const names[] = {
      "mmapio_view_mut", "raw pointer from mmapio_base_mut", "mmapio_update"};
  return enum_name(w, names);
}

/** Writes bytes at off through the chosen path. */
inline void write_via(WritePath w, mmapio_map *m, uint64_t off,
                      const std::string &bytes) {
  switch (w) {
  case WritePath::view_mut: {
    void *p = nullptr;
    REQUIRE_OK(mmapio_view_mut(m, off, bytes.size(), &p));
    std::memcpy(p, bytes.data(), bytes.size());
    break;
  }
  case WritePath::base_mut: {
    void *b = nullptr;
    REQUIRE_OK(mmapio_base_mut(m, &b));
    std::memcpy(static_cast<unsigned char *>(b) + off, bytes.data(),
                bytes.size());
    break;
  }
  case WritePath::update:
    REQUIRE_OK(mmapio_update(m, off, bytes.data(), bytes.size()));
    break;
  }
}

/** len bytes at off of the file at path, read with pread through a
 *  descriptor of our own (what the file holds, not what a mapping shows);
 *  shorter if the file is. */
inline std::string pread_file(const std::string &path, uint64_t off,
                              size_t len) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  std::string out(len, '\0');
  size_t done = 0;
  while (done < len) {
    ssize_t n =
        ::pread(fd, &out[done], len - done, static_cast<off_t>(off + done));
    if (n <= 0)
      break;
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  out.resize(done);
  return out;
}

// ------------------------------------------------------------------
// Handles
// ------------------------------------------------------------------

// A read-write handle on a new file of size bytes (mmapio_create); the
// test stops here if it fails.
inline MapPtr create_map(const std::string &path, uint64_t size) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, path.c_str(), size));
  REQUIRE(m != nullptr);
  return MapPtr(m);
}

// A handle on an existing file in mode (mmapio_open); the test stops here
// if it fails.
inline MapPtr open_map(const std::string &path, mmapio_mode mode) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, path.c_str(), mode));
  REQUIRE(m != nullptr);
  return MapPtr(m);
}

// Closes a read-write handle, whose reservation the library keeps for the
// next one (mmapio_close; mmapio_trim gives it back).
inline void leave_spare() {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_anon(&m, 4096));
  mmapio_close(m);
}

// A file of size pattern bytes (pattern_bytes(size, seed)) mapped in mode
// (an empty file only RO): the fixture of the view tests.
struct MappedFile {
  TempDir td;
  std::string path;
  std::string bytes;
  MapPtr map;
  MappedFile(uint64_t size, mmapio_mode mode, unsigned seed = 7)
      : path(td.path("f")), bytes(pattern_bytes(size, seed)) {
    write_bytes(path, bytes);
    map = open_map(path, mode);
  }
};

// A new file of size bytes opened RW under a flush policy (and option
// flags); the test stops here if it fails.
inline MapPtr open_policy(const std::string &path, uint64_t size,
                          mmapio_flush_policy policy, uint64_t arg,
                          unsigned flags = 0) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  o.flush_policy = policy;
  o.flush_arg = arg;
  o.flags = flags;
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m, path.c_str(), &o, MMAPIO_CREATE));
  return MapPtr(m);
}

// len bytes at off of m, read with mmapio_read (REQUIREd to work): what
// the mapping holds.
inline std::string read_map(const mmapio_map *m, uint64_t off, size_t len) {
  std::string s(len, '\0');
  REQUIRE_OK(mmapio_read(m, off, &s[0], len));
  return s;
}

// The size of the file at path (stat_of: throws when stat fails).
inline uint64_t file_size(const std::string &path) {
  return static_cast<uint64_t>(stat_of(path).st_size);
}

// The address of m's first byte, as a number.
inline uintptr_t base_addr(const mmapio_map *m) {
  return reinterpret_cast<uintptr_t>(mmapio_base(m));
}

// True when mmapio_unmap refuses because of other holders. When it does
// not refuse, the handle is consumed and m is emptied.
inline bool unmap_is_busy(MapPtr &m) {
  int fd = -1;
  const int rc = mmapio_unmap(m.get(), &fd);
  if (rc == 0) {
    m.release();
    ::close(fd);
  }
  return rc == MMAPIO_E_BUSY;
}

struct SegmentReleaser {
  void operator()(mmapio_segment *s) const noexcept {
    mmapio_segment_release(s);
  }
};
/** Owns a segment; mmapio_segment_release on destruction. */
using SegPtr = std::unique_ptr<mmapio_segment, SegmentReleaser>;

// What mmapio_capability_query says of cap, REQUIREd to succeed; the
// record is filled with 0xA5 first, so a field the call leaves unset
// shows. Its name and reason are printed with any later failure.
inline mmapio_capability_info query_capability(mmapio_capability cap) {
  mmapio_capability_info info;
  std::memset(&info, 0xA5, sizeof info);
  REQUIRE_OK(mmapio_capability_query(cap, &info));
  INFO("capability " << static_cast<int>(cap) << " (" << info.name
                     << "): " << info.reason);
  CHECK(info.capability == cap);
  return info;
}

// A watch callback that does nothing.
inline void ignore_event(const mmapio_watch_event *, void *) {}

// Polls pred every period_ms, at most `periods` times; true once it holds.
// A generous bound, never a statement about speed.
template <class Pred>
bool poll_until(Pred pred, unsigned period_ms, unsigned periods = 1000) {
  for (unsigned i = 0; i < periods; i++) {
    if (pred())
      return true;
    ::usleep(period_ms * 1000);
  }
  return pred();
}

// True when no pin or other reference but the caller's is alive: unmap
// succeeds only then. Consumes the handle (and closes its descriptor)
// when it succeeds.
inline bool only_reference_left(MapPtr &m) {
  int fd = -1;
  if (mmapio_unmap(m.get(), &fd) != 0)
    return false;
  m.release();
  ::close(fd);
  return true;
}

} // namespace mmapio_test

#endif
