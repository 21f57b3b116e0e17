// Shared by the create tests (test_create.cpp, test_seam_files.cpp): what
// is at a path before a create, and the ways to create.
#ifndef MMAPIO_CONFORMANCE_SUPPORT_CREATE_HPP
#define MMAPIO_CONFORMANCE_SUPPORT_CREATE_HPP

#include "support.hpp"

namespace mmapio_test {

/** What is at the path before a create. */
enum class State { Missing, Empty, Full };

inline const char *state_name(State s) {
  static const char *const names[] = {"no file", "an empty file",
                                      "a 12 KiB file"};
  return enum_name(s, names);
}

/** The bytes of a file in state s (none for Missing). */
inline std::string state_bytes(State s) {
  static const std::string old = pattern_bytes(12 * 1024, 31);
  return s == State::Full ? old : std::string();
}

/** Puts at path what s says: nothing, an empty file or 12 KiB. */
inline void prepare(const std::string &path, State s) {
  if (s != State::Missing)
    write_bytes(path, state_bytes(s));
}

/** A way to create: the shorthand of the disposition (mmapio_create or
 *  mmapio_open_or_create), or mmapio_open_ex with flags. */
struct CreateWay {
  const char *name;
  mmapio_disposition how; // MMAPIO_CREATE or MMAPIO_OPEN_OR_CREATE
  unsigned flags;         // MMAPIO_OPT_*, for mmapio_open_ex
  bool shorthand;
};

inline int create_by(const CreateWay &w, const std::string &path, uint64_t size,
                     mmapio_map **out) {
  if (w.shorthand)
    return w.how == MMAPIO_CREATE
               ? mmapio_create(out, path.c_str(), size)
               : mmapio_open_or_create(out, path.c_str(), size);
  mmapio_options o = MMAPIO_OPTIONS_INIT;
  o.size = size;
  o.flags = w.flags;
  return mmapio_open_ex(out, path.c_str(), &o, w.how);
}

/** OPEN_OR_CREATE creates only where nothing is: it opens what exists. */
inline bool creates_over(const CreateWay &w, State s) {
  return w.how != MMAPIO_OPEN_OR_CREATE || s == State::Missing;
}

} // namespace mmapio_test

#endif
