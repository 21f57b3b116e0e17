// Peer wrappers (see peers.hpp).
#include "peers.hpp"
#include "harness.hpp"

#include <boost/interprocess/file_mapping.hpp>
#include <boost/interprocess/mapped_region.hpp>
#include <glib.h>

namespace bip = boost::interprocess;

namespace mperf {

struct BoostMap {
  BoostMap(const char *path, bip::mode_t fm, bip::mode_t rm)
      : file(path, fm), region(file, rm) {}
  bip::file_mapping file;
  bip::mapped_region region;
};

BoostMap *boost_open(const std::string &path, PeerMode mode) {
  try {
    bip::mode_t fm = mode == PeerMode::RW ? bip::read_write : bip::read_only;
    bip::mode_t rm = mode == PeerMode::RW    ? bip::read_write
                     : mode == PeerMode::COW ? bip::copy_on_write
                                             : bip::read_only;
    return new BoostMap(path.c_str(), fm, rm);
  } catch (const std::exception &e) {
    die("boost mapped_region %s: %s", path.c_str(), e.what());
  }
}

void boost_close(BoostMap *b) { delete b; }

unsigned char *boost_data(BoostMap *b) {
  return static_cast<unsigned char *>(b->region.get_address());
}

size_t boost_size(BoostMap *b) { return b->region.get_size(); }

bool boost_flush(BoostMap *b, size_t off, size_t len, bool async) {
  return b->region.flush(off, len, async);
}

bool boost_advise_willneed(BoostMap *b) {
  return b->region.advise(bip::mapped_region::advice_willneed);
}

struct GlibMap {
  GMappedFile *f;
};

GlibMap *glib_open(const std::string &path, bool writable) {
  GError *err = nullptr;
  GMappedFile *f = g_mapped_file_new(path.c_str(), writable, &err);
  if (f == nullptr) {
    std::string msg = err != nullptr ? err->message : "unknown";
    g_clear_error(&err);
    die("g_mapped_file_new %s: %s", path.c_str(), msg.c_str());
  }
  return new GlibMap{f};
}

void glib_close(GlibMap *g) {
  if (g != nullptr)
    g_mapped_file_unref(g->f);
  delete g;
}

unsigned char *glib_data(GlibMap *g) {
  return reinterpret_cast<unsigned char *>(g_mapped_file_get_contents(g->f));
}

size_t glib_size(GlibMap *g) { return g_mapped_file_get_length(g->f); }

} // namespace mperf
