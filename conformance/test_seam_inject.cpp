// Systematic fault injection ([fault-injection]): for each public
// operation below, the N-th call it makes through the system-call table
// fails, for N = 1, 2, ... until the operation makes fewer than N calls;
// once as a single failure and once as a persistent one (every later call
// of the same entry fails too: a disk that stays full, a descriptor limit
// that stays reached), with each errno the call can really return. After each
// run:
//  - the code is 0 or one the header's Errors list gives for the
//    function (the header is the oracle), and mmapio_last_error() says
//    the same;
//  - the files are as the contract says (a failed create leaves no new
//    file and an existing one as it was; a failed resize leaves the size
//    and the bytes), and no temporary file is left;
//  - open descriptors (/proc/self/fd), threads (/proc/self/task), the
//    mappings of the test's files and the reserved address space
//    (/proc/self/maps) are as before; the heap is LeakSanitizer's and
//    valgrind's to check.
// The counts of injection points are written as a figure of the run.
#include "support.hpp"
#include "support_proc.hpp"
#include "support_seam.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

// ------------------------------------------------------------------
// The counting table: every entry counts its calls, and the planned
// ones fail.
// ------------------------------------------------------------------

struct Plan {
  long target = 0;         // the call to fail (1-based); 0: none
  bool persistent = false; // and every later call of the same entry
  int err = 0;
  pthread_t thread{};   // only the operation's own calls count and fail,
  bool workers = false; // or, for async operations, only other threads'
  long calls = 0;       // calls made so far
  long injected = 0;    // calls failed
  int first_failed = -1;
};
Plan g_plan;

#define MMAPIO_TEST_REAL_(name, real, ret, params, fails)                      \
  reinterpret_cast<mmi_sys_fn>(mmi_sys_real.name),
const mmi_sys_fn g_real[MMI_SYS_COUNT] = {MMI_SYSCALLS(MMAPIO_TEST_REAL_)};
#undef MMAPIO_TEST_REAL_

// Entries never failed: the ones that cannot fail, the clock, and the
// release calls (close and munmap release what they are given even when
// they report an error on Linux; a fake that reported failure without
// releasing would leak through the fake, not the library).
bool injectable(int index) {
  static const std::set<std::string> never = {
      "close", "munmap", "getpid", "ticks", "clock_gettime", "raise"};
  return seam_detail::how[index] != MMI_FAILS_NEVER &&
         never.count(mmi_sys_name(index)) == 0;
}

bool inject_now(int index) {
  // Calls of background threads (a watch's dispatcher, a flusher) are
  // not the operation's, and counting them would make N depend on timing.
  // The thread first: g_plan.thread is written only while no library
  // thread runs, the rest also while background threads may be calling.
  if (pthread_equal(pthread_self(), g_plan.thread) == g_plan.workers ||
      !injectable(index) || g_plan.target == 0)
    return false;
  const long n = ++g_plan.calls;
  if (n == g_plan.target || (g_plan.persistent && n > g_plan.target &&
                             index == g_plan.first_failed)) {
    if (g_plan.injected++ == 0)
      g_plan.first_failed = index;
    seam_detail::fail_errno[index] = g_plan.err;
    return true;
  }
  return false;
}

template <int Index, typename F> struct Counting;
template <int Index, typename R, typename... A>
struct Counting<Index, R (*)(A...)> {
  static R fn(A... a) {
    if (inject_now(Index))
      return seam_detail::failure<R>(seam_detail::how[Index], Index);
    return reinterpret_cast<R (*)(A...)>(g_real[Index])(a...);
  }
};

#define MMAPIO_TEST_COUNTING_(name, real, ret, params, fails)                  \
  reinterpret_cast<mmi_sys_fn>(                                                \
      &Counting<MMI_SYS_##name, decltype(mmi_sys_table::name)>::fn),
const mmi_sys_fn g_counting[MMI_SYS_COUNT] = {
    MMI_SYSCALLS(MMAPIO_TEST_COUNTING_)};
#undef MMAPIO_TEST_COUNTING_

void install_counting() {
  for (int i = 0; i < MMI_SYS_COUNT; i++)
    REQUIRE(mmi_sys_set(mmi_sys_name(i), g_counting[i]) == 0);
}

// The errnos each call can really return, for the failures that matter
// to the library (the first is the one every entry is failed with too).
std::vector<int> errnos_for(const std::string &name) {
  static const std::map<std::string, std::vector<int>> known = {
      {"open", {EACCES, EMFILE, ENOSPC}},
      {"ftruncate", {EFBIG, EIO}},
      {"posix_fallocate", {ENOSPC, EOPNOTSUPP}},
      {"mmap", {ENOMEM, EAGAIN}},
      {"mprotect", {ENOMEM}},
      {"fsync", {EIO, ENOSPC}},
      {"msync", {EIO}},
      {"link", {EEXIST, EPERM}},
      {"linkat", {ENOENT, EPERM}},
      {"rename", {EXDEV, EACCES}},
      {"write", {ENOSPC, EIO}},
      {"pwrite", {ENOSPC, EIO}},
      {"read", {EIO}},
      {"pread", {EIO}},
      {"fstat", {EIO}},
      {"memfd_create", {EMFILE, ENOMEM}},
      {"copy_file_range", {EXDEV, EIO}},
      {"pthread_create", {EAGAIN}},
      {"madvise", {EINVAL, ENOMEM}},
  };
  auto it = known.find(name);
  return it != known.end() ? it->second : std::vector<int>{EIO};
}

// ------------------------------------------------------------------
// The oracle: the header's Errors list of each function.
// ------------------------------------------------------------------

std::set<std::string> documented_errors(const std::string &fn) {
  std::ifstream in(MMAPIO_TEST_HEADER);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string h = ss.str();
  const size_t decl = h.find("MMAPIO_API int " + fn + "(");
  INFO("declaration of " << fn << " in " << MMAPIO_TEST_HEADER);
  REQUIRE(decl != std::string::npos);
  const size_t doc = h.rfind("/**", decl);
  REQUIRE(doc != std::string::npos);
  const size_t errors = h.find("Errors:", doc);
  std::set<std::string> out;
  if (errors == std::string::npos || errors > decl)
    return out;
  // Each item starts " *  - MMAPIO_E_NAME:".
  for (size_t at = h.find("- MMAPIO_E_", errors); at < decl;
       at = h.find("- MMAPIO_E_", at + 1)) {
    size_t b = at + 2, e = b;
    while (e < h.size() &&
           (std::isupper(static_cast<unsigned char>(h[e])) || h[e] == '_'))
      e++;
    out.insert(h.substr(b, e - b));
  }
  return out;
}

// ------------------------------------------------------------------
// What must not change
// ------------------------------------------------------------------

// Reserved address space is compared only without a sanitizer: ASan's
// and TSan's runtimes keep terabytes of PROT_NONE shadow that shrinks as
// they use it. (Their builds check the heap instead.)
#ifdef MMAPIO_SUPPORT_SANITIZED_
constexpr bool kCountReserved = false;
#else
constexpr bool kCountReserved = true;
#endif

struct ProcessState {
  size_t fds = 0, tasks = 0;
  size_t file_maps = 0;  // mappings of files under the test's directory
  uint64_t reserved = 0; // bytes of anonymous PROT_NONE address space
  bool operator==(const ProcessState &o) const {
    return fds == o.fds && tasks == o.tasks && file_maps == o.file_maps &&
           reserved == o.reserved;
  }
};

// The threads of the test process before any operation ran; a thread an
// operation joined may linger in /proc/self/task for a moment after the
// join (support_proc.hpp), so counts wait until they are back to it.
size_t g_base_tasks = 0;

ProcessState process_state(const std::string &dir) {
  ProcessState s;
  s.fds = count_dir("/proc/self/fd");
  s.tasks = thread_count_settled(g_base_tasks);
  for (const Vma &v : read_maps()) {
    if (v.path.compare(0, dir.size(), dir) == 0)
      s.file_maps++;
    else if (kCountReserved && v.path.empty() &&
             v.perms.compare(0, 3, "---") == 0)
      s.reserved += v.end - v.start;
  }
  return s;
}

std::string describe(const ProcessState &s) {
  std::ostringstream o;
  o << s.fds << " fds, " << s.tasks << " threads, " << s.file_maps
    << " file mappings, " << s.reserved << " bytes reserved";
  return o.str();
}

// ------------------------------------------------------------------
// The operations
// ------------------------------------------------------------------

const uint64_t kOld = 3 * 4096 + 100; // an existing file's size

struct Op {
  const char *name;     // what is done
  const char *function; // whose Errors list is the oracle
  // Makes the files the operation starts from, in dir.
  std::function<void(const std::string &dir)> setup;
  // The operation; returns its code, and on success has cleaned up after
  // itself (closed what it opened) after checking that it works.
  std::function<int(const std::string &dir)> run;
  // What must hold after a failure (rc != 0), and after any run.
  std::function<void(const std::string &dir, int rc)> check;
  // Whether this build has the capability (unset: every build has it).
  // Where it does not, the operation must return MMAPIO_E_UNSUPPORTED
  // and nothing is injected.
  bool (*available)() = nullptr;
  // An asynchronous operation: its calls are made by the pool's worker,
  // and its code and detail come in the completion (g_async).
  bool on_workers = false;
  // Why the operation cannot be checked here, or "" (unset: it can).
  std::string (*blocker)() = nullptr;
};

std::string old_bytes() { return pattern_bytes(static_cast<size_t>(kOld), 3); }

void make_old(const std::string &dir) { write_bytes(dir + "/f", old_bytes()); }

void check_old_unchanged(const std::string &dir, int rc) {
  if (rc != 0)
    CHECK(read_bytes(dir + "/f") == old_bytes());
}

void check_nothing_new(const std::string &dir, int rc) {
  if (rc != 0)
    CHECK_FALSE(path_exists(dir + "/f"));
}

// A handle's bytes can be read and written.
void exercise(mmapio_map *m) {
  const uint64_t len = mmapio_len(m);
  std::string got(static_cast<size_t>(len < 64 ? len : 64), '\0');
  CHECK(mmapio_read(m, 0, got.data(), got.size()) == MMAPIO_OK);
  if (mmapio_mode_of(m) == MMAPIO_MODE_RW && !got.empty())
    CHECK(mmapio_update(m, 0, got.data(), got.size()) == MMAPIO_OK);
}

// What an operation that makes a handle returns: rc, after using the
// handle and closing it when there is one. (m by reference: it is read
// after the call that sets it, whatever order the arguments are taken in.)
int use_and_close(int rc, mmapio_map *const &m) {
  if (rc == 0) {
    exercise(m);
    mmapio_close(m);
  }
  return rc;
}

int open_and_close(const std::string &path, mmapio_mode mode) {
  mmapio_map *m = nullptr;
  return use_and_close(mmapio_open(&m, path.c_str(), mode), m);
}

int create_f(const std::string &dir) {
  mmapio_map *m = nullptr;
  return use_and_close(mmapio_create(&m, (dir + "/f").c_str(), 5 * 4096), m);
}

void check_deleted(const std::string &dir, int rc) {
  if (rc != 0)
    CHECK(read_bytes(dir + "/f") == old_bytes());
  else
    CHECK_FALSE(path_exists(dir + "/f"));
}

// copy_file's source, and the existing file it is copied over.
void make_copy_files(const std::string &dir) {
  make_old(dir);
  write_bytes(dir + "/src", pattern_bytes(40000, 9));
}

// IO: dst is as it was; FLUSH_FAILED (the last step): dst is the copy.
void check_copied(const std::string &dir, int rc) {
  if (rc == MMAPIO_E_IO)
    CHECK(read_bytes(dir + "/f") == old_bytes());
  else
    CHECK(read_bytes(dir + "/f") == pattern_bytes(40000, 9));
}

// An RW handle the operation works on is opened before injection starts;
// the operation gets it through this.
mmapio_map *g_handle = nullptr;
mmapio_watch *g_watch = nullptr;
mmapio_async_pool *g_pool = nullptr;

// The completion of the asynchronous operation under test, as its
// callback received it on the worker.
mmapio_completion g_async{};
bool g_async_done = false;

void on_completion(const mmapio_completion *c) {
  g_async = *c;
  g_async_done = true;
}

// Submits one operation, waits for it by destroying the pool (which
// finishes it first: no descriptor, no clock) and returns its status; a
// failed submission's code as it is.
int run_async(const std::function<int()> &submit) {
  g_async = mmapio_completion{};
  g_async_done = false;
  const int submitted = submit();
  if (submitted != 0)
    return submitted;
  mmapio_async_pool_destroy(g_pool);
  g_pool = nullptr;
  REQUIRE(g_async_done);
  return g_async.status;
}

// Stops what an operation left running in the background (a watch, an
// async pool); run with failures off, before the table is restored.
void release_background() {
  mmapio_watch_stop(g_watch);
  g_watch = nullptr;
  mmapio_async_pool_destroy(g_pool);
  g_pool = nullptr;
}

std::vector<Op> operations() {
  std::vector<Op> ops;
  ops.push_back({"create a new file", "mmapio_create",
                 [](const std::string &) {}, create_f, check_nothing_new});
  ops.push_back({"create over an existing file", "mmapio_create", make_old,
                 create_f, check_old_unchanged});
  ops.push_back({"create with preallocation", "mmapio_open_ex", make_old,
                 [](const std::string &dir) {
                   mmapio_options o = MMAPIO_OPTIONS_INIT;
                   o.size = 64 * 4096;
                   o.flags = MMAPIO_OPT_PREALLOCATE | MMAPIO_OPT_SYNC_DIR;
                   mmapio_map *m = nullptr;
                   return use_and_close(mmapio_open_ex(&m, (dir + "/f").c_str(),
                                                       &o, MMAPIO_CREATE),
                                        m);
                 },
                 // SYNC_DIR: the last step's failure comes with the new
                 // file in place (documented); before it, the old one.
                 [](const std::string &dir, int rc) {
                   if (rc != 0 && path_exists(dir + "/f") &&
                       read_bytes(dir + "/f") != old_bytes())
                     CHECK(file_size(dir + "/f") == 64 * 4096);
                 }});
  for (mmapio_mode mode : {MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW}) {
    const char *name = mode == MMAPIO_MODE_RO   ? "open RO"
                       : mode == MMAPIO_MODE_RW ? "open RW"
                                                : "open COW";
    ops.push_back({name, "mmapio_open", make_old,
                   [mode](const std::string &dir) {
                     return open_and_close(dir + "/f", mode);
                   },
                   check_old_unchanged});
  }
  ops.push_back(
      {"open_or_create a new file", "mmapio_open_or_create",
       [](const std::string &) {},
       [](const std::string &dir) {
         mmapio_map *m = nullptr;
         return use_and_close(
             mmapio_open_or_create(&m, (dir + "/f").c_str(), 2 * 4096), m);
       },
       check_nothing_new});
  ops.push_back({"anonymous region", "mmapio_anon", [](const std::string &) {},
                 [](const std::string &) {
                   mmapio_map *m = nullptr;
                   return use_and_close(mmapio_anon(&m, 3 * 4096), m);
                 },
                 [](const std::string &, int) {}});
  ops.push_back({"open with a flusher thread", "mmapio_open_ex", make_old,
                 [](const std::string &dir) {
                   mmapio_options o = MMAPIO_OPTIONS_INIT;
                   o.flush_policy = MMAPIO_FLUSH_EVERY_MILLIS;
                   o.flush_arg = 1000;
                   mmapio_map *m = nullptr;
                   return use_and_close(mmapio_open_ex(&m, (dir + "/f").c_str(),
                                                       &o, MMAPIO_OPEN),
                                        m);
                 },
                 check_old_unchanged});
  // Operations on a handle opened before injection starts.
  auto on_handle = [](const std::string &dir) {
    make_old(dir);
    REQUIRE(mmapio_open(&g_handle, (dir + "/f").c_str(), MMAPIO_MODE_RW) ==
            MMAPIO_OK);
  };
  auto handle_unchanged = [](const std::string &dir, int rc) {
    if (rc != 0) {
      CHECK(mmapio_len(g_handle) == kOld);
      CHECK(file_size(dir + "/f") == kOld);
      CHECK(read_map(g_handle, 0, static_cast<size_t>(kOld)) == old_bytes());
    }
    exercise(g_handle);
    mmapio_close(g_handle);
    g_handle = nullptr;
  };
  ops.push_back({"resize: grow past a huge page", "mmapio_resize", on_handle,
                 [](const std::string &) {
                   return mmapio_resize(g_handle, 3 * 1024 * 1024, nullptr);
                 },
                 handle_unchanged});
  ops.push_back(
      {"resize: grow past the reservation", "mmapio_resize", on_handle,
       [](const std::string &) {
         // 64-bit handles reserve 1 GiB or more to grow in;
         // 32-bit ones only their length.
         const uint64_t past = sizeof(void *) == 8 ? 8ull << 30 : 64ull << 20;
         bool moved = false;
         return mmapio_resize(g_handle, past, &moved);
       },
       handle_unchanged});
  ops.push_back({"resize: shrink", "mmapio_resize", on_handle,
                 [](const std::string &) {
                   return mmapio_resize(g_handle, 100, nullptr);
                 },
                 handle_unchanged});
  ops.push_back({"flush", "mmapio_flush", on_handle,
                 [](const std::string &) {
                   const std::string b = old_bytes();
                   REQUIRE(mmapio_update(g_handle, 0, b.data(), 64) ==
                           MMAPIO_OK);
                   return mmapio_flush(g_handle);
                 },
                 [](const std::string &, int) {
                   exercise(g_handle);
                   mmapio_close(g_handle);
                   g_handle = nullptr;
                 }});
  // The handle must work afterwards, whatever the operation returned.
  auto handle_works = [](const std::string &, int) {
    exercise(g_handle);
    mmapio_close(g_handle);
    g_handle = nullptr;
  };
  ops.push_back({"flush_range", "mmapio_flush_range", on_handle,
                 [](const std::string &) {
                   const std::string b = old_bytes();
                   REQUIRE(mmapio_update(g_handle, 4096, b.data(), 64) ==
                           MMAPIO_OK);
                   return mmapio_flush_range(g_handle, 4096, 64);
                 },
                 handle_works});
  ops.push_back({"set_guard on and off", "mmapio_set_guard", on_handle,
                 [](const std::string &) {
                   int rc = mmapio_set_guard(g_handle, true);
                   if (rc == 0)
                     REQUIRE(mmapio_set_guard(g_handle, false) == MMAPIO_OK);
                   return rc;
                 },
                 handle_works});
  ops.push_back({"advise DONTNEED", "mmapio_advise", on_handle,
                 [](const std::string &) {
                   return mmapio_advise(g_handle, 0, kOld,
                                        MMAPIO_ADVICE_DONTNEED);
                 },
                 handle_works});
  ops.push_back({"prefetch_range", "mmapio_prefetch_range", on_handle,
                 [](const std::string &) {
                   return mmapio_prefetch_range(g_handle, 0, kOld);
                 },
                 handle_works});
  ops.push_back(
      {"touch_pages", "mmapio_touch_pages", on_handle,
       [](const std::string &) { return mmapio_touch_pages(g_handle); },
       handle_works});
  ops.push_back({"lock_all", "mmapio_lock_all", on_handle,
                 [](const std::string &) {
                   int rc = mmapio_lock_all(g_handle);
                   if (rc == 0)
                     (void)mmapio_unlock_all(g_handle);
                   return rc;
                 },
                 handle_works});
  ops.push_back({"hugepage_diagnose", "mmapio_hugepage_diagnose", on_handle,
                 [](const std::string &) {
                   mmapio_hugepage_report r;
                   return mmapio_hugepage_diagnose(g_handle, &r);
                 },
                 handle_works});
  // What the operation made is released after the failures are off (the
  // check runs then): a stop that cannot fail is not the operation.
  ops.push_back({"watch_start", "mmapio_watch_start", on_handle,
                 [](const std::string &) {
                   return mmapio_watch_start(
                       &g_watch, g_handle,
                       [](const mmapio_watch_event *, void *) {}, nullptr);
                 },
                 [](const std::string &, int) {
                   exercise(g_handle);
                   mmapio_close(g_handle);
                   g_handle = nullptr;
                 },
                 mmi_os_has_watch});
  ops.push_back({"fopen, read, close", "mmapio_fopen", on_handle,
                 [](const std::string &) {
                   FILE *f = nullptr;
                   int rc = mmapio_fopen(&f, g_handle, "r");
                   if (rc == 0) {
                     char b[100];
                     CHECK(std::fread(b, 1, sizeof b, f) == sizeof b);
                     std::fclose(f);
                   }
                   return rc;
                 },
                 handle_works, mmi_os_has_streams});
  ops.push_back({"send_range to a file", "mmapio_send_range", on_handle,
                 [](const std::string &dir) {
                   int fd = ::open((dir + "/out").c_str(),
                                   O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
                   REQUIRE(fd >= 0);
                   size_t sent = 0;
                   int rc = mmapio_send_range(g_handle, 0, 5000, fd, &sent);
                   ::close(fd);
                   return rc;
                 },
                 handle_works});
  ops.push_back(
      {"async_pool_create", "mmapio_async_pool_create",
       [](const std::string &) {},
       [](const std::string &) { return mmapio_async_pool_create(&g_pool, 2); },
       [](const std::string &, int) {}});
  // Asynchronous operations: the handle (if any) and a pool of one worker
  // are made before injection starts; the worker's calls are the ones
  // failed, and the completion carries the code, which the synchronous
  // function's Errors list must give.
  auto with_pool = [](const std::string &) {
    REQUIRE(mmapio_async_pool_create(&g_pool, 1) == MMAPIO_OK);
  };
  auto on_handle_with_pool = [on_handle, with_pool](const std::string &dir) {
    on_handle(dir);
    with_pool(dir);
  };
  auto file_with_pool = [with_pool](const std::string &dir) {
    make_old(dir);
    with_pool(dir);
  };
  ops.push_back({"async_flush", "mmapio_flush", on_handle_with_pool,
                 [](const std::string &) {
                   return run_async([&] {
                     return mmapio_async_flush(g_pool, g_handle, on_completion,
                                               nullptr);
                   });
                 },
                 handle_works, nullptr, true});
  ops.push_back({"async_flush_range", "mmapio_flush_range", on_handle_with_pool,
                 [](const std::string &) {
                   return run_async([&] {
                     return mmapio_async_flush_range(
                         g_pool, g_handle, 4096, 8192, on_completion, nullptr);
                   });
                 },
                 handle_works, nullptr, true});
  ops.push_back({"async_update", "mmapio_flush_range", on_handle_with_pool,
                 [](const std::string &) {
                   const std::string b = pattern_bytes(5000, 5);
                   return run_async([&] {
                     return mmapio_async_update(g_pool, g_handle, 100, b.data(),
                                                b.size(), on_completion,
                                                nullptr);
                   });
                 },
                 handle_works, nullptr, true});
  ops.push_back(
      {"async_create over an existing file", "mmapio_create", file_with_pool,
       [](const std::string &dir) {
         int rc = run_async([&] {
           return mmapio_async_create(g_pool, (dir + "/f").c_str(), 5 * 4096,
                                      on_completion, nullptr);
         });
         return use_and_close(rc, g_async.map);
       },
       check_old_unchanged, nullptr, true});
  ops.push_back({"async_copy_file over an existing file", "mmapio_copy_file",
                 [with_pool](const std::string &dir) {
                   make_copy_files(dir);
                   with_pool(dir);
                 },
                 [](const std::string &dir) {
                   return run_async([&] {
                     return mmapio_async_copy_file(
                         g_pool, (dir + "/src").c_str(), (dir + "/f").c_str(),
                         on_completion, nullptr);
                   });
                 },
                 check_copied, nullptr, true});
  ops.push_back({"async_delete_file", "mmapio_delete_file", file_with_pool,
                 [](const std::string &dir) {
                   return run_async([&] {
                     return mmapio_async_delete_file(
                         g_pool, (dir + "/f").c_str(), on_completion, nullptr);
                   });
                 },
                 check_deleted, nullptr, true});
  ops.push_back({"from_fd", "mmapio_from_fd", make_old,
                 [](const std::string &dir) {
                   int fd = ::open((dir + "/f").c_str(), O_RDWR | O_CLOEXEC);
                   REQUIRE(fd >= 0);
                   mmapio_map *m = nullptr;
                   int rc = mmapio_from_fd(&m, fd, MMAPIO_MODE_RW, nullptr);
                   if (rc == 0) {
                     exercise(m);
                     mmapio_close(m);
                   } else {
                     ::close(fd); // on failure it stays the caller's
                   }
                   return rc;
                 },
                 check_old_unchanged});
  ops.push_back({"write_file", "mmapio_write_file", make_old,
                 [](const std::string &dir) {
                   const std::string b = pattern_bytes(5000, 11);
                   return mmapio_write_file((dir + "/f").c_str(), 100, b.data(),
                                            b.size());
                 },
                 [](const std::string &dir, int rc) {
                   // Opening failed: nothing was written. FLUSH_FAILED:
                   // the bytes are there, their durability unknown.
                   std::string want = old_bytes();
                   if (rc == 0 || rc == MMAPIO_E_FLUSH_FAILED)
                     want.replace(100, 5000, pattern_bytes(5000, 11));
                   CHECK(read_bytes(dir + "/f") == want);
                 }});
  ops.push_back({"delete_file", "mmapio_delete_file", make_old,
                 [](const std::string &dir) {
                   return mmapio_delete_file((dir + "/f").c_str());
                 },
                 check_deleted});
  ops.push_back({"flush_hint", "mmapio_flush_hint", on_handle,
                 [](const std::string &) {
                   const std::string b = old_bytes();
                   REQUIRE(mmapio_update(g_handle, 0, b.data(), 64) ==
                           MMAPIO_OK);
                   return mmapio_flush_hint(g_handle);
                 },
                 handle_works});
  ops.push_back(
      {"lock", "mmapio_lock", on_handle,
       [](const std::string &) { return mmapio_lock(g_handle, 0, 8192); },
       [](const std::string &, int rc) {
         if (rc == 0)
           CHECK(mmapio_unlock(g_handle, 0, 8192) == MMAPIO_OK);
         exercise(g_handle);
         mmapio_close(g_handle);
         g_handle = nullptr;
       }});
  ops.push_back(
      {"unlock", "mmapio_unlock", on_handle,
       [](const std::string &) { return mmapio_unlock(g_handle, 0, 8192); },
       handle_works});
  ops.push_back({"resident", "mmapio_resident", on_handle,
                 [](const std::string &) {
                   mmapio_residency r{};
                   int rc = mmapio_resident(g_handle, 0, kOld, &r);
                   if (rc == 0)
                     CHECK(r.pages == 4);
                   return rc;
                 },
                 handle_works});
  ops.back().blocker = mincore_blocker;
  ops.push_back({"read_bytes", "mmapio_read_bytes", on_handle,
                 [](const std::string &) {
                   void *b = nullptr;
                   int rc = mmapio_read_bytes(g_handle, 10, 5000, &b);
                   if (rc == 0)
                     CHECK(std::memcmp(b, old_bytes().data() + 10, 5000) == 0);
                   std::free(b);
                   return rc;
                 },
                 handle_works});
  ops.push_back({"unmap", "mmapio_unmap", on_handle,
                 [](const std::string &) {
                   int fd = -1;
                   int rc = mmapio_unmap(g_handle, &fd);
                   if (rc == 0) {
                     g_handle = nullptr;
                     CHECK(::close(fd) == 0);
                   }
                   return rc;
                 },
                 [](const std::string &dir, int rc) {
                   CHECK(read_bytes(dir + "/f") == old_bytes());
                   if (rc != 0) {
                     exercise(g_handle);
                     mmapio_close(g_handle);
                     g_handle = nullptr;
                   }
                 }});
  // An anonymous region made before injection starts.
  auto on_anon = [](const std::string &) {
    REQUIRE(mmapio_anon(&g_handle, 3 * 4096) == MMAPIO_OK);
  };
  ops.push_back({"anon_seal", "mmapio_anon_seal", on_anon,
                 [](const std::string &) {
                   return mmapio_anon_seal(g_handle, MMAPIO_SEAL_GROW);
                 },
                 handle_works, mmi_os_has_seals});
  ops.push_back(
      {"anon_send and anon_recv over a socket pair", "mmapio_anon_recv",
       on_anon,
       [](const std::string &) {
         int sv[2];
         REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
         int rc = mmapio_anon_send(g_handle, sv[0]);
         mmapio_map *peer = nullptr;
         if (rc == 0)
           rc = mmapio_anon_recv(&peer, sv[1], 0);
         if (rc == 0) {
           CHECK(mmapio_len(peer) == 3 * 4096);
           exercise(peer);
           mmapio_close(peer);
         }
         ::close(sv[0]);
         ::close(sv[1]);
         return rc;
       },
       handle_works});
  ops.push_back({"capability_query of every capability",
                 "mmapio_capability_query", [](const std::string &) {},
                 [](const std::string &) {
                   // A refused try is an answer (supported or not), not an
                   // error; only the scratch page's mapping is.
                   for (int c = 0; c < MMAPIO_CAP_COUNT; c++) {
                     mmapio_capability_info info{};
                     const int rc = mmapio_capability_query(
                         static_cast<mmapio_capability>(c), &info);
                     if (rc != 0)
                       return rc;
                     CHECK(info.reason[0] != '\0');
                   }
                   return 0;
                 },
                 [](const std::string &, int) {}});
  ops.push_back(
      {"copy_file over an existing file", "mmapio_copy_file", make_copy_files,
       [](const std::string &dir) {
         return mmapio_copy_file((dir + "/src").c_str(), (dir + "/f").c_str());
       },
       check_copied});
  return ops;
}

void remove_all(const std::string &dir) {
  for (const std::string &n : dir_listing(dir))
    ::unlink((dir + "/" + n).c_str());
}

} // namespace

TEST_CASE("every system call of every operation below fails in turn, codes "
          "are documented and nothing leaks or is lost",
          "[fault-injection][seam][linux]") {
  TempDir td;
  const std::string dir = td.dir();
  g_base_tasks = thread_count_stable();
  for (const Op &op : operations()) {
    SECTION(op.name) {
      const std::set<std::string> allowed = documented_errors(op.function);
      INFO(op.name << " (oracle: the Errors list of " << op.function << ")");
      REQUIRE_FALSE(allowed.empty());
      if (op.blocker != nullptr && !op.blocker().empty())
        MMAPIO_SKIP(op.name << ": " << op.blocker());
      // One run without a failure first: what the C library caches on
      // first use (a thread's stack and its guard page) is then part of
      // the state every later run is compared with.
      remove_all(dir);
      op.setup(dir);
      if (op.available != nullptr && !op.available()) {
        CHECK(op.run(dir) == MMAPIO_E_UNSUPPORTED);
        release_background();
        op.check(dir, MMAPIO_E_UNSUPPORTED);
        MMAPIO_SKIP(op.name << ": not in this build (MMAPIO_E_UNSUPPORTED)");
      }
      REQUIRE(op.run(dir) == MMAPIO_OK);
      release_background();
      op.check(dir, 0);
      long points = 0;
      std::set<std::string> codes;
      for (bool persistent : {false, true}) {
        for (long n = 1;; n++) {
          // Each errno the N-th call can return; which call that is shows
          // on the first run.
          std::vector<int> errs = {EIO};
          bool ran_out = false;
          for (size_t k = 0; k < errs.size(); k++) {
            remove_all(dir);
            mmapio_trim();
            const ProcessState before = process_state(dir);
            // One pass with the spare reservation a closed read-write
            // handle leaves (mmapio_close), so that creating into it is
            // failed call by call too; the other pass without.
            if (!persistent)
              leave_spare();
            op.setup(dir);
            const std::vector<std::string> before_names = dir_listing(dir);
            int rc;
            {
              SysGuard guard;
              install_counting();
              g_plan = Plan{};
              g_plan.target = n;
              g_plan.thread = pthread_self();
              g_plan.workers = op.on_workers;
              g_plan.persistent = persistent;
              g_plan.err = errs[k];
              rc = op.run(dir);
              // Background threads the operation started stop before the
              // table is restored under them (they call through it).
              g_plan.target = 0;
              release_background();
            }
            const Plan done = g_plan;
            g_plan = Plan{};
            if (done.injected == 0) {
              // The N-th call never came: this operation is done. Its run
              // succeeded and is checked like any other.
              ran_out = true;
            }
            const std::string call =
                done.first_failed >= 0 ? mmi_sys_name(done.first_failed) : "-";
            if (k == 0 && done.injected > 0) {
              std::vector<int> more = errnos_for(call);
              for (int e : more)
                if (e != errs[0])
                  errs.push_back(e);
            }
            const mmapio_error &detail =
                op.on_workers ? g_async.error : *mmapio_last_error();
            INFO("call " << n
                         << (persistent ? " and every later one of it" : "")
                         << " (" << call << ") fails with "
                         << std::strerror(errs[k]) << "; rc "
                         << mmapio_error_name(rc) << ": " << detail.message);
            if (rc != 0) {
              CHECK(allowed.count(mmapio_error_name(rc)) == 1);
              CHECK(detail.code == rc);
              codes.insert(mmapio_error_name(rc));
            }
            op.check(dir, rc);
            if (rc != 0) {
              // No temporary file is left (the new file itself may be, where
              // the contract says so: SYNC_DIR's and copy_file's last step;
              // "out" is send_range's destination, made by the test).
              for (const std::string &name : dir_listing(dir))
                CHECK((std::find(before_names.begin(), before_names.end(),
                                 name) != before_names.end() ||
                       name == "f" || name == "out"));
            }
            // What the spare holds is not a leak: only it is given back.
            mmapio_trim();
            const ProcessState after = process_state(dir);
            INFO("before: " << describe(before)
                            << "; after: " << describe(after));
            CHECK(after == before);
            if (done.injected > 0)
              points++;
            if (ran_out)
              break;
          }
          if (ran_out)
            break;
        }
      }
      std::string tag = op.name, codes_line;
      for (char &c : tag)
        if (!std::isalnum(static_cast<unsigned char>(c)))
          c = '-';
      for (const std::string &c : codes)
        codes_line += " " + c;
      write_figure("fault-injection-" + tag,
                   std::string("fault injection, ") + op.name + ": " +
                       std::to_string(points) + " points;" + codes_line);
      remove_all(dir);
    }
  }
}
