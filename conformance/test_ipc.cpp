// Cross-process sharing through one mapped file. Children are this test
// binary re-executed (run_child / spawn_child: /proc/self/exe
// --mmapio-child NAME ARGS); they report through their exit status only,
// and every REQUIRE stays in the parent.
//
// Child exit codes: 0 success, 2 open failed, 3 wrong data seen, 4 a
// read/write call failed, 5 wrong length, 6 bad arguments, 7 the start
// gate failed.
#include "support.hpp"
#include "support_proc.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

using namespace mmapio_test;

namespace {

const uint64_t kMagic = 0x6d6d6170696f2121ULL; // "mmapio!!"
const uint64_t kMagicOff = 0;
const uint64_t kChildOff = 4096 + 17;
const char kChildBytes[] = "written by the child";
const uint64_t kCounterOff = 64; // 8-byte aligned

// A start gate: children announce readiness on one pipe, then block on
// another until the parent closes it, so they start their work together.
class StartGate {
public:
  StartGate() {
    if (::pipe2(ready_, O_CLOEXEC) != 0 || ::pipe2(go_, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    // The children inherit the ends they use; the parent's ends stay
    // close-on-exec, so closing go_[1] here releases every child.
    ::fcntl(ready_[1], F_SETFD, 0);
    ::fcntl(go_[0], F_SETFD, 0);
  }
  ~StartGate() {
    for (int fd : {ready_[0], ready_[1], go_[0], go_[1]})
      if (fd >= 0)
        ::close(fd);
  }
  StartGate(const StartGate &) = delete;
  StartGate &operator=(const StartGate &) = delete;

  // Arguments that tell a child which descriptors to use.
  std::vector<std::string> args() const {
    return {std::to_string(ready_[1]), std::to_string(go_[0])};
  }

  // After spawning: waits until n children are ready (or all died), then
  // lets them go. Returns how many reported ready.
  int release(int n) {
    close_fd(ready_[1]);
    close_fd(go_[0]);
    int ready = 0;
    char c;
    while (ready < n) {
      ssize_t r = ::read(ready_[0], &c, 1);
      if (r < 0 && errno == EINTR)
        continue;
      if (r <= 0)
        break;
      ready++;
    }
    close_fd(go_[1]);
    return ready;
  }

private:
  static void close_fd(int &fd) {
    if (fd >= 0)
      ::close(fd);
    fd = -1;
  }
  int ready_[2] = {-1, -1};
  int go_[2] = {-1, -1};
};

// In a child: signals readiness on ready_fd and waits for the go pipe to
// close. False if the arguments are not descriptors.
bool child_wait_gate(const char *ready_arg, const char *go_arg) {
  const int ready_fd = std::atoi(ready_arg);
  const int go_fd = std::atoi(go_arg);
  if (ready_fd <= 2 || go_fd <= 2)
    return false;
  if (::write(ready_fd, "r", 1) != 1)
    return false;
  ::close(ready_fd);
  char c;
  for (;;) {
    ssize_t r = ::read(go_fd, &c, 1);
    if (r < 0 && errno == EINTR)
      continue;
    break; // EOF: go
  }
  ::close(go_fd);
  return true;
}

} // namespace

// ------------------------------------------------------------------
// Children
// ------------------------------------------------------------------

// argv: path. Opens RW, checks the parent's magic, writes its own bytes.
MMAPIO_CHILD(ipc_check_magic_and_write) {
  if (argc < 1)
    return 6;
  mmapio_map *m = nullptr;
  if (mmapio_open(&m, argv[0], MMAPIO_MODE_RW) != 0)
    return 2;
  int status = 0;
  uint64_t v = 0;
  if (mmapio_read(m, kMagicOff, &v, sizeof v) != 0)
    status = 4;
  else if (v != kMagic)
    status = 3;
  else if (mmapio_update(m, kChildOff, kChildBytes, sizeof kChildBytes) != 0)
    status = 4;
  mmapio_close(m);
  return status;
}

// argv: path, count, ready fd, go fd. Atomically increments the uint64_t
// at kCounterOff count times through the mapping.
MMAPIO_CHILD(ipc_increment_counter) {
  if (argc < 4)
    return 6;
  const unsigned long n = std::strtoul(argv[1], nullptr, 10);
  mmapio_map *m = nullptr;
  if (mmapio_open(&m, argv[0], MMAPIO_MODE_RW) != 0)
    return 2;
  void *b = nullptr;
  if (mmapio_base_mut(m, &b) != 0) {
    mmapio_close(m);
    return 4;
  }
  uint64_t *counter = reinterpret_cast<uint64_t *>(
      static_cast<unsigned char *>(b) + kCounterOff);
  if (!child_wait_gate(argv[2], argv[3])) {
    mmapio_close(m);
    return 7;
  }
  for (unsigned long i = 0; i < n; i++)
    __atomic_fetch_add(counter, 1, __ATOMIC_SEQ_CST);
  mmapio_close(m);
  return 0;
}

// argv: path, index, default size, ready fd, go fd. open_or_create, then
// writes the byte 'A' + index at offset index.
MMAPIO_CHILD(ipc_open_or_create) {
  if (argc < 5)
    return 6;
  const unsigned long index = std::strtoul(argv[1], nullptr, 10);
  const uint64_t size = std::strtoull(argv[2], nullptr, 10);
  if (!child_wait_gate(argv[3], argv[4]))
    return 7;
  mmapio_map *m = nullptr;
  if (mmapio_open_or_create(&m, argv[0], size) != 0)
    return 2;
  int status = 0;
  const char byte = static_cast<char>('A' + index);
  if (mmapio_len(m) != size)
    status = 5;
  else if (mmapio_update(m, index, &byte, 1) != 0)
    status = 4;
  mmapio_close(m);
  return status;
}

// ------------------------------------------------------------------
// Tests
// ------------------------------------------------------------------

TEST_CASE("IPC: a child sees the parent's bytes and the parent sees the "
          "child's through its existing mapping",
          "[mmapio_open][mmapio_update][ipc]") {
  const bool flush_first = GENERATE(false, true);
  CAPTURE(flush_first);
  TempDir td;
  const std::string p = td.path("shared");
  MapPtr m = create_map(p, 4 * kPage);
  REQUIRE_OK(mmapio_update(m.get(), kMagicOff, &kMagic, sizeof kMagic));
  if (flush_first)
    REQUIRE_OK(mmapio_flush(m.get()));

  const int st = run_child("ipc_check_magic_and_write", {p});
  INFO("child: " << describe_status(st)
                 << " (3 = wrong magic, 2 = open failed, 4 = I/O call)");
  REQUIRE(st == 0);

  std::string got(sizeof kChildBytes, '\0');
  REQUIRE_OK(mmapio_read(m.get(), kChildOff, &got[0], got.size()));
  CHECK(got == std::string(kChildBytes, sizeof kChildBytes));
  // And through a view of the same mapping.
  const void *v = nullptr;
  REQUIRE_OK(mmapio_view(m.get(), kChildOff, sizeof kChildBytes, &v));
  CHECK(std::memcmp(v, kChildBytes, sizeof kChildBytes) == 0);
}

TEST_CASE("IPC: a child that finds the wrong magic reports it", "[ipc]") {
  // The magic check in the child can fail: without the parent's write it
  // exits 3.
  TempDir td;
  const std::string p = td.path("shared");
  MapPtr m = create_map(p, 4 * kPage);
  const int st = run_child("ipc_check_magic_and_write", {p});
  INFO("child: " << describe_status(st));
  CHECK(st == 3);
}

TEST_CASE("IPC: two processes incrementing one counter atomically reach the "
          "exact sum",
          "[ipc]") {
  TempDir td;
  const std::string p = td.path("counter");
  MapPtr m = create_map(p, kPage);
  const unsigned long per_child = 100000;
  const int children = 2;

  StartGate gate;
  std::vector<std::string> args = {p, std::to_string(per_child)};
  for (const auto &a : gate.args())
    args.push_back(a);
  std::vector<pid_t> pids;
  for (int i = 0; i < children; i++)
    pids.push_back(spawn_child("ipc_increment_counter", args));
  const int ready = gate.release(children);
  std::vector<int> status;
  for (pid_t pid : pids)
    status.push_back(wait_child(pid));

  CHECK(ready == children);
  for (int i = 0; i < children; i++) {
    INFO("child " << i << ": " << describe_status(status[i]));
    CHECK(status[i] == 0);
  }
  uint64_t sum = 0;
  REQUIRE_OK(mmapio_read(m.get(), kCounterOff, &sum, sizeof sum));
  CHECK(sum == per_child * children);
}

TEST_CASE("IPC: concurrent mmapio_open_or_create of one new path: all "
          "succeed and nobody truncates anybody",
          "[mmapio_open_or_create][ipc]") {
  TempDir td;
  const std::string p = td.path("raced");
  const uint64_t size = 65536;
  const int children = 6;
  REQUIRE_FALSE(path_exists(p));

  StartGate gate;
  std::vector<pid_t> pids;
  for (int i = 0; i < children; i++) {
    std::vector<std::string> args = {p, std::to_string(i),
                                     std::to_string(size)};
    for (const auto &a : gate.args())
      args.push_back(a);
    pids.push_back(spawn_child("ipc_open_or_create", args));
  }
  const int ready = gate.release(children);
  std::vector<int> status;
  for (pid_t pid : pids)
    status.push_back(wait_child(pid));

  CHECK(ready == children);
  for (int i = 0; i < children; i++) {
    INFO("child " << i << ": " << describe_status(status[i])
                  << " (2 = open_or_create failed, 5 = wrong length)");
    CHECK(status[i] == 0);
  }
  REQUIRE(path_exists(p));
  CHECK(stat_of(p).st_size == static_cast<off_t>(size));
  const std::string content = read_bytes(p);
  REQUIRE(content.size() == size);
  for (int i = 0; i < children; i++) {
    INFO("byte " << i);
    CHECK(content[static_cast<size_t>(i)] == static_cast<char>('A' + i));
  }
  CHECK(content.find_first_not_of('\0', children) == std::string::npos);

  // No temporary file is left behind in the directory.
  std::vector<std::string> names;
  if (DIR *d = ::opendir(td.dir().c_str())) {
    while (struct dirent *e = ::readdir(d)) {
      const std::string n = e->d_name;
      if (n != "." && n != "..")
        names.push_back(n);
    }
    ::closedir(d);
  }
  INFO("directory entries: " << names.size());
  CHECK(names == std::vector<std::string>{"raced"});
}
