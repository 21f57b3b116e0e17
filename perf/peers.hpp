// The peers measured in the same run: Boost.Interprocess mapped_region
// and GLib's GMappedFile. Opaque wrappers, so their heavy headers are
// compiled once (peers.cpp); benchmarks fetch the base pointer once and
// then run the same loop as the floor (neither peer offers a checked
// range view, so pointer arithmetic is what their users write).
#ifndef MMAPIO_PERF_PEERS_HPP
#define MMAPIO_PERF_PEERS_HPP

#include <cstddef>
#include <string>

namespace mperf {

enum class PeerMode { RO, RW, COW };

struct BoostMap;
// Opens path and maps all of it (file_mapping + mapped_region). Dies on
// failure.
BoostMap *boost_open(const std::string &path, PeerMode mode);
void boost_close(BoostMap *b);
unsigned char *boost_data(BoostMap *b);
size_t boost_size(BoostMap *b);
// mapped_region::flush(off, len, async): msync of the range.
bool boost_flush(BoostMap *b, size_t off, size_t len, bool async);
// mapped_region::advise(advice_willneed) over the whole region.
bool boost_advise_willneed(BoostMap *b);

struct GlibMap;
// g_mapped_file_new(path, writable): writable maps MAP_PRIVATE, i.e. COW.
GlibMap *glib_open(const std::string &path, bool writable);
void glib_close(GlibMap *g);
unsigned char *glib_data(GlibMap *g);
size_t glib_size(GlibMap *g);

} // namespace mperf

#endif
