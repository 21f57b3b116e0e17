// The footprint suite: heap cost of a handle and allocation-free access
// paths, counted by interposing malloc (alloc_count.c). Built only
// without sanitizers, which replace the allocator.
#include "alloc_count.h"
#include "support.hpp"

#include <string>
#include <vector>

using namespace mmapio_test;

namespace {

MapPtr open_rw(const TempDir &t, uint64_t size) {
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, t.path("f.bin").c_str(), size));
  return MapPtr(m);
}

} // namespace

TEST_CASE("footprint: a handle costs under 1 KiB of heap",
          "[footprint][open]") {
  TempDir t;
  const std::string path = t.path("a-file-with-a-name-of-some-length.bin");
  mmapio_map *m = nullptr;
  REQUIRE_OK(mmapio_create(&m, path.c_str(), 1 << 20));
  mmapio_close(m);
  auto mode = GENERATE(MMAPIO_MODE_RO, MMAPIO_MODE_RW, MMAPIO_MODE_COW);
  long before = alloc_live_bytes();
  REQUIRE_OK(mmapio_open(&m, path.c_str(), mode));
  long cost = alloc_live_bytes() - before;
  mmapio_close(m);
  long leaked = alloc_live_bytes() - before;
  INFO("heap held by one handle: " << cost << " bytes");
  CHECK(cost > 0);
  CHECK(cost < 1024);
  CHECK(leaked == 0);
}

TEST_CASE("footprint: no access path allocates", "[footprint][access]") {
  TempDir t;
  MapPtr m = open_rw(t, 1 << 20);
  std::vector<unsigned char> buf(4096, 7);
  long before = alloc_calls();
  for (uint64_t off = 0; off < (1u << 20); off += 4096) {
    const void *v = nullptr;
    void *w = nullptr;
    REQUIRE(mmapio_view(m.get(), off, 4096, &v) == 0);
    REQUIRE(mmapio_view_mut(m.get(), off, 4096, &w) == 0);
    REQUIRE(mmapio_read(m.get(), off, buf.data(), buf.size()) == 0);
    REQUIRE(mmapio_update(m.get(), off, buf.data(), buf.size()) == 0);
    REQUIRE(mmapio_len(m.get()) == (1u << 20));
    REQUIRE(mmapio_base(m.get()) != nullptr);
  }
  mmapio_chunks it;
  REQUIRE(mmapio_chunks_begin(&it, m.get(), 65536) == 0);
  mmapio_chunk c;
  size_t seen = 0;
  while (mmapio_chunks_next(&it, &c))
    seen += c.len;
  REQUIRE(seen == (1u << 20));
  long calls = alloc_calls() - before;
  INFO("allocations during the access loop: " << calls);
  CHECK(calls == 0);
}

TEST_CASE("footprint: the counter sees allocations (control)", "[footprint]") {
  long before = alloc_calls();
  std::vector<char> *v = new std::vector<char>(100);
  delete v;
  CHECK(alloc_calls() > before);
}
