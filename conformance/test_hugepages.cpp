// Huge pages: MMAPIO_OPT_HUGEPAGES in tiers, mmapio_is_hugepage_backed and
// mmapio_hugepage_diagnose. What the kernel allows is found out first by
// doing the same thing by hand; when it does not allow huge pages the
// test says why and skips.
#include "support_memory.hpp"
#include "support_proc.hpp"

#include <cstring>

#include <sys/mman.h>
#include <sys/statfs.h>

using namespace mmapio_test;

namespace {

constexpr unsigned long kHugetlbfsMagic = 0x958458f6UL;

#ifndef MADV_COLLAPSE
constexpr int kMadvCollapse = 25;
#else
constexpr int kMadvCollapse = MADV_COLLAPSE;
#endif

mmapio_hugepage_report diagnose(const mmapio_map *m) {
  mmapio_hugepage_report r;
  std::memset(&r, 0xA5, sizeof r);
  REQUIRE_OK(mmapio_hugepage_diagnose(m, &r));
  REQUIRE(std::strlen(r.detail) < sizeof r.detail);
  return r;
}

mmapio_hugepage_state backed(const mmapio_map *m) {
  mmapio_hugepage_state s = static_cast<mmapio_hugepage_state>(-1);
  REQUIRE_OK(mmapio_is_hugepage_backed(m, &s));
  return s;
}

// Huge-page bytes smaps counts over [p, p+len).
long long huge_bytes(const void *p, size_t len) {
  return smaps_field(p, len, "AnonHugePages") +
         smaps_field(p, len, "ShmemPmdMapped") +
         smaps_field(p, len, "FilePmdMapped") +
         smaps_field(p, len, "Shared_Hugetlb") +
         smaps_field(p, len, "Private_Hugetlb");
}

// A 2 MiB-aligned address range of len bytes, reserved (PROT_NONE).
struct AlignedArea {
  explicit AlignedArea(size_t len) : len_(len + 2 * kMiB) {
    raw_ = ::mmap(nullptr, len_, PROT_NONE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw_ == MAP_FAILED)
      throw std::runtime_error("mmap failed");
    at_ = reinterpret_cast<void *>(
        (reinterpret_cast<uintptr_t>(raw_) + 2 * kMiB - 1) &
        ~uintptr_t(2 * kMiB - 1));
  }
  ~AlignedArea() { ::munmap(raw_, len_); }
  AlignedArea(const AlignedArea &) = delete;
  AlignedArea &operator=(const AlignedArea &) = delete;
  void *at() const { return at_; }

private:
  size_t len_;
  void *raw_;
  void *at_;
};

// Whether this kernel can collapse a memory file (shmem) into huge pages:
// done by hand on a private memfd. "" when it can, else why not.
std::string shmem_collapse_blocker() {
  if (thp_shmem_mode() == "deny")
    return "shmem_enabled is [deny]";
  const size_t len = 4 * kMiB;
  int fd = ::memfd_create("probe", MFD_CLOEXEC);
  if (fd < 0 || ::ftruncate(fd, static_cast<off_t>(len)) != 0)
    return "memfd_create failed";
  AlignedArea area(len);
  void *p = ::mmap(area.at(), len, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_FIXED, fd, 0);
  ::close(fd);
  if (p == MAP_FAILED)
    return "mapping a memfd failed";
  ::madvise(p, len, MADV_HUGEPAGE);
  std::memset(p, 1, len);
  if (::madvise(p, len, kMadvCollapse) != 0)
    return std::string("MADV_COLLAPSE of a memfd: ") + std::strerror(errno);
  const long long h = huge_bytes(p, len);
  return h > 0 ? "" : "MADV_COLLAPSE gave no huge pages";
}

// Whether a file in dir, mapped at a 2 MiB boundary with MADV_HUGEPAGE
// and read after its cache was dropped, comes back PMD-mapped. "" when it
// does, else why not.
std::string file_thp_blocker(const TempDir &dir) {
  const size_t len = 8 * kMiB;
  const std::string p = make_file(dir, "probe.bin", pattern_bytes(len, 5));
  if (!drop_page_cache(p))
    return "the page cache of " + dir.dir() + " cannot be dropped";
  int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  AlignedArea area(len);
  void *a = ::mmap(area.at(), len, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);
  ::close(fd);
  if (a == MAP_FAILED)
    return "mapping the file failed";
  ::madvise(a, len, MADV_HUGEPAGE);
  read_every_page(a, len);
  const long long h = huge_bytes(a, len);
  ::munmap(a, len);
  ::unlink(p.c_str());
  struct statfs sf;
  ::statfs(dir.dir().c_str(), &sf);
  if (h > 0)
    return "";
  std::ostringstream why;
  why << "the file system of " << dir.dir() << " (magic 0x" << std::hex
      << static_cast<unsigned long>(sf.f_type)
      << ") gives no PMD-mapped page-cache folios";
  return why.str();
}

// Free hugetlb pages of the default size, and that size in bytes.
long long hugetlb_free() {
  return meminfo("HugePages_Free") - std::max(0LL, meminfo("HugePages_Rsvd"));
}
long long hugetlb_size() { return meminfo("Hugepagesize") * 1024; }

} // namespace

// ------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------

TEST_CASE("mmapio_is_hugepage_backed: INVALID_ARGUMENT when m or out is "
          "NULL",
          "[mmapio_is_hugepage_backed][errors][hugepages]") {
  MapPtr m;
  {
    mmapio_map *raw = nullptr;
    REQUIRE_OK(mmapio_anon(&raw, kPage));
    m.reset(raw);
  }
  mmapio_hugepage_state s = MMAPIO_HUGEPAGE_UNKNOWN;
  CHECK_CODE(mmapio_is_hugepage_backed(nullptr, &s), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_is_hugepage_backed(m.get(), nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(s == MMAPIO_HUGEPAGE_UNKNOWN);
}

TEST_CASE("mmapio_hugepage_diagnose: INVALID_ARGUMENT when m or out is NULL",
          "[mmapio_hugepage_diagnose][errors][hugepages]") {
  MapPtr m;
  {
    mmapio_map *raw = nullptr;
    REQUIRE_OK(mmapio_anon(&raw, kPage));
    m.reset(raw);
  }
  mmapio_hugepage_report r;
  r.reasons = 12345;
  CHECK_CODE(mmapio_hugepage_diagnose(nullptr, &r), MMAPIO_E_INVALID_ARGUMENT);
  CHECK_CODE(mmapio_hugepage_diagnose(m.get(), nullptr),
             MMAPIO_E_INVALID_ARGUMENT);
  CHECK(r.reasons == 12345u);
}

// The verdict tests need the library's verdict (the capability) and an
// smaps that describes this process's own pages: under qemu-user smaps is
// the host's, and the verdict read from it may describe other memory.
#define REQUIRE_VERDICT()                                                      \
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_HUGEPAGE_VERDICT);                             \
  if (!smaps_view_blocker().empty())                                           \
  MMAPIO_SKIP(smaps_view_blocker())

// ------------------------------------------------------------------
// Answers that hold on every kernel
// ------------------------------------------------------------------

TEST_CASE("mmapio_is_hugepage_backed: a small mapping is not huge-page "
          "backed",
          "[mmapio_is_hugepage_backed][hugepages][linux]") {
  REQUIRE_VERDICT();
  TempDir dir;
  const Backing b =
      GENERATE(Backing::RW, Backing::RO, Backing::COW, Backing::Anon);
  INFO(backing_name(b));
  Made mk = make_backing(dir, b, 3 * kPage);
  CHECK(backed(mk.map.get()) == MMAPIO_HUGEPAGE_NO);
  const mmapio_hugepage_report r = diagnose(mk.map.get());
  INFO(r.detail);
  CHECK(r.state == MMAPIO_HUGEPAGE_NO);
  CHECK(r.huge_bytes == 0);
  CHECK(r.resident_bytes <= 3 * kPage);
  CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_MISALIGNED) != 0);
  CHECK(std::string(r.detail).find("no huge pages") == 0);
}

TEST_CASE(
    "mmapio_is_hugepage_backed: UNKNOWN where smaps cannot be used",
    "[mmapio_is_hugepage_backed][mmapio_hugepage_diagnose][hugepages][linux]") {
  if (query_capability(MMAPIO_CAP_HUGEPAGE_VERDICT).supported)
    MMAPIO_SKIP_HAVING_CAP(MMAPIO_CAP_HUGEPAGE_VERDICT);
  MapPtr m;
  {
    mmapio_map *raw = nullptr;
    REQUIRE_OK(mmapio_anon_ex(&raw, 4 * kMiB, MMAPIO_OPT_TOUCH_EAGER));
    m.reset(raw);
  }
  CHECK(backed(m.get()) == MMAPIO_HUGEPAGE_UNKNOWN);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  CHECK(r.state == MMAPIO_HUGEPAGE_UNKNOWN);
  CHECK(r.huge_bytes == 0);
}

TEST_CASE("mmapio_hugepage_diagnose: names the THP modes and what is not "
          "resident",
          "[mmapio_hugepage_diagnose][hugepages][linux]") {
  REQUIRE_VERDICT();
  TempDir dir;
  const std::string p = make_file(dir, "cold.bin", pattern_bytes(8 * kMiB, 1));
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_open(&raw, p.c_str(), MMAPIO_MODE_RO));
  MapPtr m(raw);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  CHECK(r.state == MMAPIO_HUGEPAGE_NO);
  CHECK(r.resident_bytes == 0);
  CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_NOT_RESIDENT) != 0);
  // Not advised: no MMAPIO_OPT_HUGEPAGES.
  CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_NOT_ADVISED) != 0);
  const std::string anon = thp_anon_mode(), shmem = thp_shmem_mode();
  if (!anon.empty())
    CHECK(std::string(r.detail).find("[" + anon + "]") != std::string::npos);
  if (!shmem.empty())
    CHECK(std::string(r.detail).find("[" + shmem + "]") != std::string::npos);
  const bool aligned =
      (reinterpret_cast<uintptr_t>(mmapio_base(m.get())) & (2 * kMiB - 1)) == 0;
  CHECK(std::string(r.detail).find(aligned ? " is 2 MiB-aligned"
                                           : " not 2 MiB-aligned") !=
        std::string::npos);
}

TEST_CASE("mmapio_hugepage_diagnose: COW copies are small pages",
          "[mmapio_hugepage_diagnose][hugepages][cow][linux]") {
  REQUIRE_VERDICT();
  TempDir dir;
  Made mk = make_backing(dir, Backing::COW, 4 * kMiB);
  const std::string mine(kMiB, 'c');
  REQUIRE_OK(mmapio_update(mk.map.get(), kMiB, mine.data(), mine.size()));
  const mmapio_hugepage_report r = diagnose(mk.map.get());
  INFO(r.detail);
  if (r.state == MMAPIO_HUGEPAGE_NO)
    CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_PRIVATE_COPY) != 0);
  CHECK(r.resident_bytes >= kMiB);
}

TEST_CASE(
    "mmapio_hugepage_diagnose: agrees with mmapio_is_hugepage_backed "
    "and smaps",
    "[mmapio_hugepage_diagnose][mmapio_is_hugepage_backed][hugepages][linux]") {
  REQUIRE_VERDICT();
  TempDir dir;
  const Backing b = GENERATE(Backing::RW, Backing::RO, Backing::Anon);
  const unsigned flags = GENERATE(0u, MMAPIO_OPT_HUGEPAGES);
  INFO(backing_name(b) << ", flags " << flags);
  const size_t size = 6 * kMiB;
  MapPtr m;
  mmapio_map *raw = nullptr;
  if (b == Backing::Anon) {
    REQUIRE_OK(mmapio_anon_ex(&raw, size, flags | MMAPIO_OPT_TOUCH_EAGER));
  } else {
    const std::string p = make_file(dir, "agree.bin", pattern_bytes(size, 2));
    mmapio_options o = MMAPIO_OPTIONS_INIT;
    o.mode = b == Backing::RW ? MMAPIO_MODE_RW : MMAPIO_MODE_RO;
    o.flags = flags | MMAPIO_OPT_TOUCH_EAGER;
    REQUIRE_OK(mmapio_open_ex(&raw, p.c_str(), &o, MMAPIO_OPEN));
  }
  m.reset(raw);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  CHECK(r.state == backed(m.get()));
  CHECK(static_cast<long long>(r.huge_bytes) ==
        huge_bytes(mmapio_base(m.get()), size));
  CHECK(r.state ==
        (r.huge_bytes > 0 ? MMAPIO_HUGEPAGE_YES : MMAPIO_HUGEPAGE_NO));
  CHECK(r.resident_bytes >= r.huge_bytes);
  CHECK(r.resident_bytes <= size);
  if (r.state == MMAPIO_HUGEPAGE_NO)
    CHECK(r.reasons != 0u); // a "no" always says why
}

TEST_CASE("MMAPIO_OPT_HUGEPAGES: lack of huge pages is never an error",
          "[hugepages][open]") {
  TempDir dir;
  const size_t size = GENERATE(size_t(1), size_t(4096), size_t(3 * kMiB + 1));
  INFO(size << " bytes");
  // A region (a memory file) and a file opened read-write are both mapped
  // past their end, to grow in place.
  if (!file_tail_blocker().empty())
    MMAPIO_SKIP(file_tail_blocker());
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&raw, size, MMAPIO_OPT_HUGEPAGES));
  MapPtr a(raw);
  const std::string p = dir.path("small.bin");
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  o.flags = MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER;
  REQUIRE_OK(mmapio_open_ex(&raw, p.c_str(), &o, MMAPIO_CREATE));
  MapPtr f(raw);
  const char x = 'x';
  CHECK_OK(mmapio_update(a.get(), size - 1, &x, 1));
  CHECK_OK(mmapio_update(f.get(), size - 1, &x, 1));
}

// ------------------------------------------------------------------
// What the kernel allows
// ------------------------------------------------------------------

TEST_CASE("MMAPIO_OPT_HUGEPAGES: an anonymous region gets huge pages where "
          "the kernel can collapse shared memory",
          "[mmapio_anon_ex][hugepages][anon][linux]") {
  MMAPIO_SKIP_UNDER_VALGRIND(
      "populate, residency and huge pages are emulated, not the kernel's");
  REQUIRE_VERDICT();
  const std::string blocker = shmem_collapse_blocker();
  if (!blocker.empty())
    MMAPIO_SKIP("huge pages for memory files: " << blocker);
  const size_t size = 8 * kMiB;
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&raw, size, MMAPIO_OPT_HUGEPAGES));
  MapPtr m(raw);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  const uintptr_t base = reinterpret_cast<uintptr_t>(mmapio_base(m.get()));
  if ((base & (2 * kMiB - 1)) != 0)
    CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_MISALIGNED) == 0);
  CHECK(r.state == MMAPIO_HUGEPAGE_YES);
  CHECK(backed(m.get()) == MMAPIO_HUGEPAGE_YES);
  // Still an ordinary zero-filled region.
  std::string got(size, 'z');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], size));
  CHECK(got == std::string(size, '\0'));
}

TEST_CASE("MMAPIO_OPT_HUGEPAGES: a file mapping gets huge pages where the "
          "file system gives them",
          "[mmapio_open_ex][hugepages][linux]") {
  MMAPIO_SKIP_UNDER_VALGRIND(
      "populate, residency and huge pages are emulated, not the kernel's");
  REQUIRE_VERDICT();
  TempDir dir;
  const std::string blocker = file_thp_blocker(dir);
  if (!blocker.empty())
    MMAPIO_SKIP(blocker);
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW);
  INFO("mode " << mode);
  const size_t size = 8 * kMiB;
  const std::string p = make_file(dir, "huge.bin", pattern_bytes(size, 4));
  REQUIRE(drop_page_cache(p));
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.mode = mode;
  o.flags = MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER;
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_open_ex(&raw, p.c_str(), &o, MMAPIO_OPEN));
  MapPtr m(raw);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  if (first_aligned_block(mmapio_base(m.get()), size) == nullptr)
    MMAPIO_SKIP("the mapping got no 2 MiB-aligned block: " << r.detail);
  CHECK(r.state == MMAPIO_HUGEPAGE_YES);
  CHECK(r.huge_bytes >= 2 * kMiB);
  std::string got(size, '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], size));
  CHECK(got == pattern_bytes(size, 4));
}

TEST_CASE("MMAPIO_OPT_HUGEPAGES: an anonymous region is hugetlb-backed when "
          "the pool has pages",
          "[mmapio_anon_ex][hugepages][anon][linux]") {
  MMAPIO_SKIP_UNDER_VALGRIND(
      "populate, residency and huge pages are emulated, not the kernel's");
  MMAPIO_REQUIRE_CAP(MMAPIO_CAP_HUGETLB);
  const long long hp = hugetlb_size();
  const long long free_pages = hugetlb_free();
  if (hp <= 0 || free_pages < 2)
    MMAPIO_SKIP("hugetlb pool: " << free_pages << " free pages of " << hp
                                 << " bytes (need 2)");
  const size_t size = static_cast<size_t>(2 * hp);
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&raw, size, MMAPIO_OPT_HUGEPAGES));
  MapPtr m(raw);
  struct statfs sf;
  REQUIRE(::fstatfs(mmapio_fd(m.get()), &sf) == 0);
  CHECK(static_cast<unsigned long>(sf.f_type) == kHugetlbfsMagic);
  CHECK(backed(m.get()) == MMAPIO_HUGEPAGE_YES);
  const std::string bytes = pattern_bytes(size, 8);
  REQUIRE_OK(mmapio_update(m.get(), 0, bytes.data(), size));
  REQUIRE_OK(mmapio_touch_pages(m.get()));
  CHECK(huge_bytes(mmapio_base(m.get()), size) == static_cast<long long>(size));
  // A resize must keep whole huge pages; a refused one changes nothing.
  CHECK_CODE(mmapio_resize(m.get(), size + kPage, nullptr),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(mmapio_len(m.get()) == size);
  if (hugetlb_free() >= 1) {
    CHECK_OK(mmapio_resize(m.get(), size + hp, nullptr));
    CHECK_OK(mmapio_resize(m.get(), size, nullptr));
  }
  CHECK_CODE(mmapio_resize(m.get(), size - kPage, nullptr),
             MMAPIO_E_RESIZE_FAILED);
  CHECK(mmapio_len(m.get()) == size);
  std::string got(size, '\0');
  REQUIRE_OK(mmapio_read(m.get(), 0, &got[0], size));
  CHECK(got == bytes);
}

TEST_CASE(
    "MMAPIO_OPT_HUGEPAGES: without free hugetlb pages an anonymous "
    "region falls back and says so",
    "[mmapio_anon_ex][mmapio_hugepage_diagnose][hugepages][anon][linux]") {
  MMAPIO_SKIP_UNDER_VALGRIND(
      "populate, residency and huge pages are emulated, not the kernel's");
  REQUIRE_VERDICT();
  const long long hp = hugetlb_size();
  if (hp <= 0)
    MMAPIO_SKIP("no hugetlb support (no Hugepagesize in /proc/meminfo)");
  const long long free_pages = hugetlb_free();
  // More pages than the pool has free.
  const size_t size = static_cast<size_t>((free_pages + 1) * hp);
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&raw, size, MMAPIO_OPT_HUGEPAGES));
  MapPtr m(raw);
  struct statfs sf;
  REQUIRE(::fstatfs(mmapio_fd(m.get()), &sf) == 0);
  CHECK(static_cast<unsigned long>(sf.f_type) != kHugetlbfsMagic);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  if (r.state != MMAPIO_HUGEPAGE_YES ||
      r.huge_bytes < r.resident_bytes) // else nothing to explain
    CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_POOL_EMPTY) != 0);
}

TEST_CASE("mmapio_hugepage_diagnose: shared memory under THP mode never",
          "[mmapio_hugepage_diagnose][hugepages][anon][linux]") {
  if (!populate_blocker().empty())
    MMAPIO_SKIP(populate_blocker());
  MMAPIO_SKIP_UNDER_VALGRIND(
      "populate, residency and huge pages are emulated, not the kernel's");
  REQUIRE_VERDICT();
  const std::string mode = thp_shmem_mode();
  if (mode != "never" && mode != "deny")
    MMAPIO_SKIP("shmem_enabled is [" << mode << "], not never or deny");
  mmapio_map *raw = nullptr;
  REQUIRE_OK(mmapio_anon_ex(&raw, 4 * kMiB, MMAPIO_OPT_TOUCH_EAGER));
  MapPtr m(raw);
  const mmapio_hugepage_report r = diagnose(m.get());
  INFO(r.detail);
  CHECK(r.state == MMAPIO_HUGEPAGE_NO);
  CHECK((r.reasons & MMAPIO_HUGEPAGE_WHY_THP_DISABLED) != 0);
  CHECK(r.resident_bytes == 4 * kMiB);
}
