// Sparse files: creating at a large size allocates no data blocks and
// mapping it costs no memory; the header documents it on every creating
// function.
#include "support.hpp"
#include "support_proc.hpp"

#include <cctype>
#include <fstream>
#include <sstream>

using namespace mmapio_test;

namespace {

const uint64_t kTiB = uint64_t(1) << 40;
const uint64_t kMiB = uint64_t(1) << 20;

// VmRSS of this process in bytes (0 if unknown).
uint64_t vm_rss() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) {
      std::istringstream ss(line.substr(6));
      uint64_t kb = 0;
      ss >> kb;
      return kb * 1024;
    }
  }
  return 0;
}

uint64_t allocated_bytes(const std::string &p) {
  return static_cast<uint64_t>(stat_of(p).st_blocks) * 512;
}

enum class Creator { Create, OpenOrCreate, OpenExCreate, OpenExOpenOrCreate };

const char *creator_name(Creator c) {
  static const char *const names[] = {"mmapio_create", "mmapio_open_or_create",
                                      "mmapio_open_ex(CREATE)",
                                      "mmapio_open_ex(OPEN_OR_CREATE)"};
  return enum_name(c, names);
}

int create_with(Creator c, mmapio_map **out, const std::string &p,
                uint64_t size) {
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  switch (c) {
  case Creator::Create:
    return mmapio_create(out, p.c_str(), size);
  case Creator::OpenOrCreate:
    return mmapio_open_or_create(out, p.c_str(), size);
  case Creator::OpenExCreate:
    return mmapio_open_ex(out, p.c_str(), &o, MMAPIO_CREATE);
  case Creator::OpenExOpenOrCreate:
    return mmapio_open_ex(out, p.c_str(), &o, MMAPIO_OPEN_OR_CREATE);
  }
  return MMAPIO_E_INVALID_ARGUMENT;
}

// Why 1 TiB must not be mapped here, or "": under qemu-user (the build
// sets MMAPIO_TEST_EXEC_WRAPPER for emulated runs) a mapping costs host
// memory for every guest page it spans, and 1 TiB of them took 15 GB
// until the OOM killer ended the emulator.
std::string tib_blocker() {
  if (!mmapio_test::exec_wrapper().empty())
    return "under an emulator, mapping 1 TiB costs host memory for every "
           "page of it (qemu-user's page descriptors: the OOM killer ended "
           "the run)";
  return "";
}

// True when this process can map 4 TiB of address space (PROT_NONE,
// nothing reserved): room for a 1 TiB file and the growth reservation the
// library adds above it (mmapio.h: twice the length).
bool tib_address_space() {
  if (4 * kTiB > SIZE_MAX)
    return false;
  const size_t len = static_cast<size_t>(4 * kTiB);
  void *p = ::mmap(nullptr, len, PROT_NONE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED)
    return false;
  ::munmap(p, len);
  return true;
}

// True, after a printed skip, when rc says this machine cannot hold a
// 1 TiB file at p: the filesystem refuses the size, or ThreadSanitizer's
// shadow leaves no 1 TiB hole of address space to reserve.
bool tib_unavailable(int rc, const std::string &p) {
  if (rc == MMAPIO_E_RESIZE_FAILED && kTiB > mmapio_max_size()) {
    MMAPIO_NOTE_SKIP("this build maps at most " << mmapio_max_size()
                                                << " bytes (a 32-bit address "
                                                   "space), less than 1 TiB ("
                                                << mmapio_describe(rc) << ")");
    return true;
  }
  const int e = rc != 0 ? mmapio_last_error()->os_errno : 0;
  if (e == EFBIG) {
    MMAPIO_NOTE_SKIP("the filesystem of " << p << " refuses a 1 TiB file ("
                                          << mmapio_describe(rc) << ")");
    return true;
  }
  if (rc != 0 && !tib_address_space()) {
    WARN("SKIPPED: this address space has no room for a 1 TiB file and "
         "its growth reservation: a plain 4 TiB PROT_NONE mmap fails too ("
         << mmapio_describe(rc) << ")");
    return true;
  }
  if (e == ENOMEM && mmapio_test_thread_sanitized()) {
    MMAPIO_NOTE_SKIP("ThreadSanitizer keeps most of the address space for its "
                     "shadow, so 1 TiB cannot be reserved ("
                     << mmapio_describe(rc) << ")");
    return true;
  }
  return false;
}

// Creates a 1 TiB file with c. Returns the handle, or NULL after a
// printed skip when this machine cannot hold a file that large.
MapPtr create_tib(Creator c, const std::string &p) {
  mmapio_map *m = nullptr;
  const int rc = create_with(c, &m, p, kTiB);
  if (tib_unavailable(rc, p))
    return MapPtr();
  REQUIRE_OK(rc);
  return MapPtr(m);
}

std::string lower(std::string s) {
  for (char &ch : s)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return s;
}

// The /** ... */ block right before the declaration of fn, or "".
std::string doc_block_of(const std::string &header, const std::string &fn) {
  const std::string decl = " " + fn + "(";
  size_t at = std::string::npos;
  for (size_t pos = header.find(decl); pos != std::string::npos;
       pos = header.find(decl, pos + 1)) {
    const size_t line = header.rfind('\n', pos);
    const std::string head =
        header.substr(line == std::string::npos ? 0 : line + 1,
                      pos - (line == std::string::npos ? 0 : line + 1));
    if (head.find("MMAPIO_API") != std::string::npos) {
      at = pos;
      break;
    }
  }
  if (at == std::string::npos)
    return "";
  const size_t end = header.rfind("*/", at);
  const size_t begin = header.rfind("/**", at);
  if (end == std::string::npos || begin == std::string::npos || begin > end)
    return "";
  // Nothing but the return type may stand between the block and fn.
  const std::string between = header.substr(end + 2, at - end - 2);
  if (between.find(';') != std::string::npos)
    return "";
  return header.substr(begin, end + 2 - begin);
}

std::string header_path() {
#ifdef MMAPIO_HEADER_PATH
  return MMAPIO_HEADER_PATH;
#else
  // Next to this source: conformance/../lib/include/mmapio.h
  std::string here = __FILE__;
  const size_t slash = here.rfind('/');
  if (slash == std::string::npos || here[0] != '/')
    return "";
  return here.substr(0, slash) + "/../lib/include/mmapio.h";
#endif
}

} // namespace

TEST_CASE("creating 1 TiB makes a sparse file",
          "[sparse][mmapio_create][linux]") {
  if (!tib_blocker().empty())
    MMAPIO_SKIP(tib_blocker());
  const Creator c =
      GENERATE(Creator::Create, Creator::OpenOrCreate, Creator::OpenExCreate,
               Creator::OpenExOpenOrCreate);
  INFO(creator_name(c));
  TempDir d;
  const std::string p = d.path("huge");
  const uint64_t rss_before = vm_rss();
  MapPtr m = create_tib(c, p);
  if (!m)
    return;
  const uint64_t rss_after = vm_rss();
  CHECK(mmapio_len(m.get()) == kTiB);
  CHECK(static_cast<uint64_t>(stat_of(p).st_size) == kTiB);
  INFO("allocated " << allocated_bytes(p) << " bytes; VmRSS " << rss_before
                    << " -> " << rss_after);
  CHECK(allocated_bytes(p) < kMiB);
  CHECK(rss_after < rss_before + kMiB);
}

TEST_CASE("a sparse 1 TiB file allocates only the pages written",
          "[sparse][mmapio_create][linux]") {
  if (!tib_blocker().empty())
    MMAPIO_SKIP(tib_blocker());
  TempDir d;
  const std::string p = d.path("huge");
  MapPtr m = create_tib(Creator::Create, p);
  if (!m)
    return;
  const uint64_t ps = mmapio_page_size();
  const uint64_t offs[] = {0, kTiB / 2 + 12345, kTiB - 1};
  const uint64_t rss_before = vm_rss();
  for (uint64_t off : offs)
    REQUIRE_OK(mmapio_update(m.get(), off, "x", 1));
  REQUIRE_OK(mmapio_flush(m.get()));
  const uint64_t rss_after = vm_rss();
  const uint64_t alloc = allocated_bytes(p);
  INFO("allocated " << alloc << " bytes; VmRSS " << rss_before << " -> "
                    << rss_after);
  CHECK(alloc >= 3 * ps);
  CHECK(alloc < kMiB);
  CHECK(rss_after < rss_before + kMiB);
  for (uint64_t off : offs) {
    char c = 0;
    REQUIRE_OK(mmapio_read(m.get(), off, &c, 1));
    CHECK(c == 'x');
  }
  // A page in a hole reads as zeros.
  char z[16];
  std::memset(z, 1, sizeof z);
  REQUIRE_OK(mmapio_read(m.get(), kTiB / 4, z, sizeof z));
  CHECK(std::string(z, sizeof z) == std::string(sizeof z, '\0'));
}

TEST_CASE("mapping a sparse 1 TiB file adds almost nothing to the resident "
          "set",
          "[sparse][mmapio_open][linux]") {
  if (!tib_blocker().empty())
    MMAPIO_SKIP(tib_blocker());
  TempDir d;
  const std::string p = d.path("huge");
  {
    MapPtr m = create_tib(Creator::Create, p);
    if (!m)
      return;
  }
  // Not COW: a private writable mapping is charged to the commit limit,
  // so the kernel may refuse 1 TiB of it (ENOMEM) however sparse the file.
  const mmapio_mode mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW);
  INFO("mode " << mode);
  const uint64_t rss_before = vm_rss();
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_open(&m, p.c_str(), mode));
  MapPtr g(m);
  const uint64_t rss_after = vm_rss();
  INFO("VmRSS " << rss_before << " -> " << rss_after);
  CHECK(mmapio_len(m) == kTiB);
  CHECK(rss_after < rss_before + kMiB);
  CHECK(allocated_bytes(p) < kMiB);
}

TEST_CASE("mmapio_resize: growing to 1 TiB keeps the file sparse",
          "[sparse][mmapio_resize]") {
  if (!tib_blocker().empty())
    MMAPIO_SKIP(tib_blocker());
  TempDir d;
  const std::string p = d.path("f");
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, p.c_str(), 4096));
  MapPtr g(m);
  const int rc = mmapio_resize(m, kTiB, nullptr);
  if (tib_unavailable(rc, p))
    return;
  REQUIRE_OK(rc);
  CHECK(mmapio_len(m) == kTiB);
  CHECK(static_cast<uint64_t>(stat_of(p).st_size) == kTiB);
  CHECK(allocated_bytes(p) < kMiB);
}

TEST_CASE("MMAPIO_OPT_PREALLOCATE allocates the blocks up front",
          "[sparse][mmapio_open_ex]") {
  TempDir d;
  const std::string p = d.path("f");
  const uint64_t size = 8 * kMiB;
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  o.flags = MMAPIO_OPT_PREALLOCATE;
  mmapio_map *m = nullptr;
  const int rc = mmapio_open_ex(&m, p.c_str(), &o, MMAPIO_CREATE);
  if (rc != 0 && mmapio_last_error()->os_errno == EOPNOTSUPP) {
    MMAPIO_SKIP("the filesystem of " << p << " does not support fallocate");
  }
  REQUIRE_OK(rc);
  MapPtr g(m);
  CHECK(static_cast<uint64_t>(stat_of(p).st_size) == size);
  CHECK(allocated_bytes(p) >= size);
  // Without the flag the same create is sparse.
  mmapio_options s = MMAPIO_OPTIONS_INIT;
  s.size = size;
  mmapio_map *m2 = nullptr;
  REQUIRE_OK(mmapio_open_ex(&m2, d.path("g").c_str(), &s, MMAPIO_CREATE));
  MapPtr g2(m2);
  CHECK(allocated_bytes(d.path("g")) < kMiB);
}

TEST_CASE("header: every creating function's doc block mentions sparse files",
          "[sparse]") {
  const std::string hp = header_path();
  if (hp.empty() || !path_exists(hp)) {
    MMAPIO_SKIP("mmapio.h not found (MMAPIO_HEADER_PATH not defined and "
                "no lib/include/mmapio.h next to this source; tried \""
                << hp << "\")");
  }
  const std::string header = read_bytes(hp);
  REQUIRE(header.find("MMAPIO_API") != std::string::npos);
  const char *creators[] = {"mmapio_create", "mmapio_open_or_create",
                            "mmapio_open_ex"};
  for (const char *fn : creators) {
    INFO(fn << " in " << hp);
    const std::string doc = doc_block_of(header, fn);
    REQUIRE_FALSE(doc.empty());
    CHECK(lower(doc).find("sparse") != std::string::npos);
  }
}
