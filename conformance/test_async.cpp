// Asynchronous operations: the worker pool, completion by callback and by
// a pollable descriptor (driven from plain poll() and from libuv), the
// reference an operation holds on its handle, and every documented error.
//
// libuv is a test-only dependency: the libuv test is compiled when the
// build defines MMAPIO_TEST_HAVE_LIBUV (conformance/CMakeLists.txt finds
// it with pkg-config); otherwise it skips, saying why.
#include "support.hpp"
#include "support_proc.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/resource.h>
#include <unistd.h>

#ifdef MMAPIO_TEST_HAVE_LIBUV
#include <uv.h>
#endif

using namespace mmapio_test;

namespace {

// ------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------

struct PoolCloser {
  void operator()(mmapio_async_pool *p) const noexcept {
    mmapio_async_pool_destroy(p);
  }
};
using PoolPtr = std::unique_ptr<mmapio_async_pool, PoolCloser>;

PoolPtr make_pool(unsigned n) {
  mmapio_async_pool *p = nullptr;
  const int rc = mmapio_async_pool_create(&p, n);
  INFO("mmapio_async_pool_create returned " << mmapio_describe(rc));
  REQUIRE(rc == 0);
  return PoolPtr(p);
}

bool readable(int fd) {
  pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & POLLIN) != 0;
}

// Completions delivered to callbacks, collected under a lock. The user
// pointer of each submission is the Collector.
class Collector {
public:
  static void callback(const mmapio_completion *c) {
    auto *self = static_cast<Collector *>(c->user);
    std::lock_guard<std::mutex> lk(self->mu_);
    self->got_.push_back(*c);
    self->cv_.notify_all();
  }

  // Waits (generously: a hang guard, not a speed limit) for n records.
  bool wait_for(size_t n) {
    std::unique_lock<std::mutex> lk(mu_);
    return cv_.wait_for(lk, std::chrono::seconds(60),
                        [&] { return got_.size() >= n; });
  }

  std::vector<mmapio_completion> records() {
    std::lock_guard<std::mutex> lk(mu_);
    return got_;
  }

  size_t size() {
    std::lock_guard<std::mutex> lk(mu_);
    return got_.size();
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<mmapio_completion> got_;
};

// Reaps through the descriptor with plain poll() until n records arrived
// (or a generous hang guard fires).
std::vector<mmapio_completion> reap_with_poll(mmapio_async_pool *pool,
                                              size_t n) {
  std::vector<mmapio_completion> all;
  const int fd = mmapio_async_pool_fd(pool);
  for (int spins = 0; all.size() < n && spins < 600; spins++) {
    pollfd p = {fd, POLLIN, 0};
    const int r = ::poll(&p, 1, 100);
    if (r <= 0)
      continue;
    mmapio_completion buf[8];
    size_t got = 0;
    REQUIRE_OK(mmapio_async_reap(pool, buf, 8, &got));
    all.insert(all.end(), buf, buf + got);
  }
  return all;
}

std::string describe(const mmapio_completion &c) {
  return "op " + std::to_string(c.op) + " status " +
         mmapio_error_name(c.status) + " (" + c.error.message + ")";
}

// A gate a callback can wait on: blocks one worker until opened.
class Gate {
public:
  static void callback(const mmapio_completion *c) {
    auto *g = static_cast<Gate *>(c->user);
    std::unique_lock<std::mutex> lk(g->mu_);
    g->entered_ = true;
    g->cv_.notify_all();
    g->cv_.wait_for(lk, std::chrono::seconds(60), [&] { return g->open_; });
  }
  void wait_entered() {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait_for(lk, std::chrono::seconds(60), [&] { return entered_; });
  }
  void open() {
    std::lock_guard<std::mutex> lk(mu_);
    open_ = true;
    cv_.notify_all();
  }

private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

void no_callback_expected(const mmapio_completion *) {}

} // namespace

// ------------------------------------------------------------------
// The pool
// ------------------------------------------------------------------

TEST_CASE("mmapio_async_pool_create: INVALID_ARGUMENT when out is NULL or "
          "nthreads is 0 or above MMAPIO_ASYNC_MAX_THREADS",
          "[mmapio_async_pool_create][errors][async][linux]") {
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  const size_t threads = thread_count_stable();
  mmapio_async_pool *p = nullptr;
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_async_pool_create(nullptr, 1), MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("nthreads is 0") {
    CHECK_CODE(mmapio_async_pool_create(&p, 0), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(p == nullptr);
  }
  SECTION("nthreads is above the maximum") {
    CHECK_CODE(mmapio_async_pool_create(&p, MMAPIO_ASYNC_MAX_THREADS + 1),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(p == nullptr);
  }
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(thread_count_settled(threads) == threads);
}

TEST_CASE("mmapio_async_pool_create: IO when the descriptor cannot be "
          "created",
          "[mmapio_async_pool_create][errors][async]") {
  const ChildOutcome r = run_in_child([](int &extra) {
    struct rlimit rl;
    ::getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 0; // no new descriptor can be opened
    ::setrlimit(RLIMIT_NOFILE, &rl);
    mmapio_async_pool *p = nullptr;
    const int rc = mmapio_async_pool_create(&p, 2);
    extra = p == nullptr ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_IO);
  CHECK(r.os_errno == EMFILE);
  CHECK((std::string(r.syscall) == "eventfd" ||
         std::string(r.syscall) == "pipe"));
  CHECK(r.extra == 1);
}

TEST_CASE("mmapio_async_pool_create: NO_MEMORY when allocating the pool "
          "fails",
          "[mmapio_async_pool_create][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = run_in_child([](int &extra) {
    mmapio_async_pool *p = nullptr;
    exhaust_memory_in_child();
    const int rc = mmapio_async_pool_create(&p, 2);
    extra = p == nullptr ? 1 : 0;
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
  CHECK(r.extra == 1);
}

TEST_CASE(
    "mmapio_async_pool: the threads exist while the pool does",
    "[mmapio_async_pool_create][mmapio_async_pool_destroy][async][linux]") {
  if (!mmapio_test::thread_count_blocker().empty())
    MMAPIO_SKIP(mmapio_test::thread_count_blocker());
  const unsigned n = GENERATE(1u, 3u, unsigned(MMAPIO_ASYNC_MAX_THREADS));
  CAPTURE(n);
  const size_t threads = thread_count_stable();
  const size_t fds = fd_count();
  {
    PoolPtr p = make_pool(n);
    CHECK(thread_count() == threads + n);
  }
  CHECK(thread_count_settled(threads) == threads);
  CHECK(fd_count() == fds);
}

TEST_CASE("mmapio_async_pool_destroy: NULL is a no-op",
          "[mmapio_async_pool_destroy][async]") {
  mmapio_async_pool_destroy(nullptr);
  SUCCEED("returned");
}

TEST_CASE("mmapio_async_pool_destroy: aborts when called from a callback "
          "of the same pool",
          "[mmapio_async_pool_destroy][async]") {
  TempDir td;
  const std::string p = td.path("f");
  const ChildOutcome r = run_in_child([&](int &) {
    mmapio_async_pool *pool = nullptr;
    if (mmapio_async_pool_create(&pool, 1) != 0)
      return 1;
    mmapio_map *m = nullptr;
    if (mmapio_create(&m, p.c_str(), 4096) != 0)
      return 2;
    ::close(2); // keep the library's message out of the test log
    mmapio_async_flush(
        pool, m,
        [](const mmapio_completion *c) {
          mmapio_async_pool_destroy(static_cast<mmapio_async_pool *>(c->user));
        },
        pool);
    ::sleep(60); // the hang guard ends it if the abort never comes
    return 3;
  });
  INFO(r.describe());
  CHECK(!r.exited);
  CHECK(r.term_signal == SIGABRT);
}

TEST_CASE("mmapio_async_pool_fd: -1 for NULL, otherwise a close-on-exec "
          "descriptor that is not readable while nothing is queued",
          "[mmapio_async_pool_fd][async]") {
  CHECK(mmapio_async_pool_fd(nullptr) == -1);
  PoolPtr p = make_pool(1);
  const int fd = mmapio_async_pool_fd(p.get());
  REQUIRE(fd >= 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  CHECK(!readable(fd));
}

TEST_CASE("mmapio_async_reap: INVALID_ARGUMENT when pool or out_count is "
          "NULL, or out is NULL with cap > 0",
          "[mmapio_async_reap][errors][async]") {
  PoolPtr p = make_pool(1);
  mmapio_completion buf[2];
  size_t n = 77;
  SECTION("pool is NULL") {
    CHECK_CODE(mmapio_async_reap(nullptr, buf, 2, &n),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("out_count is NULL") {
    CHECK_CODE(mmapio_async_reap(p.get(), buf, 2, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("out is NULL with cap > 0") {
    CHECK_CODE(mmapio_async_reap(p.get(), nullptr, 2, &n),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  CHECK(n == 77);
  // out NULL with cap 0 is allowed, and an empty queue is not an error.
  CHECK_OK(mmapio_async_reap(p.get(), nullptr, 0, &n));
  CHECK(n == 0);
  CHECK_OK(mmapio_async_reap(p.get(), buf, 2, &n));
  CHECK(n == 0);
}

// ------------------------------------------------------------------
// Submission errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_async_flush: INVALID_ARGUMENT when pool or m is NULL",
          "[mmapio_async_flush][errors][async]") {
  TempDir td;
  PoolPtr p = make_pool(1);
  MapPtr m = create_map(td.path("f"), kPage);
  CHECK_CODE(
      mmapio_async_flush(nullptr, m.get(), no_callback_expected, nullptr),
      MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(
      mmapio_async_flush(p.get(), nullptr, no_callback_expected, nullptr),
      MMAPIO_E_INVALID_ARGUMENT);
  // Nothing was queued, and the handle holds no extra reference.
  int fd = -1;
  CHECK_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("mmapio_async_flush_range: INVALID_ARGUMENT when pool or m is "
          "NULL",
          "[mmapio_async_flush_range][errors][async]") {
  TempDir td;
  PoolPtr p = make_pool(1);
  MapPtr m = create_map(td.path("f"), kPage);
  CHECK_CODE(mmapio_async_flush_range(nullptr, m.get(), 0, 1,
                                      no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_async_flush_range(p.get(), nullptr, 0, 1,
                                      no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_async_update: INVALID_ARGUMENT when pool or m is NULL, "
          "or src is NULL with len > 0",
          "[mmapio_async_update][errors][async]") {
  TempDir td;
  PoolPtr p = make_pool(1);
  MapPtr m = create_map(td.path("f"), kPage);
  CHECK_CODE(mmapio_async_update(nullptr, m.get(), 0, "a", 1,
                                 no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_async_update(p.get(), nullptr, 0, "a", 1,
                                 no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_async_update(p.get(), m.get(), 0, nullptr, 1,
                                 no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_async_create: INVALID_ARGUMENT when pool or path is NULL",
          "[mmapio_async_create][errors][async]") {
  TempDir td;
  PoolPtr p = make_pool(1);
  CHECK_CODE(mmapio_async_create(nullptr, td.path("f").c_str(), kPage,
                                 no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_async_create(p.get(), nullptr, kPage, no_callback_expected,
                                 nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(!path_exists(td.path("f")));
}

TEST_CASE("mmapio_async_copy_file: INVALID_ARGUMENT when pool, src or dst "
          "is NULL",
          "[mmapio_async_copy_file][errors][async]") {
  TempDir td;
  PoolPtr p = make_pool(1);
  const std::string a = td.path("a"), b = td.path("b");
  write_bytes(a, "abc");
  CHECK_CODE(mmapio_async_copy_file(nullptr, a.c_str(), b.c_str(),
                                    no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_async_copy_file(p.get(), nullptr, b.c_str(),
                                    no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_async_copy_file(p.get(), a.c_str(), nullptr,
                                    no_callback_expected, nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_async_delete_file: INVALID_ARGUMENT when pool or path is "
          "NULL",
          "[mmapio_async_delete_file][errors][async]") {
  TempDir td;
  PoolPtr p = make_pool(1);
  const std::string a = make_file(td, "a", "abc");
  CHECK_CODE(mmapio_async_delete_file(nullptr, a.c_str(), no_callback_expected,
                                      nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(
      mmapio_async_delete_file(p.get(), nullptr, no_callback_expected, nullptr),
      MMAPIO_E_INVALID_ARGUMENT);
  CHECK(path_exists(a));
}

namespace {

// Runs submit (which gets a live pool and handle) in a child whose heap is
// exhausted, and returns what the submission said.
template <class Submit> ChildOutcome submit_without_memory(Submit submit) {
  TempDir td;
  const std::string p = td.path("f");
  return run_in_child([&](int &) {
    mmapio_async_pool *pool = nullptr;
    mmapio_map *m = nullptr;
    if (mmapio_async_pool_create(&pool, 1) != 0 ||
        mmapio_create(&m, p.c_str(), 4096) != 0)
      return 1000;
    exhaust_memory_in_child();
    return submit(pool, m, p.c_str());
  });
}

} // namespace

TEST_CASE("mmapio_async_flush: NO_MEMORY when allocating the operation "
          "fails",
          "[mmapio_async_flush][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = submit_without_memory(
      [](mmapio_async_pool *p, mmapio_map *m, const char *) {
        return mmapio_async_flush(p, m, no_callback_expected, nullptr);
      });
  INFO(r.describe());
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_async_flush_range: NO_MEMORY when allocating the "
          "operation fails",
          "[mmapio_async_flush_range][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = submit_without_memory([](mmapio_async_pool *p,
                                                  mmapio_map *m, const char *) {
    return mmapio_async_flush_range(p, m, 0, 1, no_callback_expected, nullptr);
  });
  INFO(r.describe());
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_async_update: NO_MEMORY when allocating the operation or "
          "the copy fails",
          "[mmapio_async_update][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = submit_without_memory(
      [](mmapio_async_pool *p, mmapio_map *m, const char *) {
        return mmapio_async_update(p, m, 0, "abc", 3, no_callback_expected,
                                   nullptr);
      });
  INFO(r.describe());
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_async_create: NO_MEMORY when allocating the operation "
          "fails",
          "[mmapio_async_create][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = submit_without_memory(
      [](mmapio_async_pool *p, mmapio_map *, const char *path) {
        return mmapio_async_create(p, path, 4096, no_callback_expected,
                                   nullptr);
      });
  INFO(r.describe());
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_async_copy_file: NO_MEMORY when allocating the operation "
          "fails",
          "[mmapio_async_copy_file][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = submit_without_memory(
      [](mmapio_async_pool *p, mmapio_map *, const char *path) {
        return mmapio_async_copy_file(p, path, path, no_callback_expected,
                                      nullptr);
      });
  INFO(r.describe());
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

TEST_CASE("mmapio_async_delete_file: NO_MEMORY when allocating the "
          "operation fails",
          "[mmapio_async_delete_file][errors][async][valgrind-skip]") {
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  const ChildOutcome r = submit_without_memory(
      [](mmapio_async_pool *p, mmapio_map *, const char *path) {
        return mmapio_async_delete_file(p, path, no_callback_expected, nullptr);
      });
  INFO(r.describe());
  CHECK(r.rc == MMAPIO_E_NO_MEMORY);
}

// ------------------------------------------------------------------
// Each operation, through a callback and through the descriptor
// ------------------------------------------------------------------

TEST_CASE("async operations complete through callbacks with the "
          "synchronous results",
          "[async]") {
  TempDir td;
  PoolPtr pool = make_pool(2);
  Collector col;
  const std::string f = td.path("f"), g = td.path("g"), h = td.path("h");
  MapPtr m = create_map(f, 4 * kPage);
  const std::string bytes = pattern_bytes(3000, 9);

  SECTION("update, then flush: durable, nothing pending") {
    REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), 100, bytes.data(),
                                   bytes.size(), Collector::callback, &col));
    REQUIRE(col.wait_for(1));
    auto r = col.records();
    INFO(describe(r[0]));
    CHECK(r[0].op == MMAPIO_ASYNC_UPDATE);
    CHECK(r[0].status == 0);
    CHECK(r[0].user == &col);
    CHECK(r[0].map == nullptr);
    CHECK(read_bytes(f).substr(100, bytes.size()) == bytes);
    CHECK(mmapio_pending(m.get()) == 0);
    REQUIRE_OK(
        mmapio_async_flush(pool.get(), m.get(), Collector::callback, &col));
    REQUIRE(col.wait_for(2));
    CHECK(col.records()[1].op == MMAPIO_ASYNC_FLUSH);
    CHECK(col.records()[1].status == 0);
    CHECK(mmapio_pending(m.get()) == 0);
  }
  SECTION("flush_range") {
    REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), bytes.size()));
    REQUIRE_OK(mmapio_async_flush_range(pool.get(), m.get(), 0, bytes.size(),
                                        Collector::callback, &col));
    REQUIRE(col.wait_for(1));
    CHECK(col.records()[0].op == MMAPIO_ASYNC_FLUSH_RANGE);
    CHECK(col.records()[0].status == 0);
    CHECK(mmapio_pending(m.get()) == 0);
  }
  SECTION("create: the new handle belongs to the receiver") {
    REQUIRE_OK(mmapio_async_create(pool.get(), g.c_str(), 3 * kPage,
                                   Collector::callback, &col));
    REQUIRE(col.wait_for(1));
    mmapio_completion c = col.records()[0];
    INFO(describe(c));
    CHECK(c.op == MMAPIO_ASYNC_CREATE);
    REQUIRE(c.status == 0);
    REQUIRE(c.map != nullptr);
    MapPtr created(c.map);
    CHECK(mmapio_len(created.get()) == 3 * kPage);
    CHECK(stat_of(g).st_size == static_cast<off_t>(3 * kPage));
  }
  SECTION("copy and delete") {
    write_bytes(g, bytes);
    REQUIRE_OK(mmapio_async_copy_file(pool.get(), g.c_str(), h.c_str(),
                                      Collector::callback, &col));
    REQUIRE(col.wait_for(1));
    CHECK(col.records()[0].op == MMAPIO_ASYNC_COPY);
    CHECK(col.records()[0].status == 0);
    CHECK(read_bytes(h) == bytes);
    REQUIRE_OK(mmapio_async_delete_file(pool.get(), h.c_str(),
                                        Collector::callback, &col));
    REQUIRE(col.wait_for(2));
    CHECK(col.records()[1].op == MMAPIO_ASYNC_DELETE);
    CHECK(col.records()[1].status == 0);
    CHECK(!path_exists(h));
  }
}

TEST_CASE("async operations report the synchronous error codes and detail "
          "in the completion",
          "[async][errors]") {
  TempDir td;
  PoolPtr pool = make_pool(1);
  Collector col;
  const std::string f = td.path("f");
  MapPtr m = create_map(f, 2 * kPage);

  REQUIRE_OK(mmapio_async_flush_range(pool.get(), m.get(), kPage, 2 * kPage,
                                      Collector::callback, &col));
  REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), 2 * kPage, "x", 1,
                                 Collector::callback, &col));
  REQUIRE_OK(mmapio_async_create(pool.get(), td.path("zero").c_str(), 0,
                                 Collector::callback, &col));
  REQUIRE_OK(mmapio_async_copy_file(pool.get(), td.path("missing").c_str(),
                                    td.path("out").c_str(), Collector::callback,
                                    &col));
  REQUIRE_OK(mmapio_async_delete_file(pool.get(), td.path("missing").c_str(),
                                      Collector::callback, &col));
  REQUIRE(col.wait_for(5));
  const auto r = col.records(); // one thread: submission order
  const int want[] = {MMAPIO_E_OUT_OF_BOUNDS, MMAPIO_E_OUT_OF_BOUNDS,
                      MMAPIO_E_RESIZE_FAILED, MMAPIO_E_IO, MMAPIO_E_IO};
  for (size_t i = 0; i < 5; i++) {
    CAPTURE(i);
    INFO(describe(r[i]));
    CHECK(r[i].status == want[i]);
    CHECK(r[i].error.code == want[i]);
    CHECK(r[i].error.message[0] != '\0');
    CHECK(r[i].map == nullptr);
  }
  CHECK(r[3].error.os_errno == ENOENT);
  CHECK(r[4].error.os_errno == ENOENT);
  CHECK(!path_exists(td.path("zero")));
  CHECK(!path_exists(td.path("out")));
}

TEST_CASE("async update on a read-only handle completes with INVALID_MODE",
          "[async][errors]") {
  TempDir td;
  const std::string f = make_file(td, "f", pattern_bytes(100));
  mmapio_map *ro = nullptr;
  REQUIRE_OK(mmapio_open(&ro, f.c_str(), MMAPIO_MODE_RO));
  MapPtr m(ro);
  PoolPtr pool = make_pool(1);
  Collector col;
  REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), 0, "x", 1,
                                 Collector::callback, &col));
  REQUIRE(col.wait_for(1));
  CHECK(col.records()[0].status == MMAPIO_E_INVALID_MODE);
}

TEST_CASE("async: the caller's bytes may be reused as soon as "
          "mmapio_async_update returns",
          "[mmapio_async_update][async]") {
  TempDir td;
  const std::string f = td.path("f");
  MapPtr m = create_map(f, kPage);
  PoolPtr pool = make_pool(1);
  Collector col;
  std::string buf = "original";
  REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), 10, buf.data(),
                                 buf.size(), Collector::callback, &col));
  buf.assign(buf.size(), '#');
  REQUIRE(col.wait_for(1));
  CHECK(read_bytes(f).substr(10, 8) == "original");
}

TEST_CASE("async: with one thread, operations complete in submission order",
          "[async]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 64 * kPage);
  PoolPtr pool = make_pool(1);
  Collector col;
  for (uint64_t i = 0; i < 64; i++) {
    const char b = static_cast<char>('a' + i % 26);
    REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), i * kPage, &b, 1,
                                   Collector::callback, &col));
  }
  REQUIRE(col.wait_for(64));
  // Each record carries the same user pointer; the order is checked
  // through the file: every update landed, and completions were 64.
  CHECK(col.size() == 64);
  for (uint64_t i = 0; i < 64; i++) {
    char b = 0;
    REQUIRE_OK(mmapio_read(m.get(), i * kPage, &b, 1));
    CHECK(b == static_cast<char>('a' + i % 26));
  }
}

// ------------------------------------------------------------------
// The descriptor: plain poll() and libuv
// ------------------------------------------------------------------

TEST_CASE("async: completions through the descriptor, driven by poll()",
          "[async][mmapio_async_reap][mmapio_async_pool_fd]") {
  TempDir td;
  PoolPtr pool = make_pool(3);
  const std::string f = td.path("f");
  MapPtr m = create_map(f, 16 * kPage);
  const int fd = mmapio_async_pool_fd(pool.get());
  REQUIRE(!readable(fd));

  int tags[4] = {0, 1, 2, 3};
  const std::string bytes = pattern_bytes(500, 3);
  size_t submitted = 0;
  for (uint64_t i = 0; i < 16; i++, submitted++)
    REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), i * kPage, bytes.data(),
                                   bytes.size(), nullptr, &tags[0]));
  REQUIRE_OK(mmapio_async_flush(pool.get(), m.get(), nullptr, &tags[1]));
  submitted++;
  REQUIRE_OK(mmapio_async_create(pool.get(), td.path("new").c_str(), kPage,
                                 nullptr, &tags[2]));
  submitted++;
  REQUIRE_OK(mmapio_async_delete_file(pool.get(), td.path("nope").c_str(),
                                      nullptr, &tags[3]));
  submitted++;

  const auto all = reap_with_poll(pool.get(), submitted);
  REQUIRE(all.size() == submitted);
  size_t updates = 0, flushes = 0, creates = 0, deletes = 0;
  for (const auto &c : all) {
    INFO(describe(c));
    switch (c.op) {
    case MMAPIO_ASYNC_UPDATE:
      updates++;
      CHECK(c.status == 0);
      CHECK(c.user == &tags[0]);
      break;
    case MMAPIO_ASYNC_FLUSH:
      flushes++;
      CHECK(c.status == 0);
      CHECK(c.user == &tags[1]);
      break;
    case MMAPIO_ASYNC_CREATE:
      creates++;
      CHECK(c.status == 0);
      CHECK(c.user == &tags[2]);
      REQUIRE(c.map != nullptr);
      mmapio_close(c.map); // the record owned it
      break;
    case MMAPIO_ASYNC_DELETE:
      deletes++;
      CHECK(c.status == MMAPIO_E_IO);
      CHECK(c.user == &tags[3]);
      break;
    default:
      FAIL("unexpected op " << c.op);
    }
  }
  CHECK(updates == 16);
  CHECK(flushes == 1);
  CHECK(creates == 1);
  CHECK(deletes == 1);
  // Everything reaped: the descriptor is quiet again.
  CHECK(!readable(fd));
  const std::string content = read_bytes(f);
  for (uint64_t i = 0; i < 16; i++)
    CHECK(content.substr(i * kPage, bytes.size()) == bytes);
}

TEST_CASE("async: the descriptor stays readable until the queue is empty",
          "[async][mmapio_async_reap][mmapio_async_pool_fd]") {
  TempDir td;
  PoolPtr pool = make_pool(1);
  MapPtr m = create_map(td.path("f"), kPage);
  for (int i = 0; i < 5; i++)
    REQUIRE_OK(mmapio_async_flush(pool.get(), m.get(), nullptr, nullptr));
  const int fd = mmapio_async_pool_fd(pool.get());
  // Wait until all five are queued (a generous bound).
  size_t queued = 0;
  std::vector<mmapio_completion> got;
  for (int spins = 0; got.size() < 5 && spins < 600; spins++) {
    pollfd p = {fd, POLLIN, 0};
    if (::poll(&p, 1, 100) != 1)
      continue;
    // Take one at a time: readable as long as any remains.
    mmapio_completion c;
    REQUIRE_OK(mmapio_async_reap(pool.get(), &c, 1, &queued));
    if (queued == 1)
      got.push_back(c);
  }
  CHECK(got.size() == 5);
  CHECK(!readable(fd));
}

#ifdef MMAPIO_TEST_HAVE_LIBUV
namespace {
struct UvState {
  mmapio_async_pool *pool;
  size_t want;
  std::vector<mmapio_completion> got;
  uv_poll_t poll;
  uv_timer_t guard;
  bool timed_out = false;
};

void uv_on_readable(uv_poll_t *h, int status, int) {
  auto *s = static_cast<UvState *>(h->data);
  if (status < 0)
    return;
  mmapio_completion buf[4];
  size_t n = 0;
  if (mmapio_async_reap(s->pool, buf, 4, &n) != 0)
    return;
  s->got.insert(s->got.end(), buf, buf + n);
  if (s->got.size() >= s->want) {
    uv_poll_stop(&s->poll);
    uv_timer_stop(&s->guard);
  }
}

void uv_on_guard(uv_timer_t *t) {
  auto *s = static_cast<UvState *>(t->data);
  s->timed_out = true;
  uv_poll_stop(&s->poll);
}
} // namespace
#endif

TEST_CASE("async: completions through the descriptor, driven by a libuv "
          "loop",
          "[async][mmapio_async_pool_fd][libuv]") {
#ifndef MMAPIO_TEST_HAVE_LIBUV
  MMAPIO_SKIP("libuv is not linked into this test binary (configure found "
              "no libuv with pkg-config)");
#else
  TempDir td;
  PoolPtr pool = make_pool(2);
  const std::string f = td.path("f");
  MapPtr m = create_map(f, 8 * kPage);
  uv_loop_t loop;
  REQUIRE(uv_loop_init(&loop) == 0);
  UvState s;
  s.pool = pool.get();
  s.want = 10;
  REQUIRE(uv_poll_init(&loop, &s.poll, mmapio_async_pool_fd(pool.get())) == 0);
  s.poll.data = &s;
  REQUIRE(uv_timer_init(&loop, &s.guard) == 0);
  s.guard.data = &s;
  REQUIRE(uv_poll_start(&s.poll, UV_READABLE, uv_on_readable) == 0);
  REQUIRE(uv_timer_start(&s.guard, uv_on_guard, 60000, 0) == 0); // hang guard

  const std::string bytes = pattern_bytes(200, 5);
  for (uint64_t i = 0; i < 8; i++)
    REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), i * kPage, bytes.data(),
                                   bytes.size(), nullptr, nullptr));
  REQUIRE_OK(mmapio_async_flush(pool.get(), m.get(), nullptr, nullptr));
  REQUIRE_OK(mmapio_async_copy_file(pool.get(), f.c_str(),
                                    td.path("copy").c_str(), nullptr, nullptr));
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_close(reinterpret_cast<uv_handle_t *>(&s.poll), nullptr);
  uv_close(reinterpret_cast<uv_handle_t *>(&s.guard), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK(uv_loop_close(&loop) == 0);

  CHECK(!s.timed_out);
  REQUIRE(s.got.size() == 10);
  for (const auto &c : s.got) {
    INFO(describe(c));
    CHECK(c.status == 0);
  }
  CHECK(path_exists(td.path("copy")));
#endif
}

// ------------------------------------------------------------------
// References: closing, unmapping and destroying with work in flight
// ------------------------------------------------------------------

TEST_CASE("async: closing a handle with operations in flight is defined: "
          "they finish, then the handle is released",
          "[async][linux]") {
  TempDir td;
  const std::string f = td.path("f");
  const size_t fds = fd_count();
  PoolPtr pool = make_pool(2);
  Collector col;
  const std::string bytes = pattern_bytes(300, 11);
  {
    MapPtr m = create_map(f, 32 * kPage);
    for (uint64_t i = 0; i < 32; i++)
      REQUIRE_OK(mmapio_async_update(pool.get(), m.get(), i * kPage,
                                     bytes.data(), bytes.size(),
                                     Collector::callback, &col));
    REQUIRE_OK(
        mmapio_async_flush(pool.get(), m.get(), Collector::callback, &col));
  } // mmapio_close here, with most of the work still queued
  REQUIRE(col.wait_for(33));
  for (const auto &c : col.records()) {
    INFO(describe(c));
    CHECK(c.status == 0);
  }
  const std::string content = read_bytes(f);
  for (uint64_t i = 0; i < 32; i++)
    CHECK(content.substr(i * kPage, bytes.size()) == bytes);
  pool.reset();
  // The last reference went with the last operation: the file is closed.
  CHECK(fd_count() == fds);
}

TEST_CASE("async: mmapio_unmap is BUSY while an operation holds the handle, "
          "and succeeds once it completed",
          "[async][mmapio_unmap]") {
  TempDir td;
  PoolPtr pool = make_pool(1);
  MapPtr blocker = create_map(td.path("b"), kPage);
  MapPtr m = create_map(td.path("f"), kPage);
  Gate gate;
  Collector col;
  // The only worker waits in the gate's callback, so the flush of m
  // below stays queued, holding its reference.
  REQUIRE_OK(
      mmapio_async_flush(pool.get(), blocker.get(), Gate::callback, &gate));
  gate.wait_entered();
  REQUIRE_OK(
      mmapio_async_flush(pool.get(), m.get(), Collector::callback, &col));
  int fd = -1;
  CHECK_CODE(mmapio_unmap(m.get(), &fd), MMAPIO_E_BUSY);
  gate.open();
  REQUIRE(col.wait_for(1));
  CHECK(col.records()[0].status == 0);
  // The reference is dropped before the completion is delivered.
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("mmapio_async_pool_destroy: every submitted operation completes "
          "first, none is lost",
          "[mmapio_async_pool_destroy][async][linux]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), 4 * kPage);
  Collector col;
  const size_t threads = thread_count_stable();
  mmapio_async_pool *pool = nullptr;
  REQUIRE_OK(mmapio_async_pool_create(&pool, 1));
  for (int i = 0; i < 200; i++)
    REQUIRE_OK(mmapio_async_update(pool, m.get(), static_cast<uint64_t>(i), "k",
                                   1, Collector::callback, &col));
  mmapio_async_pool_destroy(pool); // right away: most are still queued
  CHECK(col.size() == 200);
  for (const auto &c : col.records())
    CHECK(c.status == 0);
  if (mmapio_test::thread_count_blocker().empty())
    CHECK(thread_count_settled(threads) == threads);
  else
    WARN("SKIPPED: its thread count check: "
         << mmapio_test::thread_count_blocker());
  // The pool holds no reference any more.
  int fd = -1;
  REQUIRE_OK(mmapio_unmap(m.release(), &fd));
  ::close(fd);
}

TEST_CASE("mmapio_async_pool_destroy: operations submitted by callbacks "
          "while it waits complete too",
          "[mmapio_async_pool_destroy][async]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  struct Chain {
    mmapio_async_pool *pool;
    mmapio_map *m;
    std::atomic<int> done{0};
    static void cb(const mmapio_completion *c) {
      auto *ch = static_cast<Chain *>(c->user);
      if (ch->done.fetch_add(1) + 1 < 10)
        mmapio_async_flush(ch->pool, ch->m, cb, ch);
    }
  } chain;
  REQUIRE_OK(mmapio_async_pool_create(&chain.pool, 2));
  chain.m = m.get();
  REQUIRE_OK(mmapio_async_flush(chain.pool, m.get(), Chain::cb, &chain));
  mmapio_async_pool_destroy(chain.pool);
  CHECK(chain.done.load() == 10);
}

TEST_CASE("mmapio_async_pool_destroy: unreaped records are discarded and "
          "their new handles closed",
          "[mmapio_async_pool_destroy][async][linux]") {
  TempDir td;
  const size_t fds = fd_count();
  mmapio_async_pool *pool = nullptr;
  REQUIRE_OK(mmapio_async_pool_create(&pool, 2));
  for (int i = 0; i < 8; i++)
    REQUIRE_OK(mmapio_async_create(pool,
                                   td.path("c" + std::to_string(i)).c_str(),
                                   kPage, nullptr, nullptr));
  mmapio_async_pool_destroy(pool);
  for (int i = 0; i < 8; i++)
    CHECK(path_exists(td.path("c" + std::to_string(i))));
  CHECK(fd_count() == fds); // every created handle was closed
}

TEST_CASE("async: a callback may close the handle it operated on",
          "[async][linux]") {
  TempDir td;
  const size_t fds = fd_count();
  PoolPtr pool = make_pool(1);
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, td.path("f").c_str(), kPage));
  struct Closer {
    mmapio_map *m;
    std::atomic<bool> done{false};
    static void cb(const mmapio_completion *c) {
      auto *cl = static_cast<Closer *>(c->user);
      mmapio_close(cl->m);
      cl->done = true;
    }
  } closer;
  closer.m = m;
  REQUIRE_OK(
      mmapio_async_update(pool.get(), m, 0, "z", 1, Closer::cb, &closer));
  pool.reset(); // waits for the callback
  CHECK(closer.done.load());
  CHECK(fd_count() == fds);
}
