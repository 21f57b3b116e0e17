// Watching the backing file: modify, truncate, extend, a rapid sequence,
// metadata, rename, removal (by this process and by another one),
// event-queue overflow, stopping (also from the callback), and every
// documented error of mmapio_watch_start.
//
// Changes are made with write()/ftruncate()/unlink() on another
// descriptor or in another process: writes through a mapping are not
// reported (documented limit). Waiting for an event is bounded
// generously (a hang guard), never a speed assertion.
#include "support.hpp"
#include "support_proc.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

const char *kind_name(mmapio_watch_kind k) {
  switch (k) {
  case MMAPIO_WATCH_MODIFIED:
    return "MODIFIED";
  case MMAPIO_WATCH_METADATA:
    return "METADATA";
  case MMAPIO_WATCH_REMOVED:
    return "REMOVED";
  }
  return "?";
}

std::string describe(const std::vector<mmapio_watch_event> &evs) {
  std::string s;
  for (const auto &e : evs) {
    s += kind_name(e.kind);
    if (e.range_known)
      s += "[" + std::to_string(e.offset) + ",+" + std::to_string(e.length) +
           ")";
    s += " size " + std::to_string(e.size);
    if (e.overflowed)
      s += " (overflowed)";
    s += "; ";
  }
  return s.empty() ? "no events" : s;
}

// Events delivered to the callback, collected under a lock.
class Events {
public:
  static void callback(const mmapio_watch_event *ev, void *user) {
    auto *self = static_cast<Events *>(user);
    std::unique_lock<std::mutex> lk(self->mu_);
    if (self->after_stop_)
      self->late_++;
    self->got_.push_back(*ev);
    self->cv_.notify_all();
    if (self->hold_)
      self->cv_.wait_for(lk, std::chrono::seconds(60),
                         [&] { return !self->hold_; });
  }

  // Waits (60 s hang guard) until pred holds over the events so far.
  bool
  wait_until(const std::function<bool(const std::vector<mmapio_watch_event> &)>
                 &pred) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(60),
                        [&] { return pred(got_); });
  }

  bool wait_kind(mmapio_watch_kind k) {
    return wait_until([k](const std::vector<mmapio_watch_event> &v) {
      for (const auto &e : v)
        if (e.kind == k)
          return true;
      return false;
    });
  }

  std::vector<mmapio_watch_event> events() {
    std::lock_guard<std::mutex> lk(mu_);
    return got_;
  }

  void clear() {
    std::lock_guard<std::mutex> lk(mu_);
    got_.clear();
  }

  // The first callback blocks until release() (to let the kernel's
  // queue overflow behind it).
  void hold() {
    std::lock_guard<std::mutex> lk(mu_);
    hold_ = true;
  }
  void release() {
    std::lock_guard<std::mutex> lk(mu_);
    hold_ = false;
    cv_.notify_all();
  }

  void mark_stopped() {
    std::lock_guard<std::mutex> lk(mu_);
    after_stop_ = true;
  }
  int late() {
    std::lock_guard<std::mutex> lk(mu_);
    return late_;
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<mmapio_watch_event> got_;
  bool hold_ = false;
  bool after_stop_ = false;
  int late_ = 0;
};

struct WatchStopper {
  void operator()(mmapio_watch *w) const noexcept { mmapio_watch_stop(w); }
};
using WatchPtr = std::unique_ptr<mmapio_watch, WatchStopper>;

// Starts a watch (callers have checked that this build can watch).
WatchPtr start_watch(mmapio_map *m, Events &ev) {
  mmapio_watch *w = nullptr;
  const int rc = mmapio_watch_start(&w, m, Events::callback, &ev);
  INFO("mmapio_watch_start returned " << mmapio_describe(rc));
  REQUIRE(rc == 0);
  REQUIRE(w != nullptr);
  return WatchPtr(w);
}

// Watching is a capability: where the library says it has none the test
// skips with its reason; where it says it has it, the watch must start.
#define START_WATCH_OR_SKIP(w, m, ev)                                          \
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);                                        \
  WatchPtr w = start_watch((m), (ev))

// Another descriptor on path, for changes the kernel reports.
class OtherFd {
public:
  explicit OtherFd(const std::string &p)
      : fd_(::open(p.c_str(), O_RDWR | O_CLOEXEC)) {
    REQUIRE(fd_ >= 0);
  }
  ~OtherFd() { ::close(fd_); }
  OtherFd(const OtherFd &) = delete;
  OtherFd &operator=(const OtherFd &) = delete;
  void pwrite(uint64_t off, const std::string &s) {
    REQUIRE(::pwrite(fd_, s.data(), s.size(), static_cast<off_t>(off)) ==
            static_cast<ssize_t>(s.size()));
  }
  void truncate(uint64_t size) {
    REQUIRE(::ftruncate(fd_, static_cast<off_t>(size)) == 0);
  }
  void chmod(mode_t mode) { REQUIRE(::fchmod(fd_, mode) == 0); }
  int fd() const { return fd_; }

private:
  int fd_;
};

bool has_kind(const std::vector<mmapio_watch_event> &v, mmapio_watch_kind k) {
  for (const auto &e : v)
    if (e.kind == k)
      return true;
  return false;
}

} // namespace

// Child processes that change a watched file.
MMAPIO_CHILD(watch_child_write) {
  if (argc < 1)
    return 2;
  int fd = ::open(argv[0], O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return 3;
  const char b[] = "from another process";
  const bool ok = ::pwrite(fd, b, sizeof b - 1, 0) == sizeof b - 1;
  ::close(fd);
  return ok ? 0 : 4;
}

MMAPIO_CHILD(watch_child_unlink) {
  if (argc < 1)
    return 2;
  return ::unlink(argv[0]) == 0 ? 0 : 3;
}

// ------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_watch_start: INVALID_ARGUMENT when out, m or cb is NULL, "
          "or m is anonymous",
          "[mmapio_watch_start][errors][watch][linux]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  const size_t threads = thread_count_stable();
  mmapio_watch *w = nullptr;
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_watch_start(nullptr, m.get(), ignore_event, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("m is NULL") {
    CHECK_CODE(mmapio_watch_start(&w, nullptr, ignore_event, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("cb is NULL") {
    CHECK_CODE(mmapio_watch_start(&w, m.get(), nullptr, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("m is anonymous: it has no file") {
    mmapio_map *anon = nullptr;
    REQUIRE_OK(mmapio_anon(&anon, kPage));
    MapPtr a(anon);
    CHECK_CODE(mmapio_watch_start(&w, a.get(), ignore_event, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  CHECK(w == nullptr);
  if (mmapio_test::thread_count_blocker().empty())
    CHECK(thread_count_settled(threads) == threads);
  else
    WARN("SKIPPED: its thread count check: "
         << mmapio_test::thread_count_blocker());
}

TEST_CASE("mmapio_watch_start: UNSUPPORTED when the build has no file "
          "watching",
          "[mmapio_watch_start][errors][watch]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  mmapio_watch *w = nullptr;
  const int rc = mmapio_watch_start(&w, m.get(), ignore_event, nullptr);
  if (rc == 0) {
    mmapio_watch_stop(w);
    MMAPIO_SKIP_HAVING_CAP(MMAPIO_CAP_WATCH);
  }
  CHECK_CODE(rc, MMAPIO_E_UNSUPPORTED);
  CHECK(w == nullptr);
  CHECK(mmapio_last_error()->code == MMAPIO_E_UNSUPPORTED);
}

TEST_CASE("mmapio_watch_start: WATCH_FAILED when no descriptor can be "
          "opened for the subscription",
          "[mmapio_watch_start][errors][watch][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);
  TempDir td;
  const std::string p = td.path("f");
  const ChildOutcome r = run_in_child([&](int &extra) {
    mmapio_map *m = nullptr;
    if (mmapio_create(&m, p.c_str(), 4096) != 0)
      return 1000;
    struct rlimit rl;
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 0; // inotify_init1 fails with EMFILE
    ::setrlimit(RLIMIT_NOFILE, &rl);
    mmapio_watch *w = nullptr;
    const int rc = mmapio_watch_start(&w, m, ignore_event, nullptr);
    extra = w == nullptr ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_WATCH_FAILED);
  CHECK(r.code == MMAPIO_E_WATCH_FAILED);
  CHECK(r.os_errno == EMFILE);
  CHECK(std::string(r.syscall) == "inotify_init1");
  CHECK(r.extra == 1);
}

TEST_CASE("mmapio_watch_start: NO_MEMORY when allocating the watch fails",
          "[mmapio_watch_start][errors][watch][valgrind-skip]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir td;
  const std::string p = td.path("f");
  const ChildOutcome r = run_in_child([&](int &extra) {
    mmapio_map *m = nullptr;
    if (mmapio_create(&m, p.c_str(), 4096) != 0)
      return 1000;
    mmapio_watch *w = nullptr;
    exhaust_memory_in_child();
    const int rc = mmapio_watch_start(&w, m, ignore_event, nullptr);
    extra = w == nullptr ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

// ------------------------------------------------------------------
// Kinds of change
// ------------------------------------------------------------------

TEST_CASE("watch: write() from another descriptor is MODIFIED",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  OtherFd other(p);
  other.pwrite(kPage + 3, "hello");
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_MODIFIED));
  const auto v = ev.events();
  INFO(describe(v));
  const auto &e = v[0];
  CHECK(e.kind == MMAPIO_WATCH_MODIFIED);
  CHECK(!e.range_known); // the kernel does not say where
  CHECK(e.size == 4 * kPage);
  CHECK(!e.overflowed);
  // The mapping sees the bytes (same page cache).
  char buf[5];
  REQUIRE_OK(mmapio_read(m.get(), kPage + 3, buf, 5));
  CHECK(std::string(buf, 5) == "hello");
}

TEST_CASE("watch: a write from another process is MODIFIED",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  REQUIRE(run_child("watch_child_write", {p}) == 0);
  CHECK(ev.wait_kind(MMAPIO_WATCH_MODIFIED));
}

TEST_CASE("watch: extending the file is MODIFIED with the new range",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 2 * kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  OtherFd other(p);
  SECTION("ftruncate") { other.truncate(5 * kPage); }
  SECTION("write() past the end") { other.pwrite(5 * kPage - 4, "tail"); }
  REQUIRE(ev.wait_until([](const std::vector<mmapio_watch_event> &v) {
    return !v.empty() && v.back().size == 5 * kPage;
  }));
  const auto v = ev.events();
  INFO(describe(v));
  bool found = false;
  for (const auto &e : v)
    if (e.kind == MMAPIO_WATCH_MODIFIED && e.range_known) {
      CHECK(e.offset == 2 * kPage);
      CHECK(e.length == 3 * kPage);
      CHECK(e.size == 5 * kPage);
      found = true;
    }
  CHECK(found);
}

TEST_CASE("watch: truncating the file is MODIFIED with the removed range",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 6 * kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  OtherFd other(p);
  other.truncate(kPage + 10); // nobody touches the mapping past here
  REQUIRE(ev.wait_until([](const std::vector<mmapio_watch_event> &v) {
    for (const auto &e : v)
      if (e.kind == MMAPIO_WATCH_MODIFIED && e.range_known)
        return true;
    return false;
  }));
  const auto v = ev.events();
  INFO(describe(v));
  for (const auto &e : v)
    if (e.kind == MMAPIO_WATCH_MODIFIED && e.range_known) {
      CHECK(e.offset == kPage + 10);
      CHECK(e.length == 5 * kPage - 10);
      CHECK(e.size == kPage + 10);
    }
}

TEST_CASE("watch: a rapid sequence of changes is reported in order and "
          "the size ranges add up",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  OtherFd other(p);
  const int steps = 200;
  for (int i = 1; i <= steps; i++) {
    other.pwrite(static_cast<uint64_t>(i) % kPage, "r");
    other.truncate(kPage + static_cast<uint64_t>(i) * 100);
  }
  other.chmod(0600); // a marker after everything else
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_METADATA));
  const auto v = ev.events();
  INFO(describe(v));
  // Merged or not, the reported size changes chain from the first size to
  // the last with no gap or overlap; nothing comes after the marker's
  // event except metadata.
  uint64_t at = kPage;
  size_t modified = 0;
  bool seen_meta = false;
  for (const auto &e : v) {
    if (e.kind == MMAPIO_WATCH_METADATA) {
      seen_meta = true;
      continue;
    }
    CHECK(!seen_meta);
    CHECK(e.kind == MMAPIO_WATCH_MODIFIED);
    modified++;
    if (e.range_known) {
      CHECK(e.offset == at);
      at += e.length;
      CHECK(e.size == at);
    }
  }
  CHECK(modified >= 1);
  CHECK(at == kPage + steps * 100);
  CHECK(v.back().size == kPage + steps * 100);
}

TEST_CASE("watch: chmod and rename are METADATA",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  SECTION("chmod") { REQUIRE(::chmod(p.c_str(), 0600) == 0); }
  SECTION("rename") { REQUIRE(::rename(p.c_str(), td.path("g").c_str()) == 0); }
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_METADATA));
  const auto v = ev.events();
  INFO(describe(v));
  CHECK(!has_kind(v, MMAPIO_WATCH_REMOVED));
}

TEST_CASE("watch: removing the file's last name is REMOVED",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  SECTION("unlink here") { REQUIRE(::unlink(p.c_str()) == 0); }
  SECTION("unlink in another process") {
    REQUIRE(run_child("watch_child_unlink", {p}) == 0);
  }
  SECTION("mmapio_delete_file") { REQUIRE_OK(mmapio_delete_file(p.c_str())); }
  SECTION("replaced by a rename over it") {
    write_bytes(td.path("new"), "new content");
    REQUIRE(::rename(td.path("new").c_str(), p.c_str()) == 0);
  }
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_REMOVED));
  INFO(describe(ev.events()));
  // The mapping stays valid.
  char c = 1;
  CHECK_OK(mmapio_read(m.get(), 0, &c, 1));
}

TEST_CASE("watch: an unlink handled after a write's event is still REMOVED",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  Events ev;
  ev.hold(); // the first callback waits: what follows queues up behind it
  START_WATCH_OR_SKIP(w, m.get(), ev);
  REQUIRE(::chmod(p.c_str(), 0600) == 0);
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_METADATA));
  const int fd = ::open(p.c_str(), O_WRONLY | O_CLOEXEC);
  REQUIRE(fd >= 0);
  CHECK(::pwrite(fd, "news", 4, 100) == 4);
  ::close(fd);
  REQUIRE(::unlink(p.c_str()) == 0);
  ev.release(); // the write's event is handled after the unlink happened
  CHECK(ev.wait_kind(MMAPIO_WATCH_REMOVED));
  INFO(describe(ev.events()));
  CHECK(has_kind(ev.events(), MMAPIO_WATCH_MODIFIED));
}

TEST_CASE("watch: a second name does not make unlinking the first REMOVED",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  REQUIRE(::link(p.c_str(), td.path("g").c_str()) == 0);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  REQUIRE(::unlink(p.c_str()) == 0);
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_METADATA));
  CHECK(!has_kind(ev.events(), MMAPIO_WATCH_REMOVED));
  REQUIRE(::unlink(td.path("g").c_str()) == 0);
  CHECK(ev.wait_kind(MMAPIO_WATCH_REMOVED));
}

TEST_CASE("watch: an overflowing event queue is re-checked and reported",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  unsigned long queue = 16384;
  {
    std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
    in >> queue;
  }
  if (queue > 1000000)
    MMAPIO_SKIP("max_queued_events is " << queue
                                        << ": too large to overflow here");
  MapPtr m = create_map(p, kPage);
  Events ev;
  ev.hold(); // the first callback blocks the dispatcher
  START_WATCH_OR_SKIP(w, m.get(), ev);
  OtherFd other(p);
  other.pwrite(0, "a");
  REQUIRE(ev.wait_until(
      [](const std::vector<mmapio_watch_event> &v) { return !v.empty(); }));
  // Alternate MODIFY and ATTRIB so the kernel cannot merge them.
  for (unsigned long i = 0; i < queue + 64; i++) {
    other.pwrite(1, "b");
    other.chmod(i % 2 ? 0600 : 0644);
  }
  other.truncate(3 * kPage);
  ev.release();
  REQUIRE(ev.wait_until([](const std::vector<mmapio_watch_event> &v) {
    for (const auto &e : v)
      if (e.overflowed)
        return true;
    return false;
  }));
  const auto v = ev.events();
  const mmapio_watch_event *ov = nullptr;
  for (const auto &e : v)
    if (e.overflowed) {
      ov = &e;
      break;
    }
  REQUIRE(ov != nullptr);
  CHECK(
      (ov->kind == MMAPIO_WATCH_MODIFIED || ov->kind == MMAPIO_WATCH_METADATA));
  CHECK(ov->size == 3 * kPage);
  // Whatever was lost, the final size was reported at least once.
  bool size_seen = false;
  for (const auto &e : v)
    size_seen = size_seen || e.size == 3 * kPage;
  CHECK(size_seen);
}

// ------------------------------------------------------------------
// Stopping and references
// ------------------------------------------------------------------

TEST_CASE("mmapio_watch_stop: no callback after it returns, thread and "
          "descriptors are released",
          "[mmapio_watch_stop][watch][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  const size_t threads = thread_count_stable();
  const size_t fds = fd_count();
  Events ev;
  mmapio_watch *w = nullptr;
  const int rc = mmapio_watch_start(&w, m.get(), Events::callback, &ev);
  REQUIRE_OK(rc);
  CHECK(thread_count() == threads + 1);
  CHECK(fd_count() > fds);
  OtherFd other(p);
  other.pwrite(0, "x");
  REQUIRE(ev.wait_kind(MMAPIO_WATCH_MODIFIED));
  // Changes keep coming while it stops.
  for (int i = 0; i < 100; i++)
    other.pwrite(0, "y");
  mmapio_watch_stop(w);
  ev.mark_stopped();
  for (int i = 0; i < 100; i++)
    other.pwrite(0, "z");
  other.chmod(0600);
  ::usleep(100 * 1000); // a late callback would have time to show up
  CHECK(ev.late() == 0);
  CHECK(thread_count_settled(threads) == threads);
  CHECK(fd_count() == fds + 1); // only `other` remains
  // The watch's reference is gone.
  int fd = -1;
  CHECK_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("mmapio_watch_stop: NULL is a no-op", "[mmapio_watch_stop][watch]") {
  mmapio_watch_stop(nullptr);
  SUCCEED("returned");
}

TEST_CASE("mmapio_watch_stop: from the watch's own callback",
          "[mmapio_watch_stop][watch][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, kPage);
  const size_t threads = thread_count_stable();
  struct SelfStop {
    mmapio_watch *w = nullptr;
    std::atomic<int> calls{0};
    std::atomic<bool> armed{false};
    static void cb(const mmapio_watch_event *, void *user) {
      auto *s = static_cast<SelfStop *>(user);
      s->calls.fetch_add(1);
      while (!s->armed.load()) // until start has stored the handle
        ::usleep(1000);
      mmapio_watch_stop(s->w);
    }
  } s;
  const int rc = mmapio_watch_start(&s.w, m.get(), SelfStop::cb, &s);
  REQUIRE_OK(rc);
  s.armed = true;
  OtherFd other(p);
  other.pwrite(0, "a");
  other.chmod(0600);
  other.pwrite(0, "b");
  // The dispatcher ends by itself after the callback returns.
  CHECK(poll_until([&] { return thread_count() == threads; }, 10, 3000));
  CHECK(s.calls.load() == 1);
  // And it dropped its reference on the handle.
  CHECK(poll_until([&] { return only_reference_left(m); }, 10, 3000));
}

TEST_CASE("watch: closing the handle while watching is allowed, the watch "
          "keeps it alive until stopped",
          "[mmapio_watch_start][mmapio_watch_stop][watch][linux]") {
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_WATCH);
  TempDir td;
  const std::string p = td.path("f");
  const size_t fds = fd_count();
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, p.c_str(), kPage));
  Events ev;
  mmapio_watch *w = nullptr;
  const int rc = mmapio_watch_start(&w, m, Events::callback, &ev);
  REQUIRE_OK(rc);
  mmapio_close(m); // the watch still holds a reference
  {
    OtherFd other(p);
    other.pwrite(0, "q");
    CHECK(ev.wait_kind(MMAPIO_WATCH_MODIFIED));
  }
  mmapio_watch_stop(w); // the last reference: the handle goes too
  CHECK(fd_count() == fds);
}

TEST_CASE("watch: mmapio_unmap is BUSY while a watch holds the handle",
          "[mmapio_watch_start][mmapio_unmap][watch][linux]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  Events ev;
  START_WATCH_OR_SKIP(w, m.get(), ev);
  int fd = -1;
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  w.reset();
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("watch: several watches on one file each see every change",
          "[mmapio_watch_start][watch][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr a = create_map(p, kPage);
  mmapio_map *b_raw = nullptr;
  REQUIRE_OK(mmapio_open(&b_raw, p.c_str(), MMAPIO_MODE_RO));
  MapPtr b(b_raw);
  Events ea, eb;
  START_WATCH_OR_SKIP(wa, a.get(), ea);
  START_WATCH_OR_SKIP(wb, b.get(), eb);
  OtherFd other(p);
  other.truncate(2 * kPage);
  CHECK(ea.wait_kind(MMAPIO_WATCH_MODIFIED));
  CHECK(eb.wait_kind(MMAPIO_WATCH_MODIFIED));
}
