// The crash loop: a child appends checksummed records to a log through
// writable views and mmapio_update, makes each batch durable (flush_range,
// flush, or the ALWAYS policy) and then acknowledges the batch's last
// sequence number over a pipe; the parent kills it with SIGKILL at random
// moments, over and over, on the same file. After every kill:
//  - every acknowledged record is intact, read with pread through a
//    descriptor of the parent's own (what the file holds);
//  - no page wholly inside the acknowledged records is dirty in the page
//    cache, by cachestat(2) where the kernel has it and by
//    /proc/self/smaps over a fresh mapping: a flush that returned 0 wrote
//    its bytes back, whatever path wrote them.
// A SIGKILL keeps the page cache, so the second check is what shows the
// records would survive a power cut too. Each child first finds the end
// of the log (the first record whose checksum fails) and flushes what the
// killed one left before it acknowledges past it: its own pending count
// is 0 then, so that flush must not skip the system call.
//
// MMAPIO_CRASH_KILLS sets the number of kills (default 1000; 100 when
// MMAPIO_TEST_QUICK is set or under valgrind); MMAPIO_CRASH_SEED replays a
// run. The figures go to $MMAPIO_FIGURES_DIR/crash.txt.
#include "support.hpp"
#include "support_proc.hpp"

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

constexpr size_t kRecord = 64;
constexpr uint64_t kStartSize = 64 * 1024;
constexpr uint64_t kMaxSize = uint64_t{64} << 20;
constexpr int kFull = 12; // the child's exit status when the log is full

struct Record {
  uint64_t seq;
  uint64_t salt;
  unsigned char payload[40];
  uint64_t sum; // FNV-1a of the 56 bytes before it
};
static_assert(sizeof(Record) == kRecord, "a record is 64 bytes");

uint64_t fnv1a(const void *p, size_t n) {
  uint64_t h = 1469598103934665603u;
  for (size_t i = 0; i < n; i++) {
    h ^= static_cast<const unsigned char *>(p)[i];
    h *= 1099511628211u;
  }
  return h;
}

Record make_record(uint64_t seq, uint64_t salt) {
  Record r;
  r.seq = seq;
  r.salt = salt;
  uint64_t x = seq * 0x9e3779b97f4a7c15u ^ salt;
  for (unsigned char &b : r.payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<unsigned char>(x);
  }
  r.sum = fnv1a(&r, offsetof(Record, sum));
  return r;
}

// What a writer that knows only the log checks: the checksum and the
// place.
bool intact(const Record &r, uint64_t seq) {
  return r.seq == seq && r.sum == fnv1a(&r, offsetof(Record, sum));
}

// The child: appends forever (until killed). Never returns; reports
// trouble only through its exit status.
[[noreturn]] void writer(const std::string &path, int ack_fd, uint64_t seed,
                         uint64_t salt) {
  ::alarm(60); // a hang guard: a stuck writer dies and the parent sees it
  std::mt19937_64 rng(seed);
  const unsigned style = static_cast<unsigned>(rng() % 3);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = kStartSize;
  if (style == 2)
    o.flush_policy = MMAPIO_FLUSH_ALWAYS;
  mmapio_map *m = nullptr;
  if (mmapio_open_ex(&m, path.c_str(), &o, MMAPIO_OPEN_OR_CREATE) != 0)
    ::_exit(10);
  uint64_t len = mmapio_len(m), next = 0;
  for (Record r; (next + 1) * kRecord <= len; next++)
    if (mmapio_read(m, next * kRecord, &r, kRecord) != 0 || !intact(r, next))
      break;
  if (mmapio_flush(m) != 0) // what the killed writer left, durable
    ::_exit(11);
  for (;;) {
    const uint64_t batch = 1 + rng() % 8;
    if ((next + batch) * kRecord > len) {
      if (2 * len > kMaxSize)
        ::_exit(kFull);
      if (mmapio_resize(m, 2 * len, nullptr) != 0)
        ::_exit(13);
      len *= 2;
    }
    for (uint64_t i = next; i < next + batch; i++) {
      const Record r = make_record(i, salt);
      void *v = nullptr;
      if (style == 2 || (rng() & 1)) {
        if (mmapio_update(m, i * kRecord, &r, kRecord) != 0)
          ::_exit(14);
      } else if (mmapio_view_mut(m, i * kRecord, kRecord, &v) == 0) {
        std::memcpy(v, &r, kRecord);
      } else {
        ::_exit(15);
      }
    }
    const int rc =
        style == 0   ? mmapio_flush_range(m, next * kRecord, batch * kRecord)
        : style == 1 ? mmapio_flush(m)
                     : 0; // ALWAYS: each update flushed its own range
    if (rc != 0)
      ::_exit(16);
    const uint64_t last = next + batch - 1;
    if (::write(ack_fd, &last, sizeof last) != sizeof last)
      ::_exit(17);
    next += batch;
  }
}

// Reads acknowledgements from fd into *acked (the number of records
// acknowledged: the last sequence number + 1) until `want` more have come
// or the writer is gone. Returns false at the end of the pipe.
bool read_acks(int fd, unsigned want, uint64_t *acked) {
  for (unsigned got = 0; got < want || want == UINT32_MAX;) {
    uint64_t seq = 0;
    size_t done = 0;
    while (done < sizeof seq) {
      ssize_t n =
          ::read(fd, reinterpret_cast<char *>(&seq) + done, sizeof seq - done);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return false;
      done += static_cast<size_t>(n);
    }
    if (seq + 1 > *acked)
      *acked = seq + 1;
    got++;
  }
  return true;
}

// Acknowledged records in [from, to) that are not intact in the file.
uint64_t lost_records(const std::string &path, uint64_t from, uint64_t to,
                      uint64_t salt, std::string *first) {
  // A writer killed before it made the log acknowledged nothing, and there
  // is no file to read.
  if (to <= from)
    return 0;
  const std::string bytes = pread_file(
      path, from * kRecord, static_cast<size_t>((to - from) * kRecord));
  uint64_t lost = 0;
  for (uint64_t i = from; i < to; i++) {
    const size_t at = static_cast<size_t>((i - from) * kRecord);
    const Record want = make_record(i, salt);
    if (at + kRecord <= bytes.size() &&
        std::memcmp(bytes.data() + at, &want, kRecord) == 0)
      continue;
    if (lost++ == 0 && first->empty())
      *first = "record " + std::to_string(i) + " of " + std::to_string(to) +
               " acknowledged is not intact";
  }
  return lost;
}

unsigned kills_to_make() {
  if (const char *env = std::getenv("MMAPIO_CRASH_KILLS"))
    return static_cast<unsigned>(std::strtoul(env, nullptr, 10));
  const char *quick = std::getenv("MMAPIO_TEST_QUICK");
  return (quick != nullptr && *quick != '\0' && *quick != '0') ||
                 mmapio_test_under_valgrind()
             ? 100
             : 1000;
}

} // namespace

TEST_CASE("crash loop: every acknowledged record survives SIGKILL, and its "
          "pages are written back",
          "[crash][durability][mmapio_flush][mmapio_flush_range][linux]") {
  TempDir td;
  if (on_tmpfs(td.dir()))
    MMAPIO_SKIP(td.dir() << " is on tmpfs: no writeback, so the pages of "
                            "flushed records stay dirty and durability "
                            "cannot be told");
  // The writer's log grows in place, over its mapping past the end.
  if (!file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  const std::string path = td.path("log");
  const unsigned kills = kills_to_make();
  uint64_t seed = std::random_device{}();
  if (const char *env = std::getenv("MMAPIO_CRASH_SEED"))
    seed = std::strtoull(env, nullptr, 10);
  INFO("MMAPIO_CRASH_SEED=" << seed);
  std::mt19937_64 rng(seed);
  const uint64_t salt = rng();
  const uint64_t page = mmapio_page_size();

  // cachestat where the kernel has it; smaps always (both must see 0).
  write_bytes(path, "");
  int probe = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  REQUIRE(probe >= 0);
  const bool have_cachestat =
      cachestat_dirty_pages(probe, 0, page) >= 0 || errno != ENOSYS;
  ::close(probe);
  ::unlink(path.c_str());
  const std::string method =
      have_cachestat ? "cachestat(2) and /proc/self/smaps"
                     : "/proc/self/smaps (this kernel has no cachestat)";

  const auto start = std::chrono::steady_clock::now();
  uint64_t acked = 0, acked_total = 0, lost = 0, dirty_pages = 0;
  unsigned made = 0, logs = 1;
  std::string first_failure;
  for (; made < kills && first_failure.empty(); made++) {
    int p[2];
    REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
    const uint64_t child_seed = rng();
    const unsigned wait_acks = static_cast<unsigned>(rng() % 6);
    const unsigned delay_us = static_cast<unsigned>(rng() % 2000);
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::close(p[0]);
      writer(path, p[1], child_seed, salt);
    }
    ::close(p[1]);
    const uint64_t before = acked;
    bool alive = read_acks(p[0], wait_acks, &acked);
    if (alive && delay_us > 0)
      ::usleep(delay_us);
    ::kill(pid, SIGKILL);
    read_acks(p[0], UINT32_MAX, &acked); // what was sent before it died
    ::close(p[0]);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    acked_total += acked - before;
    if (WIFEXITED(status) && WEXITSTATUS(status) == kFull) {
      // The log is full: verify all of it, then start another.
      lost += lost_records(path, 0, acked, salt, &first_failure);
      ::unlink(path.c_str());
      acked = 0;
      logs++;
      continue;
    }
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      first_failure =
          "the writer died otherwise than by our SIGKILL: " +
          std::string(WIFEXITED(status)
                          ? "exit status " + std::to_string(WEXITSTATUS(status))
                          : "signal " + std::to_string(WTERMSIG(status)));
      break;
    }
    // The records this writer could have touched every time, all of them
    // now and then and at the end.
    const uint64_t from = made % 50 == 0 || made + 1 == kills
                              ? 0
                              : (before > 64 ? before - 64 : 0);
    lost += lost_records(path, from, acked, salt, &first_failure);
    // The pages wholly inside the acknowledged records.
    const uint64_t clean_end = acked * kRecord / page * page;
    if (clean_end > 0) {
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      REQUIRE(fd >= 0);
      long cs = have_cachestat ? cachestat_dirty_pages(fd, 0, clean_end) : 0;
      size_t sm = smaps_file_dirty_bytes(fd, 0, static_cast<size_t>(clean_end));
      ::close(fd);
      REQUIRE(cs >= 0);
      REQUIRE(sm != SIZE_MAX);
      const uint64_t d =
          std::max<uint64_t>(static_cast<uint64_t>(cs), sm / page);
      if (d > 0 && first_failure.empty())
        first_failure = std::to_string(d) + " dirty page(s) in the " +
                        std::to_string(clean_end / page) +
                        " pages of acknowledged records (cachestat " +
                        std::to_string(cs) + ", smaps " + std::to_string(sm) +
                        " bytes)";
      dirty_pages += d;
    }
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  char line[256];
  std::snprintf(
      line, sizeof line,
      "crash loop: %u kills, %" PRIu64 " records acknowledged, %" PRIu64
      " lost, %" PRIu64 " dirty pages (%s), %u log(s), %.1f s",
      made, acked_total, lost, dirty_pages, method.c_str(), logs, secs);
  std::printf("%s\n", line);
  write_figure("crash", line);
  INFO(line);
  INFO(first_failure);
  CHECK(made == kills);
  CHECK(lost == 0);
  CHECK(dirty_pages == 0);
  CHECK(first_failure.empty());
}
