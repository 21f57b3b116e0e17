// Shared machinery of the perf harness and its main(): one process runs
// one group (so its peak resident memory is the group's), selected with
// --mmapio_group; everything else is Google Benchmark's own flags.
#include "harness.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

namespace mperf {

namespace {

Options g_opts;
std::string g_tmpdir;
std::mutex g_mu;
std::map<int64_t, std::string> g_data; // size -> path
std::set<std::string> g_scratch;       // paths to remove at exit
std::set<std::string> g_missing;       // library sides not compiled in
unsigned g_seq;

void cleanup() {
  for (const auto &kv : g_data)
    unlink(kv.second.c_str());
  for (const auto &p : g_scratch)
    unlink(p.c_str());
  if (!g_tmpdir.empty())
    rmdir(g_tmpdir.c_str());
}

const std::string &tmpdir() {
  if (g_tmpdir.empty()) {
    std::string tmpl = g_opts.dir + "/mmapio-perf.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) == nullptr)
      die("mkdtemp under %s: %s", g_opts.dir.c_str(), strerror(errno));
    g_tmpdir = buf.data();
    std::atexit(cleanup);
  }
  return g_tmpdir;
}

void write_all(int fd, const unsigned char *p, size_t n, const char *path) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      die("write %s: %s", path, strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

const char *fs_name(const std::string &dir) {
  struct statfs s;
  if (statfs(dir.c_str(), &s) != 0)
    return "unknown";
  switch (static_cast<unsigned long>(s.f_type)) {
  case 0xEF53:
    return "ext2/3/4";
  case 0x58465342:
    return "xfs";
  case 0x9123683E:
    return "btrfs";
  case 0x01021994:
    return "tmpfs";
  case 0x858458f6:
    return "ramfs";
  case 0x794c7630:
    return "overlayfs";
  case 0x2fc12fc1:
    return "zfs";
  default:
    return "other";
  }
}

long peak_rss_kib() {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss; // KiB on Linux
}

} // namespace

const Options &options() { return g_opts; }

Sizes pick(const Sizes &full, const Sizes &quick) {
  return g_opts.quick ? quick : full;
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "mmapio_perf: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
  std::exit(2);
}

void fail_call(int rc, const char *what) {
  const mmapio_error *e = mmapio_last_error();
  die("%s failed: %s (%s)", what, mmapio_error_name(rc), e->message);
}

size_t page() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

const std::string &data_file(int64_t size) {
  std::lock_guard<std::mutex> lock(g_mu);
  auto it = g_data.find(size);
  if (it != g_data.end())
    return it->second;
  std::string path = tmpdir() + "/data-" + std::to_string(size);
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    die("create %s: %s", path.c_str(), strerror(errno));
  std::vector<unsigned char> chunk(static_cast<size_t>(std::min(size, MiB)));
  for (size_t i = 0; i < chunk.size(); i++)
    chunk[i] = static_cast<unsigned char>((i * 131 + 7) & 0xff);
  for (int64_t done = 0; done < size;) {
    size_t n = static_cast<size_t>(
        std::min<int64_t>(static_cast<int64_t>(chunk.size()), size - done));
    write_all(fd, chunk.data(), n, path.c_str());
    done += static_cast<int64_t>(n);
  }
  if (fsync(fd) != 0)
    die("fsync %s: %s", path.c_str(), strerror(errno));
  close(fd);
  return g_data.emplace(size, path).first->second;
}

std::string scratch_path(const std::string &tag) {
  std::lock_guard<std::mutex> lock(g_mu);
  std::string p = tmpdir() + "/" + tag + "-" + std::to_string(g_seq++);
  g_scratch.insert(p);
  return p;
}

void make_sparse(const std::string &path, int64_t size) {
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0 || ftruncate(fd, size) != 0)
    die("sparse file %s: %s", path.c_str(), strerror(errno));
  close(fd);
}

RawMap::RawMap(const std::string &path, int oflags, int prot, int mapflags) {
  fd_ = open(path.c_str(), oflags | O_CLOEXEC);
  if (fd_ < 0)
    die("open %s: %s", path.c_str(), strerror(errno));
  struct stat st;
  if (fstat(fd_, &st) != 0)
    die("fstat %s: %s", path.c_str(), strerror(errno));
  n_ = static_cast<size_t>(st.st_size);
  void *p = mmap(nullptr, n_, prot, mapflags, fd_, 0);
  if (p == MAP_FAILED)
    die("mmap %s: %s", path.c_str(), strerror(errno));
  p_ = static_cast<unsigned char *>(p);
}

RawMap::~RawMap() {
  if (p_ != nullptr)
    munmap(p_, n_);
  if (fd_ >= 0)
    close(fd_);
}

mmapio_map *open_map(const std::string &path, mmapio_mode mode) {
  mmapio_map *m = nullptr;
  check(mmapio_open(&m, path.c_str(), mode), "mmapio_open");
  return m;
}

double resident(const void *addr, size_t len) {
  if (len == 0)
    return 1.0;
  uintptr_t a = reinterpret_cast<uintptr_t>(addr) & ~(page() - 1);
  size_t span = reinterpret_cast<uintptr_t>(addr) + len - a;
  size_t pages = (span + page() - 1) / page();
  std::vector<unsigned char> vec(pages);
  if (mincore(reinterpret_cast<void *>(a), span, vec.data()) != 0)
    die("mincore: %s", strerror(errno));
  size_t in = 0;
  for (unsigned char v : vec)
    in += v & 1;
  return static_cast<double>(in) / static_cast<double>(pages);
}

double make_cold(int fd, void *addr, size_t len) {
  if (addr != nullptr && madvise(addr, len, MADV_DONTNEED) != 0)
    die("madvise(MADV_DONTNEED): %s", strerror(errno));
  void *probe = addr;
  if (probe == nullptr) {
    probe = mmap(nullptr, len, PROT_READ, MAP_SHARED, fd, 0);
    if (probe == MAP_FAILED)
      die("mmap for mincore: %s", strerror(errno));
  }
  double r = 1.0;
  // A page may sit in a per-CPU LRU batch for a moment; the kernel drains
  // those on a second call. A page still being read (the read-ahead of
  // the touch just timed, in flight) is locked until the device answers,
  // and DONTNEED skips it: after the first tries, each try waits a
  // millisecond first (this is untimed setup), up to 100 of them.
  for (int tries = 0; tries < 104 && r > 0.0; tries++) {
    if (tries >= 4) {
      const timespec ms = {0, 1000000};
      nanosleep(&ms, nullptr);
    }
    if (posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED) != 0)
      die("posix_fadvise(DONTNEED) failed");
    r = resident(probe, len);
  }
  if (probe != addr)
    munmap(probe, len);
  return r;
}

// The kernel may drop a clean page-cache page at any moment, also between
// the touch and the check (a full run's SPEC step once found a 1 GiB file
// a few pages short of resident): the range is touched again, up to four
// passes in all, before the state counts as not warm.
double make_warm(const void *addr, size_t len) {
  const volatile unsigned char *p =
      static_cast<const volatile unsigned char *>(addr);
  double r = 0.0;
  for (int pass = 0; pass < 4 && r < 1.0; pass++) {
    unsigned sum = 0;
    for (size_t off = 0; off < len; off += page())
      sum += p[off];
    keep(sum);
    r = resident(addr, len);
  }
  return r;
}

bool require_warm(benchmark::State &st, const void *addr, size_t len) {
  double r = make_warm(addr, len);
  st.SetLabel("warm");
  if (r < 1.0) {
    char msg[96];
    std::snprintf(msg, sizeof msg, "not warm: %.3f%% resident after touch",
                  r * 100.0);
    st.SkipWithError(msg);
    return false;
  }
  return true;
}

bool cold_possible() {
  const char *fs = fs_name(g_opts.dir);
  return std::strcmp(fs, "tmpfs") != 0 && std::strcmp(fs, "ramfs") != 0;
}

double thread_cpu_seconds() {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) +
         static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::vector<uint64_t> offsets(size_t n, uint64_t limit, uint64_t align) {
  std::vector<uint64_t> v(n);
  uint64_t x = 0x9E3779B97F4A7C15ull; // fixed seed: same sequence for all
  uint64_t slots = limit / align + 1;
  for (auto &o : v) {
    x ^= x << 13; // xorshift64
    x ^= x >> 7;
    x ^= x << 17;
    o = (x % slots) * align;
  }
  return v;
}

void api_missing(const char *area) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_missing.insert(area);
}

const std::vector<Group> &groups() {
  static const std::vector<Group> g = {
      {"chunks", 1, "zero-copy chunks vs owned chunks, pages", register_chunks},
      {"reads", 2, "view vs read_into, sequential and random", register_reads},
      {"touch", 3, "touch_pages warm / cold / sparse vs naive and floors",
       register_touch},
      {"flush", 4, "flush_range durable and hint vs msync", register_flush},
      {"atomics", 5, "atomic fetch_add and getting a view", register_atomics},
      {"open", 6, "create / open / COW / resize / advise / read_into",
       register_open},
      {"policy", 7, "64 KiB update loop under each flush policy",
       register_policy},
      {"scaling", 8, "bulk groups 4 KiB..1 GiB, reads over 1-2 threads",
       register_scaling},
  };
  return g;
}

} // namespace mperf

using namespace mperf;

static void usage(FILE *f) {
  std::fprintf(
      f,
      "usage: mmapio_perf --mmapio_group=NAME[,NAME...] [--mmapio_quick]\n"
      "                   [--mmapio_dir=DIR] [--mmapio_meta_out=FILE]\n"
      "                   [--benchmark_* flags]\n"
      "       mmapio_perf --mmapio_list_groups\n"
      "DIR holds the data files (default $MMAPIO_PERF_DIR or /var/tmp); it\n"
      "must be disk-backed for the cold runs. FILE receives the group's peak\n"
      "resident memory and the library sides missing from this build.\n");
}

static std::string json_escape(const std::string &s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\')
      o += '\\';
    if (static_cast<unsigned char>(c) >= 0x20)
      o += c;
  }
  return o;
}

int main(int argc, char **argv) {
  const char *envdir = std::getenv("MMAPIO_PERF_DIR");
  g_opts.dir = envdir != nullptr && *envdir != '\0' ? envdir : "/var/tmp";
  std::vector<char *> rest;
  rest.push_back(argv[0]);
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto val = [&](const char *flag) -> const char * {
      size_t n = std::strlen(flag);
      if (a.compare(0, n, flag) == 0 && a.size() > n && a[n] == '=')
        return argv[i] + n + 1;
      return nullptr;
    };
    if (a == "--mmapio_list_groups") {
      for (const auto &g : groups())
        std::printf("%d %s\t%s\n", g.number, g.name, g.title);
      return 0;
    } else if (a == "--mmapio_quick") {
      g_opts.quick = true;
    } else if (const char *v = val("--mmapio_group")) {
      g_opts.group = v;
    } else if (const char *v2 = val("--mmapio_dir")) {
      g_opts.dir = v2;
    } else if (const char *v3 = val("--mmapio_meta_out")) {
      g_opts.meta_out = v3;
    } else if (a == "-h" || a == "--help") {
      usage(stdout);
      return 0;
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (g_opts.group.empty()) {
    usage(stderr);
    return 2;
  }
  int rargc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&rargc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rargc, rest.data()))
    return 2;

  std::vector<std::string> names;
  for (size_t s = 0, e; s <= g_opts.group.size(); s = e + 1) {
    e = g_opts.group.find(',', s);
    if (e == std::string::npos)
      e = g_opts.group.size();
    names.push_back(g_opts.group.substr(s, e - s));
  }
  for (const auto &n : names) {
    auto it = std::find_if(groups().begin(), groups().end(),
                           [&](const Group &g) { return n == g.name; });
    if (it == groups().end()) {
      std::fprintf(stderr, "mmapio_perf: unknown group '%s'\n", n.c_str());
      return 2;
    }
    it->reg();
  }

  std::string missing;
  for (const auto &m : g_missing)
    missing += (missing.empty() ? "" : ",") + m;
  benchmark::AddCustomContext("mmapio_group", g_opts.group);
  benchmark::AddCustomContext("mmapio_quick", g_opts.quick ? "1" : "0");
  benchmark::AddCustomContext("mmapio_slowed", MMAPIO_PERF_SLOWED ? "1" : "0");
  benchmark::AddCustomContext("mmapio_slowdown",
                              std::to_string(MMAPIO_PERF_SLOWDOWN_PERMILLE));
  benchmark::AddCustomContext("mmapio_apis_missing", missing);
  benchmark::AddCustomContext("mmapio_data_dir", g_opts.dir);
  benchmark::AddCustomContext("mmapio_data_fs", fs_name(g_opts.dir));
  benchmark::AddCustomContext("mmapio_version",
                              std::to_string(mmapio_version()));

  size_t ran = benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();

  if (!g_opts.meta_out.empty()) {
    FILE *f = std::fopen(g_opts.meta_out.c_str(), "w");
    if (f == nullptr)
      die("cannot write %s: %s", g_opts.meta_out.c_str(), strerror(errno));
    std::fprintf(f,
                 "{\"group\": \"%s\", \"quick\": %s, \"slowed\": %s, "
                 "\"benchmarks_run\": %zu, \"peak_rss_kib\": %ld, "
                 "\"apis_missing\": \"%s\", \"data_dir\": \"%s\", "
                 "\"data_fs\": \"%s\"}\n",
                 json_escape(g_opts.group).c_str(),
                 g_opts.quick ? "true" : "false",
                 MMAPIO_PERF_SLOWED ? "true" : "false", ran, peak_rss_kib(),
                 json_escape(missing).c_str(), json_escape(g_opts.dir).c_str(),
                 fs_name(g_opts.dir));
    std::fclose(f);
  }
  return 0;
}
