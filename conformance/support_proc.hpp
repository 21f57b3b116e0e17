// Process and memory helpers for the conformance suite: the registry of
// child functions that IPC tests run by re-executing the test binary,
// fork+exec helpers, /proc/self/smaps dirty-page accounting, a tmpfs
// probe, and an address-space blocker that forces growth to move.
//
// Every REQUIRE stays in the parent: children report through their exit
// status only.
#ifndef MMAPIO_CONFORMANCE_SUPPORT_PROC_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_PROC_HPP

#include <mmapio.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

namespace mmapio_test {

// ------------------------------------------------------------------
// Child registry
// ------------------------------------------------------------------

using ChildFn = int (*)(int argc, char **argv);

inline std::map<std::string, ChildFn> &child_registry() {
  static std::map<std::string, ChildFn> registry;
  return registry;
}

struct ChildRegistrar {
  ChildRegistrar(const char *name, ChildFn fn) {
    auto &reg = child_registry();
    if (reg.count(name) != 0) {
      std::fprintf(stderr, "mmapio conformance: child '%s' registered twice\n",
                   name);
      std::abort();
    }
    reg[name] = fn;
  }
};

// Runs the child registered as name with argv[0..argc) (the arguments
// after the name). Returns its result, or 126 for an unknown name.
inline int run_registered_child(const char *name, int argc, char **argv) {
  auto &reg = child_registry();
  auto it = reg.find(name);
  if (it == reg.end()) {
    std::fprintf(stderr, "mmapio conformance: no child named '%s'\n", name);
    return 126;
  }
  return it->second(argc, argv);
}

// The path of the running test binary (readlink of /proc/self/exe, which
// valgrind also answers with the client's path), or "/proc/self/exe".
inline std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return "/proc/self/exe";
  buf[n] = '\0';
  if (access(buf, X_OK) != 0) // e.g. " (deleted)" after a rebuild
    return "/proc/self/exe";
  return std::string(buf, static_cast<size_t>(n));
}

// The words of $MMAPIO_TEST_EXEC_WRAPPER (split at spaces), the command
// that runs a binary of the test's architecture: under qemu-user the test
// binary cannot exec itself directly, so the build sets it to the
// emulator's command line (conformance/CMakeLists.txt). Empty when unset.
inline std::vector<std::string> exec_wrapper() {
  std::vector<std::string> words;
  const char *env = std::getenv("MMAPIO_TEST_EXEC_WRAPPER");
  std::string word;
  for (const char *c = env != nullptr ? env : ""; *c != '\0'; c++) {
    if (*c != ' ') {
      word += *c;
    } else if (!word.empty()) {
      words.push_back(word);
      word.clear();
    }
  }
  if (!word.empty())
    words.push_back(word);
  return words;
}

// Starts the test binary as child `name` with args (through
// exec_wrapper() when set); returns its pid, or -1 if fork failed. The
// child exits 127 if exec fails.
inline pid_t spawn_child(const std::string &name,
                         const std::vector<std::string> &args) {
  // Everything is prepared before fork: after it only exec and _exit.
  std::vector<std::string> strs = exec_wrapper();
  strs.push_back(self_exe());
  strs.push_back("--mmapio-child");
  strs.push_back(name);
  strs.insert(strs.end(), args.begin(), args.end());
  std::vector<char *> argv;
  for (auto &s : strs)
    argv.push_back(&s[0]);
  argv.push_back(nullptr);

  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

// Waits for pid. Returns its exit status, -signal if a signal killed it,
// or INT_MIN if pid is invalid or waitpid failed.
inline int wait_child(pid_t pid) {
  if (pid <= 0)
    return INT_MIN;
  int st = 0;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR)
      return INT_MIN;
  }
  if (WIFEXITED(st))
    return WEXITSTATUS(st);
  if (WIFSIGNALED(st))
    return -WTERMSIG(st);
  return INT_MIN;
}

// What a status from wait_child() means, in words.
inline std::string describe_status(int st) {
  if (st == INT_MIN)
    return "could not start or wait for the child";
  if (st < 0)
    return "killed by signal " + std::to_string(-st);
  return "exit status " + std::to_string(st);
}

// Runs child `name` with args and waits for it; see wait_child().
inline int run_child(const std::string &name,
                     const std::vector<std::string> &args) {
  return wait_child(spawn_child(name, args));
}

// ------------------------------------------------------------------
// Threads and descriptors of this process
// ------------------------------------------------------------------

// Entries of a /proc directory (0 if it cannot be read).
inline size_t count_dir(const char *dir) {
  size_t n = 0;
  DIR *d = ::opendir(dir);
  if (d == nullptr)
    return 0;
  while (const dirent *e = ::readdir(d))
    if (e->d_name[0] != '.')
      n++;
  ::closedir(d);
  return n;
}

// Threads of this process. The first call starts and joins one thread, so
// a runtime that starts a helper thread of its own at the first
// pthread_create (ThreadSanitizer does) has done so before anyone counts.
inline size_t thread_count() {
  static const bool warmed = [] {
    std::thread([] {}).join();
    return true;
  }();
  (void)warmed;
  return count_dir("/proc/self/task");
}

// The thread count once threads already joined have left
// /proc/self/task: pthread_join returns when the kernel has released the
// thread's id, a moment before it removes the thread's task entry, so a
// count taken right after a join can still include the thread. Waits
// while the count is above `expected` (a generous bound, never a statement
// about speed) and returns the count then: a thread that really stayed
// is still counted.
inline size_t thread_count_settled(size_t expected) {
  size_t n = thread_count();
  for (int i = 0; i < 5000 && n > expected; i++) {
    ::usleep(1000);
    n = thread_count();
  }
  return n;
}

// The thread count for a baseline: two readings a millisecond apart that
// agree, so that a thread joined just before (see above) is not counted.
inline size_t thread_count_stable() {
  size_t n = thread_count();
  for (int i = 0; i < 5000; i++) {
    ::usleep(1000);
    const size_t again = thread_count();
    if (again == n)
      break;
    n = again;
  }
  return n;
}

// Why exact thread counts cannot be checked here, or "": under an
// emulator (MMAPIO_TEST_EXEC_WRAPPER set, see exec_wrapper) /proc/self/task
// is the emulator's host process, with threads of its own, and a guest
// thread's entry comes and goes on the emulator's schedule.
inline std::string thread_count_blocker() {
  if (!exec_wrapper().empty())
    return "under an emulator, /proc/self/task lists the emulator's host "
           "threads";
  return "";
}

// Open descriptors of this process.
inline size_t fd_count() { return count_dir("/proc/self/fd"); }

// ------------------------------------------------------------------
// /proc/self/maps and smaps
// ------------------------------------------------------------------

struct Vma {
  uintptr_t start;
  uintptr_t end;
  std::string perms; // e.g. "rw-s"
  unsigned long inode;
  std::string path; // may be empty
};

// Parses a maps/smaps header line ("start-end perms off dev inode path").
inline bool parse_vma_line(const std::string &line, Vma *out) {
  unsigned long s = 0, e = 0, off = 0, inode = 0;
  char perms[8] = {0};
  char dev[32] = {0};
  int pos = 0;
  if (std::sscanf(line.c_str(), "%lx-%lx %7s %lx %31s %lu %n", &s, &e, perms,
                  &off, dev, &inode, &pos) < 6)
    return false;
  out->start = s;
  out->end = e;
  out->perms = perms;
  out->inode = inode;
  out->path = pos > 0 && static_cast<size_t>(pos) <= line.size()
                  ? line.substr(static_cast<size_t>(pos))
                  : std::string();
  return true;
}

inline std::vector<Vma> read_maps() {
  std::vector<Vma> v;
  std::ifstream in("/proc/self/maps");
  std::string line;
  while (std::getline(in, line)) {
    Vma vma;
    if (parse_vma_line(line, &vma))
      v.push_back(vma);
  }
  return v;
}

// The VMA containing addr, or nullptr.
inline const Vma *vma_containing(const std::vector<Vma> &maps, uintptr_t addr) {
  for (const auto &v : maps)
    if (v.start <= addr && addr < v.end)
      return &v;
  return nullptr;
}

// Sum of Private_Dirty + Shared_Dirty (bytes) of every VMA overlapping
// [addr, addr+len), from /proc/self/smaps. SIZE_MAX if smaps cannot be
// read.
inline size_t smaps_dirty_bytes(const void *addr, size_t len) {
  std::ifstream in("/proc/self/smaps");
  if (!in)
    return SIZE_MAX;
  const uintptr_t lo = reinterpret_cast<uintptr_t>(addr);
  const uintptr_t hi = lo + len;
  bool any_vma = false;
  bool overlapping = false;
  size_t kb = 0;
  std::string line;
  while (std::getline(in, line)) {
    Vma vma;
    if (parse_vma_line(line, &vma)) {
      any_vma = true;
      overlapping = vma.start < hi && lo < vma.end;
      continue;
    }
    if (!overlapping)
      continue;
    unsigned long v = 0;
    if (std::sscanf(line.c_str(), "Private_Dirty: %lu kB", &v) == 1 ||
        std::sscanf(line.c_str(), "Shared_Dirty: %lu kB", &v) == 1)
      kb += v;
  }
  if (!any_vma)
    return SIZE_MAX;
  return kb * 1024;
}

// Pages of the file behind fd in [off, off+len) that the page cache holds
// dirty or under writeback, from cachestat(2) (Linux 6.5+); -1 where the
// kernel has no cachestat (ENOSYS) or refuses it.
inline long cachestat_dirty_pages(int fd, uint64_t off, uint64_t len) {
#ifdef __linux__
  struct {
    uint64_t off, len;
  } range = {off, len};
  struct {
    uint64_t cache, dirty, writeback, evicted, recently_evicted;
  } cs;
  if (len > 0 && syscall(451 /* cachestat */, fd, &range, &cs, 0) == 0)
    return static_cast<long>(cs.dirty + cs.writeback);
#else
  (void)fd;
  (void)off;
  (void)len;
#endif
  return -1;
}

// Dirty bytes of the file behind fd in [off, off+len) by the kernel's own
// accounting without cachestat: a fresh read-only shared mapping, every
// page read (so each is mapped), then /proc/self/smaps, which counts a
// mapped page whose page-cache page is dirty as dirty even though this
// mapping never wrote it. off is page-aligned. SIZE_MAX when that cannot
// be done.
inline size_t smaps_file_dirty_bytes(int fd, uint64_t off, size_t len) {
  if (len == 0)
    return 0;
  void *p =
      mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, static_cast<off_t>(off));
  if (p == MAP_FAILED)
    return SIZE_MAX;
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  for (size_t i = 0; i < len; i += page)
    (void)static_cast<volatile const unsigned char *>(p)[i];
  size_t dirty = smaps_dirty_bytes(p, len);
  munmap(p, len);
  return dirty;
}

// Records a figure of this run (one line) as <dir>/name.txt for the test
// command's summary (scripts/figures.sh), where <dir> is
// $MMAPIO_FIGURES_DIR, else $MMAPIO_TEST_DIR/figures; nothing when neither
// is set.
inline void write_figure(const std::string &name, const std::string &line) {
  const char *env = std::getenv("MMAPIO_FIGURES_DIR");
  std::string dir = env != nullptr ? env : "";
  const char *tests = std::getenv("MMAPIO_TEST_DIR");
  if (dir.empty() && tests != nullptr && *tests != '\0')
    dir = std::string(tests) + "/figures";
  if (dir.empty())
    return;
  ::mkdir(dir.c_str(), 0755);
  std::ofstream out(dir + "/" + name + ".txt");
  out << line << "\n";
}

// ------------------------------------------------------------------
// File systems
// ------------------------------------------------------------------

constexpr unsigned long kTmpfsMagic = 0x01021994UL;
constexpr unsigned long kRamfsMagic = 0x858458f6UL;

// True when dir is on tmpfs (or ramfs): no writeback, dirty pages stay
// dirty after msync, so dirty-page accounting proves nothing there.
inline bool on_tmpfs(const std::string &dir) {
  struct statfs sf;
  if (statfs(dir.c_str(), &sf) != 0)
    return false;
  const unsigned long t = static_cast<unsigned long>(sf.f_type);
  return t == kTmpfsMagic || t == kRamfsMagic;
}

// True when /proc/self/smaps counts a page this process just dirtied (a
// private anonymous page). Under qemu-user smaps is the host's: with a
// 32-bit guest the guest's addresses are not the host's, and it describes
// other memory; with guest pages larger than the host's, a dirtied guest
// page shows as one dirty host page.
inline bool smaps_sees_writes() {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  void *p = mmap(nullptr, page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED)
    return true; // nothing learnt: let the test itself decide
  static_cast<volatile unsigned char *>(p)[0] = 1;
  const size_t dirty = smaps_dirty_bytes(p, page);
  munmap(p, page);
  return dirty != SIZE_MAX && dirty >= page;
}

// Why /proc/self/smaps does not describe this process's pages, or "".
// Probed once per process.
inline std::string smaps_view_blocker() {
  static const std::string why =
      smaps_sees_writes()
          ? std::string()
          : std::string(
                "/proc/self/smaps does not show a page this process dirtied "
                "(an emulator's: under qemu-user it is the host's view, by "
                "host addresses and host pages, which differ from the guest's "
                "where the guest is 32-bit or its pages are larger than the "
                "host's)");
  return why;
}

// Dirty bytes of m's mapping, from smaps (SIZE_MAX when unreadable).
inline size_t dirty_of(const mmapio_map *m) {
  return smaps_dirty_bytes(mmapio_base(m), static_cast<size_t>(mmapio_len(m)));
}

// Why dirty-page accounting cannot be used for files in dir, or "".
inline std::string cannot_measure(const std::string &dir) {
  if (on_tmpfs(dir))
    return dir + " is on tmpfs: no writeback, dirty pages stay dirty";
  int probe = 0;
  if (smaps_dirty_bytes(&probe, sizeof probe) == SIZE_MAX)
    return "/proc/self/smaps cannot be read";
  if (!smaps_view_blocker().empty())
    return smaps_view_blocker();
  return "";
}

// Size of the file at path from stat(), or UINT64_MAX if stat fails.
inline uint64_t proc_file_size(const std::string &path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return UINT64_MAX;
  return static_cast<uint64_t>(st.st_size);
}

// ------------------------------------------------------------------
// Forcing growth to move
// ------------------------------------------------------------------

// Occupies the address space right after a mapping's reservation, so that
// growing it past the reservation cannot extend in place and must move.
// Released (munmap) on destruction.
class GrowthBlocker {
public:
  // base: the mapping's base; the reservation is taken to be the VMA that
  // contains base plus, if present, one anonymous PROT_NONE VMA right
  // after it (a reservation tail). Afterwards reservation_end() is its
  // end, and the address at reservation_end() is occupied (by us, or it
  // already was by someone else).
  explicit GrowthBlocker(const void *base) {
    const uintptr_t b = reinterpret_cast<uintptr_t>(base);
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    std::vector<Vma> maps = read_maps();
    const Vma *v = vma_containing(maps, b);
    if (v == nullptr)
      return;
    uintptr_t end = v->end;
    const Vma *next = vma_containing(maps, end);
    if (next != nullptr && next->start == end &&
        next->perms.compare(0, 3, "---") == 0 && next->inode == 0 &&
        next->path.empty()) {
      end = next->end;
      next = vma_containing(maps, end);
    }
    end_ = end;
    if (next != nullptr) { // already occupied by another mapping
      ok_ = true;
      return;
    }
    void *want = reinterpret_cast<void *>(end);
    void *p = mmap(want, page, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
      return;
    if (p != want) {
      munmap(p, page);
      return;
    }
    addr_ = p;
    len_ = page;
    ok_ = true;
  }
  ~GrowthBlocker() {
    if (addr_ != nullptr)
      munmap(addr_, len_);
  }
  GrowthBlocker(const GrowthBlocker &) = delete;
  GrowthBlocker &operator=(const GrowthBlocker &) = delete;

  // True when growth past reservation_end() cannot stay in place.
  bool ok() const { return ok_; }
  // The end of the mapping's reservation (0 if not found).
  uintptr_t reservation_end() const { return end_; }

private:
  bool ok_ = false;
  uintptr_t end_ = 0;
  void *addr_ = nullptr;
  size_t len_ = 0;
};

} // namespace mmapio_test

// Defines `static int name(int argc, char **argv)` and registers it as a
// child function runnable with run_child("name", args). argv holds only
// the arguments after the name.
#define MMAPIO_CHILD(name)                                                     \
  static int name(int argc, char **argv);                                      \
  static const ::mmapio_test::ChildRegistrar mmapio_child_registrar_##name(    \
      #name, &name);                                                           \
  static int name([[maybe_unused]] int argc, [[maybe_unused]] char **argv)

#endif
