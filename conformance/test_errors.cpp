// The error model: codes, names, descriptions, the thread-local detail,
// and the version call.
#include "support.hpp"

#include <climits>
#include <set>
#include <thread>

using namespace mmapio_test;

namespace {

struct CodeRow {
  int value;
  const char *name;
  const char *text;
};

// Enumerated from the header's own list, so a new code is covered
// automatically.
#define MMAPIO_T_ROW(name, value, text) {value, "MMAPIO_E_" #name, text},
const CodeRow kCodes[] = {MMAPIO_ERROR_MAP(MMAPIO_T_ROW)};
#undef MMAPIO_T_ROW

// Every run of decimal digits in s.
std::set<std::string> numbers_in(const std::string &s) {
  std::set<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      cur += c;
    } else if (!cur.empty()) {
      out.insert(cur);
      cur.clear();
    }
  }
  if (!cur.empty())
    out.insert(cur);
  return out;
}

} // namespace

TEST_CASE("error codes: values are pinned and distinct", "[errors]") {
  std::set<int> seen;
  for (const CodeRow &r : kCodes) {
    INFO(r.name);
    CHECK(r.value < 0);
    CHECK(seen.insert(r.value).second);
  }
  // The values the header pins today (a code never changes its number).
  CHECK(MMAPIO_OK == 0);
  CHECK(MMAPIO_E_IO == -1);
  CHECK(MMAPIO_E_INVALID_MODE == -2);
  CHECK(MMAPIO_E_OUT_OF_BOUNDS == -3);
  CHECK(MMAPIO_E_FLUSH_FAILED == -4);
  CHECK(MMAPIO_E_RESIZE_FAILED == -5);
  CHECK(MMAPIO_E_ADVICE_FAILED == -6);
  CHECK(MMAPIO_E_LOCK_FAILED == -7);
  CHECK(MMAPIO_E_UNLOCK_FAILED == -8);
  CHECK(MMAPIO_E_MISALIGNED == -9);
  CHECK(MMAPIO_E_WATCH_FAILED == -10);
  CHECK(MMAPIO_E_INVALID_ARGUMENT == -11);
  CHECK(MMAPIO_E_BUSY == -12);
  CHECK(MMAPIO_E_FAULT == -13);
  CHECK(MMAPIO_E_UNSUPPORTED == -14);
  CHECK(MMAPIO_E_NO_MEMORY == -15);
}

TEST_CASE("mmapio_strerror and mmapio_error_name: every code", "[errors]") {
  for (const CodeRow &r : kCodes) {
    INFO(r.name << " = " << r.value);
    const char *text = mmapio_strerror(r.value);
    const char *name = mmapio_error_name(r.value);
    REQUIRE(text != nullptr);
    REQUIRE(name != nullptr);
    CHECK(std::string(name) == r.name);
    CHECK(std::string(text) == r.text);
    CHECK(std::string(text) != "unknown error");
    // Static strings: the same storage on every call.
    CHECK(mmapio_strerror(r.value) == text);
    CHECK(mmapio_error_name(r.value) == name);
  }
}

TEST_CASE("mmapio_strerror and mmapio_error_name: 0 is success", "[errors]") {
  REQUIRE(mmapio_strerror(0) != nullptr);
  REQUIRE(mmapio_error_name(0) != nullptr);
  CHECK(std::string(mmapio_strerror(0)) == "success");
  CHECK(std::string(mmapio_error_name(0)) == "MMAPIO_OK");
}

TEST_CASE("mmapio_strerror and mmapio_error_name: unknown codes", "[errors]") {
  int lowest = 0;
  for (const CodeRow &r : kCodes)
    lowest = r.value < lowest ? r.value : lowest;
  const int unknown[] = {1,     2,       100,    lowest - 1, lowest - 100,
                         -1000, INT_MIN, INT_MAX};
  for (int c : unknown) {
    INFO("code " << c);
    REQUIRE(mmapio_strerror(c) != nullptr);
    REQUIRE(mmapio_error_name(c) != nullptr);
    CHECK(std::string(mmapio_strerror(c)) == "unknown error");
    CHECK(std::string(mmapio_error_name(c)) == "MMAPIO_E_UNKNOWN");
  }
}

TEST_CASE("mmapio_version equals MMAPIO_VERSION_NUMBER", "[errors]") {
  CHECK(mmapio_version() == MMAPIO_VERSION_NUMBER);
  CHECK(MMAPIO_VERSION_NUMBER == MMAPIO_VERSION_MAJOR * 10000 +
                                     MMAPIO_VERSION_MINOR * 100 +
                                     MMAPIO_VERSION_PATCH);
}

TEST_CASE("mmapio_last_error: never NULL, code 0 on a fresh thread",
          "[errors]") {
  REQUIRE(mmapio_last_error() != nullptr);
  int code = -999;
  const mmapio_error *ptr = nullptr;
  std::thread t([&] {
    ptr = mmapio_last_error();
    code = ptr != nullptr ? ptr->code : -998;
  });
  t.join();
  CHECK(ptr != nullptr);
  CHECK(code == 0);
}

TEST_CASE("mmapio_last_error: OS failure carries errno and system call",
          "[errors]") {
  TempDir d;
  mmapio_clear_error();
  mmapio_map *m = nullptr;
  const std::string missing = d.path("missing");
  REQUIRE_CODE(mmapio_open(&m, missing.c_str(), MMAPIO_MODE_RO), MMAPIO_E_IO);
  CHECK(m == nullptr);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_IO);
  CHECK(e->os_errno == ENOENT);
  REQUIRE(e->syscall != nullptr);
  CHECK(std::string(e->syscall) == "open");
  CHECK(std::strlen(e->message) > 0);
  CHECK(std::strlen(e->message) < sizeof e->message);
}

TEST_CASE("mmapio_last_error: OUT_OF_BOUNDS message has offset, length and "
          "size",
          "[errors]") {
  TempDir d;
  MapPtr m = create_map(d.path("f"), 12345);
  const void *v = nullptr;
  REQUIRE_CODE(mmapio_view(m.get(), 12000, 999, &v), MMAPIO_E_OUT_OF_BOUNDS);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_OUT_OF_BOUNDS);
  const std::string msg = e->message;
  INFO("message: " << msg);
  const std::set<std::string> nums = numbers_in(msg);
  CHECK(nums.count("12000") == 1);
  CHECK(nums.count("999") == 1);
  CHECK(nums.count("12345") == 1);

  // The same for the copying read.
  char buf[16];
  REQUIRE_CODE(mmapio_read(m.get(), 12340, buf, 7), MMAPIO_E_OUT_OF_BOUNDS);
  const std::string msg2 = mmapio_last_error()->message;
  INFO("read message: " << msg2);
  const std::set<std::string> nums2 = numbers_in(msg2);
  CHECK(nums2.count("12340") == 1);
  CHECK(nums2.count("7") == 1);
  CHECK(nums2.count("12345") == 1);
}

TEST_CASE("mmapio_last_error: a failure without a system call has no errno",
          "[errors]") {
  TempDir d;
  MapPtr m = create_map(d.path("f"), 4096);
  // First an OS failure, so stale errno/syscall would show.
  mmapio_map *tmp = nullptr;
  REQUIRE_CODE(mmapio_open(&tmp, d.path("missing").c_str(), MMAPIO_MODE_RO),
               MMAPIO_E_IO);
  REQUIRE(mmapio_last_error()->os_errno == ENOENT);
  const void *v = nullptr;
  REQUIRE_CODE(mmapio_view(m.get(), 4096, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(e->os_errno == 0);
  CHECK(e->syscall == nullptr);
}

TEST_CASE("mmapio_last_error: a success does not clear it", "[errors]") {
  TempDir d;
  MapPtr m = create_map(d.path("f"), 4096);
  const void *v = nullptr;
  REQUIRE_CODE(mmapio_view(m.get(), 0, 4097, &v), MMAPIO_E_OUT_OF_BOUNDS);
  const std::string before = mmapio_last_error()->message;
  REQUIRE_OK(mmapio_view(m.get(), 0, 4096, &v));
  char buf[8];
  REQUIRE_OK(mmapio_read(m.get(), 0, buf, sizeof buf));
  MapPtr m2 = create_map(d.path("g"), 4096);
  const mmapio_error *e = mmapio_last_error();
  CHECK(e->code == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(std::string(e->message) == before);
}

TEST_CASE("mmapio_last_error: an open that had to give up its room to grow "
          "does not change it",
          "[errors][mmapio_create][resize]") {
  // A read-write handle reserves address space to grow into (1 GiB at
  // least on 64-bit); where that cannot be had, it maps only the file and
  // succeeds. The failed first try must not show in the error detail.
  if (!mmapio_test_default_headroom())
    MMAPIO_SKIP("a 32-bit build reserves no room to grow");
  MMAPIO_REQUIRE_ALLOCATION_FAILURE();
  TempDir d;
  const std::string p = d.path("f");
  const ChildOutcome r = run_in_child([&p](int &extra) {
    if (!limit_address_space(size_t{64} << 20))
      return 100;
    const void *v = nullptr;
    mmapio_map *m = nullptr;
    if (mmapio_create(&m, p.c_str(), 4096) != 0 ||
        mmapio_view(m, 0, 4097, &v) != MMAPIO_E_OUT_OF_BOUNDS)
      return 101;
    mmapio_map *g = nullptr;
    const int rc = mmapio_create(&g, (p + "g").c_str(), 4096);
    extra = mmapio_last_error()->code == MMAPIO_E_OUT_OF_BOUNDS ? 1 : 0;
    mmapio_close(g);
    mmapio_close(m);
    return rc;
  });
  INFO(r.describe());
  REQUIRE(r.reported);
  CHECK(r.rc == MMAPIO_OK);
  CHECK(r.extra == 1);
  CHECK(std::string(r.message).find("exceeds mapping size") !=
        std::string::npos);
}

TEST_CASE("mmapio_last_error: thread-local", "[errors]") {
  TempDir d;
  MapPtr m = create_map(d.path("f"), 4096);
  const void *v = nullptr;
  REQUIRE_CODE(mmapio_view(m.get(), 4000, 200, &v), MMAPIO_E_OUT_OF_BOUNDS);
  const mmapio_error *mine = mmapio_last_error();
  const std::string msg = mine->message;

  int other_code = 0, other_errno = 0;
  const mmapio_error *other_ptr = nullptr;
  std::thread t([&] {
    mmapio_map *x = nullptr;
    int rc = mmapio_open(&x, d.path("missing").c_str(), MMAPIO_MODE_RO);
    other_ptr = mmapio_last_error();
    other_code = rc == MMAPIO_E_IO ? other_ptr->code : rc;
    other_errno = other_ptr->os_errno;
    if (x != nullptr)
      mmapio_close(x);
  });
  t.join();

  CHECK(other_code == MMAPIO_E_IO);
  CHECK(other_errno == ENOENT);
  CHECK(other_ptr != mine);
  const mmapio_error *after = mmapio_last_error();
  CHECK(after == mine);
  CHECK(after->code == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(after->os_errno == 0);
  CHECK(std::string(after->message) == msg);
}

TEST_CASE("mmapio_clear_error resets the code to 0", "[errors]") {
  mmapio_map *m = nullptr;
  REQUIRE_CODE(mmapio_open(&m, nullptr, MMAPIO_MODE_RO),
               MMAPIO_E_INVALID_ARGUMENT);
  REQUIRE(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
  mmapio_clear_error();
  CHECK(mmapio_last_error()->code == 0);
  mmapio_clear_error(); // idempotent
  CHECK(mmapio_last_error()->code == 0);
}

TEST_CASE("mmapio_last_error: every failing call sets the code it returns",
          "[errors]") {
  TempDir d;
  MapPtr m = create_map(d.path("f"), 4096);
  MapPtr ro;
  {
    mmapio_map *x = nullptr;
    REQUIRE_OK(mmapio_open(&x, d.path("f").c_str(), MMAPIO_MODE_RO));
    ro.reset(x);
  }
  const void *cv = nullptr;
  void *mv = nullptr;
  uint64_t a = 0;
  char b[4] = {0};

  mmapio_clear_error();
  CHECK(mmapio_view(m.get(), 1, 4096, &cv) == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_last_error()->code == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_view_mut(ro.get(), 0, 1, &mv) == MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_align_up(1, 3, &a) == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_align_up(UINT64_MAX, 2, &a) == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_last_error()->code == MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(mmapio_update(ro.get(), 0, b, 1) == MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_options_init(nullptr) == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_base_mut(ro.get(), &mv) == MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_MODE);
  CHECK(std::strlen(mmapio_last_error()->message) > 0);
}
