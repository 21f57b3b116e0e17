// Resize and address stability: growth in place keeps the base and every
// view; growth past the reservation may move the base (reported) while
// old pointers keep seeing the file; shrinking past a pin is BUSY; stale
// pointers past a shrink read zeros and never fault; readers racing a
// resizing thread see only 0 or OUT_OF_BOUNDS.
// Failing system calls during resize are in test_seam.cpp.
#include "support.hpp"
#include "support_proc.hpp"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

// A RW handle on a new file of `size` bytes with opts.reserve = reserve.
MapPtr create_reserved(const std::string &path, uint64_t size,
                       uint64_t reserve) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  o.reserve = reserve;
  mmapio_map *m = nullptr;
  const int rc = mmapio_open_ex(&m, path.c_str(), &o, MMAPIO_CREATE);
  INFO("mmapio_open_ex(CREATE, size " << size << ", reserve " << reserve
                                      << ") returned " << mmapio_describe(rc));
  REQUIRE(rc == 0);
  return MapPtr(m);
}

unsigned char *wbase(mmapio_map *m) {
  void *b = nullptr;
  REQUIRE_OK(mmapio_base_mut(m, &b));
  return static_cast<unsigned char *>(b);
}

void fill(mmapio_map *m, uint64_t off, const std::string &bytes) {
  REQUIRE_OK(mmapio_update(m, off, bytes.data(), bytes.size()));
}

std::string at(const void *p, size_t len) {
  return std::string(static_cast<const char *>(p), len);
}

std::string zeros(size_t n) { return std::string(n, '\0'); }

// Why a default reservation's protections cannot be checked here, or "".
// On 32-bit the default reservation is exactly the size (mmapio.h,
// mmapio_open_ex): what lies past the end belongs to someone else (on
// armhf under qemu, a library's text).
std::string reservation_blocker() {
  if (read_maps().empty())
    return "no /proc/self/maps to read the protections from";
  if (!mmapio_test_default_headroom())
    return "a 32-bit build reserves no address space past the end";
  return "";
}

// The mapping that holds address a, or nullptr.
const Vma *mapping_at(const std::vector<Vma> &maps, const void *a) {
  return vma_containing(maps, reinterpret_cast<uintptr_t>(a));
}

} // namespace

// ------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------

// A reader that walks every readable mapping (valgrind's leak check at
// exit, a debugger, a core dump) takes a SIGBUS on each page of a file
// mapping past the file's end: over a reservation of a gibibyte that made
// a process under valgrind that exits holding a handle run for hours.
// Beyond the huge page that holds the end, nothing is readable.
TEST_CASE("mmapio_resize: the reservation past the file's end cannot be "
          "read, before and after growing and shrinking",
          "[mmapio_resize][mmapio_create][mmapio_anon][resize][linux]") {
  const std::string blocker = reservation_blocker();
  if (!blocker.empty())
    MMAPIO_SKIP(blocker);
  TempDir td;
  const bool anonymous = GENERATE(false, true);
  // Whether the handle maps its file into the reservation a closed one
  // left (mmapio_close), or reserves its own.
  const bool spare = GENERATE(false, true);
  CAPTURE(anonymous, spare);
  mmapio_trim();
  if (spare)
    leave_spare();
  mmapio_map *raw = nullptr;
  if (anonymous)
    REQUIRE_OK(mmapio_anon(&raw, kPage));
  else
    REQUIRE_OK(mmapio_create(&raw, td.path("f").c_str(), kPage));
  MapPtr m(raw);
  const uint64_t huge = 2 * 1024 * 1024;
  // The protection of the page at off: "" where nothing is mapped.
  auto perms_at = [&](uint64_t off) {
    const std::vector<Vma> maps = read_maps();
    const Vma *v = vma_containing(
        maps, reinterpret_cast<uintptr_t>(mmapio_base(m.get())) + off);
    return v != nullptr ? v->perms.substr(0, 3) : std::string();
  };
  CHECK(perms_at(0) == "rw-");
  const std::string past = perms_at(huge);
  if (past.empty()) {
    MMAPIO_SKIP("the reservation ends within the first huge page");
  }
  CHECK(past == "---");
  REQUIRE_OK(mmapio_resize(m.get(), huge + kPage, nullptr));
  CHECK(perms_at(huge) == "rw-");
  CHECK(perms_at(2 * huge) == "---");
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  CHECK(perms_at(2 * huge) == "---");
  REQUIRE_OK(mmapio_resize(m.get(), 3 * huge, nullptr));
  CHECK(perms_at(2 * huge + kPage) == "rw-");
  CHECK(perms_at(3 * huge) != "rw-");
  // The bytes are the file's all the way (growth maps it back).
  std::vector<unsigned char> b(kPage, 0x5A);
  REQUIRE_OK(mmapio_update(m.get(), 3 * huge - kPage, b.data(), b.size()));
  CHECK(read_map(m.get(), 3 * huge - kPage, kPage) ==
        std::string(b.begin(), b.end()));
}

// Splitting a new mapping into the file's part and the reserved part
// costs as much as mapping it, so a closed handle's reservation is kept
// for the next one: closed, it is PROT_NONE and maps nothing; the next
// read-write handle maps its file there, grows and shrinks there like any
// other, and mmapio_trim gives the address space back.
TEST_CASE("mmapio_close: a read-write handle's reservation is kept, "
          "PROT_NONE, for the next one, and mmapio_trim gives it back",
          "[mmapio_close][mmapio_trim][mmapio_create][resize][linux]") {
  const std::string blocker = reservation_blocker();
  if (!blocker.empty())
    MMAPIO_SKIP(blocker);
  TempDir td;
  mmapio_trim();
  const std::string a = pattern_bytes(static_cast<size_t>(kPage), 1);
  unsigned char *first = nullptr;
  {
    MapPtr m = create_map(td.path("a"), kPage);
    fill(m.get(), 0, a);
    first = wbase(m.get());
  }
  // All of it PROT_NONE, mapping no file.
  const uint64_t gib = uint64_t{1} << 30;
  const uint64_t huge = 2 * 1024 * 1024;
  {
    const std::vector<Vma> maps = read_maps();
    uintptr_t next = reinterpret_cast<uintptr_t>(first);
    const uintptr_t end = next + gib;
    while (next < end) {
      const Vma *v = vma_containing(maps, next);
      REQUIRE(v != nullptr);
      INFO(std::hex << v->start << "-" << v->end << " " << v->perms << " "
                    << v->path << " (reservation at "
                    << static_cast<void *>(first) << ")");
      CHECK(v->perms.substr(0, 3) == "---");
      // No file; the kernel may still name it ("[heap]" under valgrind,
      // whose emulated break lies in address space the kernel counts).
      CHECK((v->path.empty() || v->path[0] == '['));
      next = v->end;
    }
  }
  CHECK(read_bytes(td.path("a")) == a);

  // The next one maps its file there, with room to grow in place.
  MapPtr m = create_map(td.path("b"), 3 * kPage);
  CHECK(wbase(m.get()) == first);
  CHECK(read_map(m.get(), 0, 3 * kPage) == zeros(3 * kPage));
  const std::string b = pattern_bytes(static_cast<size_t>(kPage), 2);
  fill(m.get(), 2 * kPage, b);
  bool moved = true;
  REQUIRE_OK(mmapio_resize(m.get(), huge + 2 * kPage, &moved));
  CHECK_FALSE(moved);
  fill(m.get(), huge + kPage, b);
  {
    const std::vector<Vma> maps = read_maps();
    const Vma *v = mapping_at(maps, first + huge + kPage);
    REQUIRE(v != nullptr);
    CHECK(v->perms.substr(0, 3) == "rw-");
    const Vma *past = mapping_at(maps, first + 2 * huge);
    REQUIRE(past != nullptr);
    CHECK(past->perms.substr(0, 3) == "---");
  }
  REQUIRE_OK(mmapio_resize(m.get(), 3 * kPage, &moved));
  CHECK_FALSE(moved);
  REQUIRE_OK(mmapio_resize(m.get(), 3 * huge, &moved));
  CHECK_FALSE(moved);
  CHECK(wbase(m.get()) == first);
  REQUIRE_OK(mmapio_flush(m.get()));
  const std::string on_disk = read_bytes(td.path("b"));
  REQUIRE(on_disk.size() == 3 * huge);
  CHECK(on_disk.substr(2 * kPage, kPage) == b);
  CHECK(on_disk.substr(huge + kPage, kPage) == zeros(kPage)); // cut, regrown
  CHECK(read_map(m.get(), 2 * kPage, kPage) == b);
  m.reset();

  // Given back: nothing is mapped there any more.
  mmapio_trim();
  CHECK(mapping_at(read_maps(), first) == nullptr);
  CHECK(mapping_at(read_maps(), first + huge) == nullptr);
  mmapio_trim(); // nothing kept: a no-op
}

// The spare reservation is taken and given back by threads at once: each
// handle sees its own file only.
TEST_CASE("mmapio_close: threads that create and close at once each map "
          "their own file",
          "[mmapio_close][mmapio_create][resize][threads]") {
  TempDir td;
  std::atomic<int> wrong{0};
  auto work = [&](int t) {
    for (int i = 0; i < 200; i++) {
      const std::string p = td.path("t" + std::to_string(t));
      mmapio_map *m = nullptr;
      if (mmapio_create(&m, p.c_str(), 2 * kPage) != 0) {
        wrong++;
        return;
      }
      const std::string mine =
          pattern_bytes(static_cast<size_t>(kPage), 10 * t + i % 7);
      // (No Catch2 assertions off the main thread: they are not
      // thread-safe.)
      std::string got(static_cast<size_t>(2 * kPage), 'x');
      if (mmapio_update(m, kPage, mine.data(), mine.size()) != 0 ||
          mmapio_read(m, 0, got.data(), got.size()) != 0 ||
          got != zeros(kPage) + mine)
        wrong++;
      mmapio_close(m);
    }
  };
  std::thread a(work, 1), b(work, 2);
  work(3);
  a.join();
  b.join();
  CHECK(wrong.load() == 0);
  mmapio_trim();
}

TEST_CASE("mmapio_resize: INVALID_ARGUMENT when m is NULL",
          "[mmapio_resize][errors][resize]") {
  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(nullptr, kPage, &moved),
               MMAPIO_E_INVALID_ARGUMENT);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_ARGUMENT);
  CHECK(moved == true); // output untouched on failure
  REQUIRE_CODE(mmapio_resize(nullptr, kPage, nullptr),
               MMAPIO_E_INVALID_ARGUMENT);
}

TEST_CASE("mmapio_resize: INVALID_MODE when the mapping is RO or COW",
          "[mmapio_resize][errors][resize]") {
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_COW);
  const uint64_t to =
      GENERATE_COPY(as<uint64_t>{}, kPage, 4 * kPage, 2 * kPage + 1);
  CAPTURE(static_cast<int>(mode), to);
  TempDir td;
  const std::string p = td.path("f");
  const std::string content = pattern_bytes(static_cast<size_t>(2 * kPage));
  write_bytes(p, content);
  MapPtr m = open_map(p, mode);
  const void *base = mmapio_base(m.get());

  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(m.get(), to, &moved), MMAPIO_E_INVALID_MODE);
  CHECK(mmapio_last_error()->code == MMAPIO_E_INVALID_MODE);
  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == 2 * kPage);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(p) == 2 * kPage);
  CHECK(read_map(m.get(), 0, content.size()) == content);
}

TEST_CASE("mmapio_resize: RESIZE_FAILED when new_size is 0",
          "[mmapio_resize][errors][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 2 * kPage);
  const std::string content = pattern_bytes(static_cast<size_t>(2 * kPage));
  fill(m.get(), 0, content);
  const void *base = mmapio_base(m.get());

  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(m.get(), 0, &moved), MMAPIO_E_RESIZE_FAILED);
  CHECK(mmapio_last_error()->code == MMAPIO_E_RESIZE_FAILED);
  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == 2 * kPage);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(p) == 2 * kPage);
  CHECK(read_map(m.get(), 0, content.size()) == content);
}

TEST_CASE("mmapio_resize: RESIZE_FAILED when new_size is above "
          "mmapio_max_size()",
          "[mmapio_resize][errors][resize]") {
  const uint64_t to =
      GENERATE(mmapio_max_size() + 1, mmapio_max_size() + kPage, UINT64_MAX);
  CAPTURE(to, mmapio_max_size());
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 2 * kPage);
  const std::string content = pattern_bytes(static_cast<size_t>(2 * kPage));
  fill(m.get(), 0, content);
  const void *base = mmapio_base(m.get());

  bool moved = true;
  mmapio_clear_error();
  REQUIRE_CODE(mmapio_resize(m.get(), to, &moved), MMAPIO_E_RESIZE_FAILED);
  CHECK(mmapio_last_error()->code == MMAPIO_E_RESIZE_FAILED);
  CHECK(moved == true);
  CHECK(mmapio_len(m.get()) == 2 * kPage);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(file_size(p) == 2 * kPage);
  CHECK(read_map(m.get(), 0, content.size()) == content);
}

TEST_CASE("mmapio_resize: BUSY when shrinking would cut a pinned range",
          "[mmapio_resize][mmapio_pin_range][errors][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  const std::string content = pattern_bytes(static_cast<size_t>(4 * kPage));
  fill(m.get(), 0, content);
  const void *base = mmapio_base(m.get());

  struct Case {
    uint64_t off, len;
    const char *what;
  };
  const Case c = GENERATE_COPY(values<Case>({
      {0, 3 * kPage, "pin [0, 3 pages)"},
      {2 * kPage, 1, "pin one byte at 2 pages"},
      {kPage + 10, 2 * kPage - 10, "pin ending at 3 pages"},
  }));
  CAPTURE(c.what);
  const uint64_t end = c.off + c.len;

  mmapio_pin pin;
  REQUIRE_OK(mmapio_pin_range(&pin, m.get(), c.off, c.len));

  const uint64_t cuts[] = {end - 1, kPage, 1};
  for (uint64_t to : cuts) {
    CAPTURE(to);
    bool moved = true;
    mmapio_clear_error();
    CHECK_CODE(mmapio_resize(m.get(), to, &moved), MMAPIO_E_BUSY);
    CHECK(mmapio_last_error()->code == MMAPIO_E_BUSY);
    CHECK(moved == true);
    CHECK(mmapio_len(m.get()) == 4 * kPage);
    CHECK(mmapio_base(m.get()) == base);
    CHECK(file_size(p) == 4 * kPage);
  }
  CHECK(read_map(m.get(), 0, content.size()) == content);

  // Shrinking to exactly the pin's end cuts nothing pinned.
  CHECK_OK(mmapio_resize(m.get(), end, nullptr));
  CHECK(mmapio_len(m.get()) == end);
  // Growing is never blocked by a pin.
  CHECK_OK(mmapio_resize(m.get(), 5 * kPage, nullptr));

  mmapio_unpin(&pin);
  CHECK_OK(mmapio_resize(m.get(), 1, nullptr));
  CHECK(mmapio_len(m.get()) == 1);
}

// ------------------------------------------------------------------
// Growth
// ------------------------------------------------------------------

TEST_CASE("mmapio_resize: growth keeps the base, earlier views and their "
          "bytes, and new bytes read zero",
          "[mmapio_resize][resize]") {
  const uint64_t to =
      GENERATE_COPY(3 * kPage, 10 * kPage + 1, uint64_t{256} << 20);
  CAPTURE(to);
  // Growth in place reads the file through the mapping past its old end.
  if (!file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t from = 2 * kPage;
  // The default reservation has room for `to` on 64-bit; a 32-bit build
  // reserves exactly the size unless asked.
  MapPtr m = create_reserved(p, from, mmapio_test_default_headroom() ? 0 : to);
  const std::string content = pattern_bytes(static_cast<size_t>(from));
  fill(m.get(), 0, content);

  const void *base = mmapio_base(m.get());
  const void *view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, static_cast<size_t>(from), &view));
  const void *mid = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), kPage + 5, 100, &mid));

  bool moved = true;
  REQUIRE_OK(mmapio_resize(m.get(), to, &moved));
  CHECK(moved == false);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(mmapio_len(m.get()) == to);
  CHECK(file_size(p) == to);

  // Earlier views are still valid and see the same bytes.
  CHECK(at(view, static_cast<size_t>(from)) == content);
  CHECK(at(mid, 100) == content.substr(static_cast<size_t>(kPage + 5), 100));

  // The new bytes read zero: the first two new pages and the last one.
  const size_t head =
      static_cast<size_t>(to - from < 2 * kPage ? to - from : 2 * kPage);
  CHECK(read_map(m.get(), from, head) == zeros(head));
  const size_t tail =
      static_cast<size_t>(to - from < kPage ? to - from : kPage);
  CHECK(read_map(m.get(), to - tail, tail) == zeros(tail));

  // The new bytes are writable and reach the file.
  fill(m.get(), to - 3, "end");
  CHECK(pread_file(p, to - 3, 3) == "end");
  // Writes through an old view land in the same file.
  void *w = nullptr;
  REQUIRE_OK(mmapio_view_mut(m.get(), 0, 4, &w));
  std::memcpy(w, "head", 4);
  CHECK(at(view, 4) == "head");
}

TEST_CASE("mmapio_resize: moved may be NULL", "[mmapio_resize][resize]") {
  TempDir td;
  MapPtr m = create_map(td.path("f"), kPage);
  REQUIRE_OK(mmapio_resize(m.get(), 3 * kPage, nullptr));
  CHECK(mmapio_len(m.get()) == 3 * kPage);
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  CHECK(mmapio_len(m.get()) == kPage);
}

TEST_CASE("mmapio_resize: resizing to the current length changes nothing",
          "[mmapio_resize][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 2 * kPage + 3);
  fill(m.get(), 0, "abc");
  const void *base = mmapio_base(m.get());
  bool moved = true;
  REQUIRE_OK(mmapio_resize(m.get(), 2 * kPage + 3, &moved));
  CHECK(moved == false);
  CHECK(mmapio_base(m.get()) == base);
  CHECK(mmapio_len(m.get()) == 2 * kPage + 3);
  CHECK(file_size(p) == 2 * kPage + 3);
  CHECK(read_map(m.get(), 0, 3) == "abc");
}

TEST_CASE("mmapio_resize: growth past a small reservation reports whether "
          "the base moved, and old pointers see the same file",
          "[mmapio_resize][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_reserved(p, kPage, kPage);
  const std::string content = pattern_bytes(static_cast<size_t>(kPage), 9);
  fill(m.get(), 0, content);
  unsigned char *old = wbase(m.get());

  bool moved = false;
  const uint64_t to = 64 * kPage;
  REQUIRE_OK(mmapio_resize(m.get(), to, &moved));
  unsigned char *now = wbase(m.get());
  INFO("moved " << moved << ", old base " << static_cast<void *>(old)
                << ", new base " << static_cast<void *>(now));
  CHECK(moved == (now != old));
  CHECK(static_cast<const void *>(now) == mmapio_base(m.get()));
  CHECK(mmapio_len(m.get()) == to);
  CHECK(file_size(p) == to);

  CHECK(at(old, static_cast<size_t>(kPage)) == content);
  CHECK(at(now, static_cast<size_t>(kPage)) == content);
  CHECK(read_map(m.get(), kPage, static_cast<size_t>(kPage)) ==
        zeros(static_cast<size_t>(kPage)));
  // Both ways: a write through either pointer is seen through the other.
  now[10] = 0xA5;
  CHECK(old[10] == 0xA5);
  old[20] = 0x5A;
  CHECK(now[20] == 0x5A);
}

TEST_CASE("mmapio_resize: growth that cannot extend in place moves the base "
          "and old pointers stay valid",
          "[mmapio_resize][resize][linux]") {
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t from = 4 * kPage;
  MapPtr m = create_reserved(p, from, from);
  const std::string content = pattern_bytes(static_cast<size_t>(from), 10);
  fill(m.get(), 0, content);
  unsigned char *old = wbase(m.get());
  const void *old_view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), kPage, 10, &old_view));

  GrowthBlocker blocker(old);
  if (!blocker.ok())
    MMAPIO_SKIP("could not occupy the address space after the reservation");
  const uint64_t reserved = static_cast<uint64_t>(
      blocker.reservation_end() - reinterpret_cast<uintptr_t>(old));
  const uint64_t to = reserved + 16 * kPage;
  CAPTURE(reserved, to);

  bool moved = false;
  REQUIRE_OK(mmapio_resize(m.get(), to, &moved));
  unsigned char *now = wbase(m.get());
  CHECK(moved == true);
  CHECK(now != old);
  CHECK(mmapio_len(m.get()) == to);
  CHECK(file_size(p) == to);
  CHECK(at(old, static_cast<size_t>(from)) == content);
  CHECK(at(now, static_cast<size_t>(from)) == content);
  CHECK(at(old_view, 10) == content.substr(static_cast<size_t>(kPage), 10));
  CHECK(read_map(m.get(), to - kPage, static_cast<size_t>(kPage)) ==
        zeros(static_cast<size_t>(kPage)));

  now[1] = 0x11;
  CHECK(old[1] == 0x11);
  old[2] = 0x22;
  CHECK(now[2] == 0x22);
  CHECK(pread_file(p, 1, 2) == "\x11\x22");

  // A later growth within the new reservation does not move again.
  bool moved2 = true;
  REQUIRE_OK(mmapio_resize(m.get(), to + kPage, &moved2));
  CHECK(moved2 == false);
  CHECK(wbase(m.get()) == now);

  // Shrinking below the old length: the old pointer's cut bytes read zero
  // too (it never faults), its kept bytes still see the file.
  REQUIRE_OK(mmapio_resize(m.get(), kPage, nullptr));
  CHECK(at(old + kPage, static_cast<size_t>(from - kPage)) ==
        zeros(static_cast<size_t>(from - kPage)));
  CHECK(at(old + 3, static_cast<size_t>(kPage - 3)) ==
        content.substr(3, static_cast<size_t>(kPage - 3)));
}

// ------------------------------------------------------------------
// Shrinking
// ------------------------------------------------------------------

TEST_CASE("mmapio_resize: after a shrink, accesses beyond the new length are "
          "OUT_OF_BOUNDS",
          "[mmapio_resize][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  MapPtr m = create_map(p, 4 * kPage);
  const std::string content = pattern_bytes(static_cast<size_t>(4 * kPage));
  fill(m.get(), 0, content);
  const uint64_t to =
      GENERATE_COPY(as<uint64_t>{}, kPage, kPage + 100, 3 * kPage - 1);
  CAPTURE(to);
  REQUIRE_OK(mmapio_resize(m.get(), to, nullptr));
  CHECK(mmapio_len(m.get()) == to);
  CHECK(file_size(p) == to);

  char buf[16] = {0};
  const void *v = nullptr;
  void *w = nullptr;
  CHECK_CODE(mmapio_read(m.get(), to, buf, 1), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_read(m.get(), to - 1, buf, 2), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_read(m.get(), 0, buf, static_cast<size_t>(to) + 1),
             MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view(m.get(), to, 1, &v), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_view_mut(m.get(), to - 1, 2, &w), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_update(m.get(), to, "x", 1), MMAPIO_E_OUT_OF_BOUNDS);
  CHECK_CODE(mmapio_flush_range(m.get(), to, 1), MMAPIO_E_OUT_OF_BOUNDS);
  // Up to the new length everything still works.
  CHECK_OK(mmapio_view(m.get(), to, 0, &v));
  CHECK(read_map(m.get(), 0, static_cast<size_t>(to)) ==
        content.substr(0, static_cast<size_t>(to)));
}

TEST_CASE("mmapio_resize: a stale pointer beyond the new length reads zeros "
          "and does not fault",
          "[mmapio_resize][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t from = 4 * kPage;
  MapPtr m = create_map(p, from);
  const std::string content = pattern_bytes(static_cast<size_t>(from), 11);
  fill(m.get(), 0, content);
  const void *view = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), 0, static_cast<size_t>(from), &view));
  const unsigned char *stale = static_cast<const unsigned char *>(view);

  const uint64_t to = GENERATE_COPY(as<uint64_t>{}, kPage, kPage + 100);
  CAPTURE(to);
  // The tail of the last kept page lies past the file's new end.
  if (to % kPage != 0 && !file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  REQUIRE_OK(mmapio_resize(m.get(), to, nullptr));

  CHECK(at(stale, static_cast<size_t>(to)) ==
        content.substr(0, static_cast<size_t>(to)));
  CHECK(at(stale + to, static_cast<size_t>(from - to)) ==
        zeros(static_cast<size_t>(from - to)));
}

TEST_CASE("mmapio_resize: shrink then grow, the regained bytes read zero",
          "[mmapio_resize][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t from = 3 * kPage;
  MapPtr m = create_map(p, from);
  const std::string content = pattern_bytes(static_cast<size_t>(from), 12);
  fill(m.get(), 0, content);
  const uint64_t to = GENERATE_COPY(kPage + 123, kPage, kPage - 1, uint64_t{1});
  CAPTURE(to);

  REQUIRE_OK(mmapio_resize(m.get(), to, nullptr));
  REQUIRE_OK(mmapio_resize(m.get(), from, nullptr));
  CHECK(mmapio_len(m.get()) == from);
  CHECK(file_size(p) == from);
  CHECK(read_map(m.get(), 0, static_cast<size_t>(to)) ==
        content.substr(0, static_cast<size_t>(to)));
  CHECK(read_map(m.get(), to, static_cast<size_t>(from - to)) ==
        zeros(static_cast<size_t>(from - to)));
  CHECK(pread_file(p, to, static_cast<size_t>(from - to)) ==
        zeros(static_cast<size_t>(from - to)));
}

TEST_CASE("mmapio_resize: writes through a stale pointer beyond the new "
          "length are discarded",
          "[mmapio_resize][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t from = 3 * kPage;
  MapPtr m = create_map(p, from);
  const std::string content = pattern_bytes(static_cast<size_t>(from), 13);
  fill(m.get(), 0, content);
  unsigned char *stale = wbase(m.get());
  // Inside the last kept page (partial) and in wholly cut pages.
  const uint64_t to = GENERATE_COPY(kPage + 123, kPage);
  CAPTURE(to);
  // The tail of the last kept page lies past the file's new end.
  if (to % kPage != 0 && !file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());

  REQUIRE_OK(mmapio_resize(m.get(), to, nullptr));
  std::memset(stale + to, 0xEE, static_cast<size_t>(from - to));
  REQUIRE_OK(mmapio_resize(m.get(), from, nullptr));

  CHECK(read_map(m.get(), 0, static_cast<size_t>(to)) ==
        content.substr(0, static_cast<size_t>(to)));
  CHECK(read_map(m.get(), to, static_cast<size_t>(from - to)) ==
        zeros(static_cast<size_t>(from - to)));
  REQUIRE_OK(mmapio_flush(m.get()));
  CHECK(pread_file(p, to, static_cast<size_t>(from - to)) ==
        zeros(static_cast<size_t>(from - to)));
}

// ------------------------------------------------------------------
// Concurrency
// ------------------------------------------------------------------

TEST_CASE("mmapio_resize: readers racing a resizing thread get 0 or "
          "OUT_OF_BOUNDS and never fault",
          "[mmapio_resize][mmapio_read][mmapio_view][resize]") {
  TempDir td;
  const std::string p = td.path("f");
  const uint64_t max_len = 64 * kPage;
  MapPtr m = create_map(p, 4 * kPage);
  mmapio_map *map = m.get();

  std::atomic<bool> done{false};
  std::atomic<int> bad_rc{0};
  std::atomic<long> ok_calls{0};
  std::atomic<long> oob_calls{0};
  std::atomic<int> resize_rc{0};
  std::atomic<unsigned> sink{0};

  auto reader = [&](bool use_view) {
    std::vector<unsigned char> buf(static_cast<size_t>(max_len));
    unsigned local = 0;
    long ok = 0, oob = 0;
    do {
      const uint64_t l = mmapio_len(map);
      int rc;
      if (use_view) {
        const void *v = nullptr;
        rc = mmapio_view(map, 0, static_cast<size_t>(l), &v);
        // The first page is never cut (the length stays >= 1 page).
        if (rc == 0 && l > 0)
          local += *static_cast<const volatile unsigned char *>(v);
      } else {
        rc = mmapio_read(map, 0, buf.data(), static_cast<size_t>(l));
      }
      if (rc == 0)
        ok++;
      else if (rc == MMAPIO_E_OUT_OF_BOUNDS)
        oob++;
      else
        bad_rc.store(rc);
    } while (!done.load(std::memory_order_acquire));
    ok_calls += ok;
    oob_calls += oob;
    sink += local;
  };

  std::thread r1(reader, false);
  std::thread r2(reader, true);
  std::thread writer([&] {
    for (unsigned i = 0; i < 300; i++) {
      const uint64_t pages = 1 + (i * 37u) % 64u;
      uint64_t size = pages * kPage - (i % 3 == 0 ? 77 : 0);
      if (size > max_len)
        size = max_len;
      const int rc = mmapio_resize(map, size, nullptr);
      if (rc != 0) {
        resize_rc.store(rc);
        break;
      }
    }
    done.store(true, std::memory_order_release);
  });
  writer.join();
  r1.join();
  r2.join();

  INFO("reads/views that returned 0: " << ok_calls.load() << ", OUT_OF_BOUNDS: "
                                       << oob_calls.load());
  CHECK(resize_rc.load() == 0);
  CHECK(bad_rc.load() == 0);
  CHECK(ok_calls.load() > 0);
  CHECK(file_size(p) == mmapio_len(map));
}

TEST_CASE("mmapio_resize: views racing growth that moves the base cover "
          "every byte of the length they were checked against",
          "[mmapio_resize][mmapio_view][mmapio_view_atomic_u32_array]"
          "[resize][linux]") {
  // The inline views read the length, then the base, with no retry. A
  // reader that paired an old base with a grown length would read past
  // the old reservation (PROT_NONE or unmapped) and crash the suite; so
  // each reader reads the last byte of every view it gets.
  TempDir td;
  // Each round is one move; valgrind runs the threads one at a time, so
  // it gets fewer (47 s for 64 there, 0.5 s natively).
  const unsigned kRounds = mmapio_test_under_valgrind() ? 8 : 64;
  unsigned moves = 0;
  long views = 0;
  for (unsigned round = 0; round < kRounds; round++) {
    const std::string p = td.path("f" + std::to_string(round));
    MapPtr m = create_reserved(p, kPage, kPage);
    mmapio_map *map = m.get();
    GrowthBlocker blocker(mmapio_base(map));
    if (!blocker.ok())
      MMAPIO_SKIP("could not occupy the address space after the reservation");
    const uint64_t to =
        static_cast<uint64_t>(blocker.reservation_end() -
                              reinterpret_cast<uintptr_t>(mmapio_base(map))) +
        8 * kPage;
    std::atomic<bool> done{false};
    std::atomic<int> bad_rc{0};
    std::atomic<long> ok{0};
    auto reader = [&](bool atomics) {
      unsigned sink = 0;
      do {
        int rc;
        if (atomics) {
          const mmapio_atomic_u32 *a = nullptr;
          rc = mmapio_view_atomic_u32_array(map, 0, to / 4, &a);
          if (rc == 0)
            sink += mmapio_atomic_u32_load(&a[to / 4 - 1]);
        } else {
          const void *v = nullptr;
          rc = mmapio_view(map, 0, static_cast<size_t>(to), &v);
          if (rc == 0)
            sink += static_cast<const volatile unsigned char *>(v)[to - 1];
        }
        if (rc == 0)
          ok.fetch_add(1, std::memory_order_relaxed);
        else if (rc != MMAPIO_E_OUT_OF_BOUNDS)
          bad_rc.store(rc);
      } while (!done.load(std::memory_order_acquire));
      if (sink != 0) // the file is all zeros
        bad_rc.store(-1);
    };
    std::thread r1(reader, false);
    std::thread r2(reader, true);
    bool moved = false;
    const int rc = mmapio_resize(map, to, &moved);
    // Stop once the readers have had views of the grown mapping.
    while (rc == 0 && ok.load(std::memory_order_relaxed) < 2)
      std::this_thread::yield();
    done.store(true, std::memory_order_release);
    r1.join();
    r2.join();
    REQUIRE(rc == 0);
    CHECK(bad_rc.load() == 0);
    moves += moved ? 1 : 0;
    views += ok.load();
  }
  INFO("rounds " << kRounds << ", moves " << moves << ", views " << views);
  CHECK(moves == kRounds);
}
