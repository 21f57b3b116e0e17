// Source: one mapped file through one implementation (see source.hpp).
#include "source.hpp"

#include <atomic>
#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

namespace mperf {

const char *impl_name(Impl i) {
  switch (i) {
  case Impl::Floor:
    return "floor";
  case Impl::Mmapio:
    return "mmapio";
  case Impl::Boost:
    return "boost";
  case Impl::Glib:
    return "glib";
  }
  return "?";
}

Source::Source(Impl impl, const std::string &path, bool writable)
    : impl_(impl) {
  switch (impl) {
  case Impl::Floor:
    raw_ = std::make_unique<RawMap>(
        path, writable ? O_RDWR : O_RDONLY,
        writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED);
    base_ = raw_->data();
    size_ = raw_->size();
    fd_ = raw_->fd();
    break;
  case Impl::Mmapio:
    m_ = open_map(path, writable ? MMAPIO_MODE_RW : MMAPIO_MODE_RO);
    if (writable) {
      void *p = nullptr;
      check(mmapio_base_mut(m_, &p), "mmapio_base_mut");
      base_ = static_cast<unsigned char *>(p);
    } else {
      base_ = static_cast<unsigned char *>(const_cast<void *>(mmapio_base(m_)));
    }
    size_ = static_cast<size_t>(mmapio_len(m_));
    fd_ = mmapio_fd(m_);
    break;
  case Impl::Boost:
    b_ = boost_open(path, writable ? PeerMode::RW : PeerMode::RO);
    base_ = boost_data(b_);
    size_ = boost_size(b_);
    break;
  case Impl::Glib:
    if (writable)
      die("GMappedFile has no shared writable mapping");
    g_ = glib_open(path, false);
    base_ = glib_data(g_);
    size_ = glib_size(g_);
    break;
  }
  if (fd_ < 0) {
    extra_fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (extra_fd_ < 0)
      die("open %s: %s", path.c_str(), strerror(errno));
    fd_ = extra_fd_;
  }
}

Source::~Source() {
  mmapio_close(m_);
  boost_close(b_);
  glib_close(g_);
  if (extra_fd_ >= 0)
    close(extra_fd_);
}

namespace {
std::atomic<Source *> g_shared{nullptr};
}

Source *shared_open(benchmark::State &st, Impl impl, const std::string &path,
                    bool writable, bool warm) {
  if (st.thread_index() == 0) {
    auto *s = new Source(impl, path, writable);
    if (warm)
      require_warm(st, s->base(), s->size());
    g_shared.store(s, std::memory_order_release);
    return s;
  }
  Source *s;
  while ((s = g_shared.load(std::memory_order_acquire)) == nullptr)
    std::this_thread::yield();
  return s;
}

void shared_close(benchmark::State &st) {
  if (st.thread_index() == 0)
    delete g_shared.exchange(nullptr, std::memory_order_acq_rel);
}

} // namespace mperf
