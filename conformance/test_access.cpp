// Reading and writing: view, view_mut, read, update, base, base_mut,
// page_size, align_up. Happy paths at the boundaries and every documented
// error (update's FLUSH_FAILED needs the seam: test_seam*.cpp).
#include "support.hpp"

#include <algorithm>

using namespace mmapio_test;

namespace {

const std::string kContent = pattern_bytes(3 * 4096 + 123, 3);

// A file with kContent and a handle on it in mode.
struct Fixture {
  TempDir d;
  std::string p;
  MapPtr m;
  explicit Fixture(mmapio_mode mode, const std::string &content = kContent)
      : p(d.path("f")) {
    write_bytes(p, content);
    m = open_map(p, mode);
  }
};

const void *const kConstSentinel = &kContent;
void *const kMutSentinel = const_cast<std::string *>(&kContent);

// Ranges that leave a mapping of length n (n > 0).
struct Range {
  uint64_t off;
  size_t len;
  const char *what;
};
std::vector<Range> bad_ranges(uint64_t n) {
  return {
      {0, static_cast<size_t>(n) + 1, "one byte too long from 0"},
      {n - 1, 2, "last byte plus one"},
      {n, 1, "one byte at the end"},
      {n + 1, 0, "empty range past the end"},
      {UINT64_MAX, 2, "off + len wraps (UINT64_MAX, 2)"},
      {UINT64_MAX, 0, "off UINT64_MAX, len 0"},
      {2, SIZE_MAX, "off + len wraps (2, SIZE_MAX)"},
      {UINT64_MAX - 1, 1, "off UINT64_MAX-1, len 1"},
      {uint64_t(1) << 63, SIZE_MAX / 2 + 1, "both huge"},
  };
}

} // namespace

// ------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------

TEST_CASE("mmapio_view: boundaries in every mode", "[mmapio_view][access]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  const uint64_t n = kContent.size();
  const char *base = static_cast<const char *>(mmapio_base(f.m.get()));
  REQUIRE(base != nullptr);
  const void *v = nullptr;
  CHECK_OK(mmapio_view(f.m.get(), 0, static_cast<size_t>(n), &v));
  CHECK(v == base);
  CHECK_OK(mmapio_view(f.m.get(), n, 0, &v));
  CHECK(v == base + n);
  CHECK_OK(mmapio_view(f.m.get(), n - 1, 1, &v));
  CHECK(v == base + n - 1);
  CHECK(*static_cast<const char *>(v) == kContent[n - 1]);
  CHECK_OK(mmapio_view(f.m.get(), 4096, 4096, &v));
  CHECK_BYTES(std::string(static_cast<const char *>(v), 4096),
              kContent.substr(4096, 4096));
}

// The views of a handle that cannot resize (RO, COW) read the extent the
// library fixed at open, in plain fields a compiler may keep in registers
// across a loop of views; a read-write handle's views read the atomic pair
// a resize publishes. Shown by moving the atomic length, which only a
// resize does: it changes what a read-write handle's views allow and
// nothing else's.
TEST_CASE("mmapio_view: a handle that cannot resize answers from the extent "
          "fixed at open",
          "[mmapio_view][access]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  auto *h = reinterpret_cast<mmapio_map_head_ *>(f.m.get());
  const uint64_t n = kContent.size();
  const void *v = nullptr;
  // Whichever pair a view reads holds the file's length and base.
  CHECK_CODE(mmapio_view(f.m.get(), n, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  REQUIRE_OK(mmapio_view(f.m.get(), 0, static_cast<size_t>(n), &v));
  CHECK(v == mmapio_base(f.m.get()));
  h->len_.store(0);
  const int rc = mmapio_view(f.m.get(), n - 1, 1, &v);
  h->len_.store(n);
  if (mode == MMAPIO_MODE_RW) {
    CHECK(rc == MMAPIO_E_OUT_OF_BOUNDS);
  } else {
    CHECK(rc == 0);
    CHECK(v == static_cast<const char *>(mmapio_base(f.m.get())) + n - 1);
  }
}

TEST_CASE("mmapio_read: boundaries and content", "[mmapio_read][access]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  const uint64_t n = kContent.size();
  char c = 0;
  CHECK_OK(mmapio_read(f.m.get(), n - 1, &c, 1));
  CHECK(c == kContent[n - 1]);
  CHECK_OK(mmapio_read(f.m.get(), n, &c, 0));
  CHECK_OK(mmapio_read(f.m.get(), n, nullptr, 0));
  CHECK_OK(mmapio_read(f.m.get(), 0, nullptr, 0));
  std::string buf(1000, '\0');
  CHECK_OK(mmapio_read(f.m.get(), 4000, &buf[0], buf.size()));
  CHECK_BYTES(buf, kContent.substr(4000, 1000));
}

TEST_CASE("mmapio_read: a large range equals the file",
          "[mmapio_read][access]") {
  const std::string big = pattern_bytes((8 << 20) + 17, 5);
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  // RW maps the file past its end, to grow in place.
  if (mode == MMAPIO_MODE_RW && !file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  Fixture f(mode, big);
  std::string buf(big.size(), '\0');
  REQUIRE_OK(mmapio_read(f.m.get(), 0, &buf[0], buf.size()));
  CHECK_BYTES(buf, big);
  std::string part(big.size() - 12345, '\0');
  REQUIRE_OK(mmapio_read(f.m.get(), 12345, &part[0], part.size()));
  CHECK_BYTES(part, big.substr(12345));
}

TEST_CASE("mmapio_update: bytes are read back and reach the file (RW)",
          "[mmapio_update][access]") {
  Fixture f(MMAPIO_MODE_RW);
  const uint64_t n = kContent.size();
  const std::string a = "hello, mapping";
  REQUIRE_OK(mmapio_update(f.m.get(), 5000, a.data(), a.size()));
  CHECK(mmapio_pending(f.m.get()) == a.size());
  REQUIRE_OK(mmapio_update(f.m.get(), n - 1, "Z", 1));
  CHECK(mmapio_pending(f.m.get()) == a.size() + 1);
  REQUIRE_OK(mmapio_update(f.m.get(), n, nullptr, 0));
  REQUIRE_OK(mmapio_update(f.m.get(), 0, nullptr, 0));
  CHECK(mmapio_pending(f.m.get()) == a.size() + 1);

  std::string back(a.size(), '\0');
  REQUIRE_OK(mmapio_read(f.m.get(), 5000, &back[0], back.size()));
  CHECK(back == a);
  char last = 0;
  REQUIRE_OK(mmapio_read(f.m.get(), n - 1, &last, 1));
  CHECK(last == 'Z');

  std::string want = kContent;
  want.replace(5000, a.size(), a);
  want[n - 1] = 'Z';
  // Shared mapping: visible to read(2) and to another handle at once.
  CHECK_BYTES(read_bytes(f.p), want);
  MapPtr other = open_map(f.p, MMAPIO_MODE_RO);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(other.get(), 5000, a.size(), &v));
  CHECK_BYTES(std::string(static_cast<const char *>(v), a.size()), a);
}

TEST_CASE("mmapio_update: COW bytes stay private", "[mmapio_update][access]") {
  Fixture f(MMAPIO_MODE_COW);
  REQUIRE_OK(mmapio_update(f.m.get(), 10, "private", 7));
  std::string back(7, '\0');
  REQUIRE_OK(mmapio_read(f.m.get(), 10, &back[0], 7));
  CHECK(back == "private");
  CHECK_BYTES(read_bytes(f.p), kContent);
}

TEST_CASE("mmapio_view_mut: writes land in the mapping",
          "[mmapio_view_mut][access]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  const uint64_t n = kContent.size();
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(f.m.get(), n - 3, 3, &w));
  CHECK(w == static_cast<const char *>(mmapio_base(f.m.get())) + n - 3);
  std::memcpy(w, "END", 3);
  CHECK_OK(mmapio_view_mut(f.m.get(), n, 0, &w));
  // Not counted as pending (only mmapio_update is).
  CHECK(mmapio_pending(f.m.get()) == 0);
  std::string back(3, '\0');
  REQUIRE_OK(mmapio_read(f.m.get(), n - 3, &back[0], 3));
  CHECK(back == "END");
  const std::string file = read_bytes(f.p);
  if (mode == MMAPIO_MODE_RW)
    CHECK(file.substr(static_cast<size_t>(n) - 3) == "END");
  else
    CHECK_BYTES(file, kContent);
}

TEST_CASE("mmapio_base_mut: writable base on RW and COW",
          "[mmapio_base_mut][access]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  void *b = nullptr;
  REQUIRE_OK(mmapio_base_mut(f.m.get(), &b));
  CHECK(b == mmapio_base(f.m.get()));
  static_cast<char *>(b)[1] = '!';
  char c = 0;
  REQUIRE_OK(mmapio_read(f.m.get(), 1, &c, 1));
  CHECK(c == '!');
  if (mode == MMAPIO_MODE_RW)
    CHECK(read_bytes(f.p)[1] == '!');
  else
    CHECK_BYTES(read_bytes(f.p), kContent);
}

TEST_CASE("mmapio_page_size equals sysconf(_SC_PAGESIZE)",
          "[mmapio_page_size][access]") {
  const long ps = ::sysconf(_SC_PAGESIZE);
  REQUIRE(ps > 0);
  CHECK(mmapio_page_size() == static_cast<size_t>(ps));
  CHECK(mmapio_page_size() == mmapio_page_size());
  CHECK((mmapio_page_size() & (mmapio_page_size() - 1)) == 0);
}

TEST_CASE("mmapio_align_up: rounding", "[mmapio_align_up][access]") {
  struct Row {
    uint64_t value, align, want;
  };
  const uint64_t top = uint64_t(1) << 63;
  const Row rows[] = {
      {0, 1, 0},
      {0, 4096, 0},
      {1, 4096, 4096},
      {4095, 4096, 4096},
      {4096, 4096, 4096},
      {4097, 4096, 8192},
      {12345, 1, 12345},
      {UINT64_MAX, 1, UINT64_MAX},
      {7, 8, 8},
      {9, 8, 16},
      {UINT64_MAX - 4095, 4096, UINT64_MAX - 4095}, // already aligned
      {1, top, top},
      {top, top, top},
      {UINT64_MAX - 1, 2, UINT64_MAX - 1},
  };
  for (const Row &r : rows) {
    INFO("align_up(" << r.value << ", " << r.align << ")");
    uint64_t out = 0xDEAD;
    CHECK_OK(mmapio_align_up(r.value, r.align, &out));
    CHECK(out == r.want);
  }
}

// ------------------------------------------------------------------
// mmapio_view errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_view: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_view][errors][access]") {
  Fixture f(MMAPIO_MODE_RO);
  const void *v = kConstSentinel;
  SECTION("m is NULL") {
    CHECK_CODE(mmapio_view(nullptr, 0, 0, &v), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(v == kConstSentinel);
  }
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_view(f.m.get(), 0, 1, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
}

TEST_CASE("mmapio_view: OUT_OF_BOUNDS when off + len exceeds the length",
          "[mmapio_view][errors][access]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  for (const Range &r : bad_ranges(kContent.size())) {
    INFO(r.what << ": off " << r.off << " len " << r.len);
    const void *v = kConstSentinel;
    CHECK_CODE(mmapio_view(f.m.get(), r.off, r.len, &v),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(v == kConstSentinel);
  }
}

TEST_CASE("mmapio_view: OUT_OF_BOUNDS when the mapping is empty and the "
          "range is not (0, 0)",
          "[mmapio_view][errors][access]") {
  Fixture f(MMAPIO_MODE_RO, "");
  const void *v = kConstSentinel;
  CHECK_CODE(mmapio_view(f.m.get(), 0, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view(f.m.get(), 1, 0, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view(f.m.get(), UINT64_MAX, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK(v == kConstSentinel);
}

// ------------------------------------------------------------------
// mmapio_view_mut errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_view_mut: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_view_mut][errors][access]") {
  Fixture f(MMAPIO_MODE_RW);
  void *w = kMutSentinel;
  SECTION("m is NULL") {
    CHECK_CODE(mmapio_view_mut(nullptr, 0, 0, &w), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(w == kMutSentinel);
  }
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_view_mut(f.m.get(), 0, 1, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
  }
}

TEST_CASE("mmapio_view_mut: INVALID_MODE when the mapping is read-only",
          "[mmapio_view_mut][errors][access]") {
  Fixture f(MMAPIO_MODE_RO);
  void *w = kMutSentinel;
  CHECK_CODE(mmapio_view_mut(f.m.get(), 0, 1, &w), MMAPIO_E_INVALID_MODE);
  CHECK_CODE(mmapio_view_mut(f.m.get(), 0, 0, &w), MMAPIO_E_INVALID_MODE);
  CHECK(w == kMutSentinel);
}

TEST_CASE("mmapio_view_mut: OUT_OF_BOUNDS when off + len exceeds the length",
          "[mmapio_view_mut][errors][access]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  for (const Range &r : bad_ranges(kContent.size())) {
    INFO(r.what << ": off " << r.off << " len " << r.len);
    void *w = kMutSentinel;
    CHECK_CODE(mmapio_view_mut(f.m.get(), r.off, r.len, &w),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(w == kMutSentinel);
  }
}

// ------------------------------------------------------------------
// mmapio_read errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_read: INVALID_ARGUMENT when m is NULL, or buf is NULL with "
          "len > 0",
          "[mmapio_read][errors][access]") {
  Fixture f(MMAPIO_MODE_RO);
  SECTION("m is NULL") {
    char buf[4] = {'a', 'b', 'c', 'd'};
    CHECK_CODE(mmapio_read(nullptr, 0, buf, sizeof buf),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(std::string(buf, 4) == "abcd");
    CHECK_CODE(mmapio_read(nullptr, 0, buf, 0), MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("buf is NULL with len > 0") {
    CHECK_CODE(mmapio_read(f.m.get(), 0, nullptr, 1),
               MMAPIO_E_INVALID_ARGUMENT);
  }
}

TEST_CASE("mmapio_read: OUT_OF_BOUNDS when off + len exceeds the length",
          "[mmapio_read][errors][access]") {
  const mmapio_mode mode =
      GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  const uint64_t n = kContent.size();
  std::vector<char> buf(static_cast<size_t>(n) + 16, '#');
  for (const Range &r : bad_ranges(n)) {
    // Only ranges whose len fits the buffer can be passed a real buffer;
    // the wrapping ones get the buffer too (the check must come first).
    INFO(r.what << ": off " << r.off << " len " << r.len);
    CHECK_CODE(mmapio_read(f.m.get(), r.off, buf.data(), r.len),
               MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(std::count(buf.begin(), buf.end(), '#') ==
          static_cast<long>(buf.size()));
  }
}

// ------------------------------------------------------------------
// mmapio_update errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_update: INVALID_ARGUMENT when m is NULL, or src is NULL "
          "with len > 0",
          "[mmapio_update][errors][access]") {
  Fixture f(MMAPIO_MODE_RW);
  SECTION("m is NULL") {
    CHECK_CODE(mmapio_update(nullptr, 0, "x", 1), MMAPIO_E_INVALID_ARGUMENT);
    CHECK_CODE(mmapio_update(nullptr, 0, nullptr, 0),
               MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("src is NULL with len > 0") {
    CHECK_CODE(mmapio_update(f.m.get(), 0, nullptr, 1),
               MMAPIO_E_INVALID_ARGUMENT);
    CHECK(mmapio_pending(f.m.get()) == 0);
  }
  f.m.reset();
  CHECK_BYTES(read_bytes(f.p), kContent);
}

TEST_CASE("mmapio_update: INVALID_MODE when the mapping is read-only",
          "[mmapio_update][errors][access]") {
  Fixture f(MMAPIO_MODE_RO);
  CHECK_CODE(mmapio_update(f.m.get(), 0, "xyz", 3), MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_pending(f.m.get()) == 0);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(f.m.get(), 0, 3, &v));
  CHECK(std::memcmp(v, kContent.data(), 3) == 0);
  CHECK_BYTES(read_bytes(f.p), kContent);
}

TEST_CASE("mmapio_update: OUT_OF_BOUNDS when off + len exceeds the length",
          "[mmapio_update][errors][access]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  INFO("mode " << mode);
  Fixture f(mode);
  const uint64_t n = kContent.size();
  const std::string src(static_cast<size_t>(n) + 16, '@');
  for (const Range &r : bad_ranges(n)) {
    INFO(r.what << ": off " << r.off << " len " << r.len);
    CHECK_CODE(mmapio_update(f.m.get(), r.off, src.data(), r.len),
               MMAPIO_E_OUT_OF_BOUNDS);
  }
  // Nothing copied, nothing counted.
  CHECK(mmapio_pending(f.m.get()) == 0);
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(f.m.get(), 0, static_cast<size_t>(n), &v));
  CHECK_BYTES(std::string(static_cast<const char *>(v), static_cast<size_t>(n)),
              kContent);
  CHECK_BYTES(read_bytes(f.p), kContent);
}

// ------------------------------------------------------------------
// mmapio_base_mut errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_base_mut: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_base_mut][errors][access]") {
  Fixture f(MMAPIO_MODE_RW);
  void *b = kMutSentinel;
  SECTION("m is NULL") {
    CHECK_CODE(mmapio_base_mut(nullptr, &b), MMAPIO_E_INVALID_ARGUMENT);
    CHECK(b == kMutSentinel);
  }
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_base_mut(f.m.get(), nullptr), MMAPIO_E_INVALID_ARGUMENT);
  }
}

TEST_CASE("mmapio_base_mut: INVALID_MODE when the mapping is read-only",
          "[mmapio_base_mut][errors][access]") {
  Fixture f(MMAPIO_MODE_RO);
  void *b = kMutSentinel;
  CHECK_CODE(mmapio_base_mut(f.m.get(), &b), MMAPIO_E_INVALID_MODE);
  CHECK(b == kMutSentinel);
}

// ------------------------------------------------------------------
// mmapio_align_up errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_align_up: INVALID_ARGUMENT when out is NULL or align is 0 "
          "or not a power of two",
          "[mmapio_align_up][errors][access]") {
  uint64_t out = 77;
  SECTION("out is NULL") {
    CHECK_CODE(mmapio_align_up(1, 4096, nullptr), MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("align is 0") {
    CHECK_CODE(mmapio_align_up(1, 0, &out), MMAPIO_E_INVALID_ARGUMENT);
    CHECK_CODE(mmapio_align_up(0, 0, &out), MMAPIO_E_INVALID_ARGUMENT);
  }
  SECTION("align is not a power of two") {
    for (uint64_t a : {uint64_t(3), uint64_t(6), uint64_t(4095), uint64_t(4097),
                       UINT64_MAX, (uint64_t(1) << 63) + 1}) {
      INFO("align " << a);
      CHECK_CODE(mmapio_align_up(1, a, &out), MMAPIO_E_INVALID_ARGUMENT);
    }
  }
  CHECK(out == 77);
}

TEST_CASE("mmapio_align_up: OUT_OF_BOUNDS when the result does not fit in "
          "uint64_t",
          "[mmapio_align_up][errors][access]") {
  struct Row {
    uint64_t value, align;
  };
  const uint64_t top = uint64_t(1) << 63;
  const Row rows[] = {{UINT64_MAX, 2},
                      {UINT64_MAX, 4096},
                      {UINT64_MAX - 4094, 4096},
                      {top + 1, top},
                      {UINT64_MAX, top}};
  for (const Row &r : rows) {
    INFO("align_up(" << r.value << ", " << r.align << ")");
    uint64_t out = 77;
    CHECK_CODE(mmapio_align_up(r.value, r.align, &out), MMAPIO_E_OUT_OF_BOUNDS);
    CHECK(out == 77);
  }
}
