/*
 * Every way of naming a file: arbitrary options and dispositions for
 * mmapio_open_ex and the shorthands (create, open, open_or_create,
 * from_fd), and the file helpers (write_file, copy_file, delete_file),
 * over names of every kind: a regular file (empty or not), missing
 * names, names with odd bytes or too long, a path through a file,
 * symlinks (to a file, to a directory, dangling) with and without
 * MMAPIO_OPT_NOFOLLOW, and non-regular files (directory, FIFO, socket,
 * device). Each call must return the code the header gives for that kind
 * of name (never hang on a FIFO), leave its output untouched when it
 * fails, and never change a file it failed on; a symlink or non-regular
 * file is never replaced or removed.
 */
#define _GNU_SOURCE 1

#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

static const char marker[] = "mmapio fuzz marker";

/* What a name is (relative to the private directory, where the target
 * runs). */
typedef enum kind {
  K_REG,      /* a regular file holding the marker */
  K_EMPTY,    /* an empty regular file */
  K_MISSING,  /* nothing, in a directory that exists */
  K_NOPARENT, /* nothing, in a directory that does not exist */
  K_NOTDIR,   /* a path through a regular file */
  K_TOOLONG,  /* a component longer than NAME_MAX */
  K_LINK_REG, /* a symlink to K_REG's file */
  K_LINK_DIR, /* a symlink to a directory */
  K_DANGLING, /* a symlink to nothing */
  K_DIR,      /* a directory */
  K_FIFO,     /* a FIFO */
  K_SOCKET,   /* a bound Unix socket */
  K_DEVICE,   /* a character device (root only; else a FIFO) */
  K_ODD,      /* a missing name made of odd bytes */
  K_COUNT
} kind;

static bool have_device;

static void fail_setup(const char *what) {
  fprintf(stderr, "fuzz_options: %s: %s\n", what, strerror(errno));
  abort();
}

/* The absolute name of fixture `name` in the private directory (one of
 * four rotating buffers). */
static const char *at(const char *name) {
  static char bufs[4][4400];
  static unsigned next;
  char *b = bufs[next++ % 4];
  fz_path(b, sizeof bufs[0], name);
  return b;
}

/* The fixtures, made afresh for each input (a call may have replaced
 * one). */
static void make_fixtures(void) {
  const char *names[] = {"reg",  "empty", "link-reg", "link-dir", "dangling",
                         "fifo", "sock",  "dev",      "nowhere",  "new"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    unlink(at(names[i]));
  rmdir(at("dir"));
  fz_write_file(at("reg"), (const unsigned char *)marker, sizeof marker);
  fz_write_file(at("empty"), NULL, 0);
  /* Relative targets: the links resolve inside the directory. */
  if (mkdir(at("dir"), 0755) != 0 || symlink("reg", at("link-reg")) != 0 ||
      symlink("dir", at("link-dir")) != 0 ||
      symlink("nowhere", at("dangling")) != 0 || mkfifo(at("fifo"), 0644) != 0)
    fail_setup("making the fixtures");
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  if (strlen(at("sock")) >= sizeof a.sun_path)
    fail_setup("the private directory's name is too long for a socket");
  snprintf(a.sun_path, sizeof a.sun_path, "%s", at("sock"));
  if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0)
    fail_setup("binding a socket");
  close(s);
  have_device = mknod(at("dev"), S_IFCHR | 0666, makedev(1, 3)) == 0;
  if (!have_device && mkfifo(at("dev"), 0644) != 0)
    fail_setup("making a FIFO in place of a device");
}

/* A name of kind k, absolute, in buf. */
static const char *name_of(kind k, fz_input *in, char *buf, size_t cap) {
  static const char *const fixed[K_COUNT] = {
      [K_REG] = "reg",           [K_EMPTY] = "empty",
      [K_MISSING] = "new",       [K_NOPARENT] = "no-dir/new",
      [K_NOTDIR] = "reg/new",    [K_LINK_REG] = "link-reg",
      [K_LINK_DIR] = "link-dir", [K_DANGLING] = "dangling",
      [K_DIR] = "dir",           [K_FIFO] = "fifo",
      [K_SOCKET] = "sock",       [K_DEVICE] = "dev"};
  char n[301];
  if (fixed[k] != NULL) {
    snprintf(n, sizeof n, "%s", fixed[k]);
  } else if (k == K_TOOLONG) {
    memset(n, 'n', 300);
    n[300] = '\0';
  } else {
    /* Odd bytes, never '/', "~" first (never "." or "..", never a
     * fixture's name). */
    size_t len = 1 + fz_pick(in, 40);
    n[0] = '~';
    for (size_t i = 1; i < len; i++) {
      unsigned char c = (unsigned char)fz_take(in, 1);
      n[i] = (char)(c == '/' || c == 0 ? 0xff : c);
    }
    n[len] = '\0';
  }
  fz_path(buf, cap, n);
  return buf;
}

static bool regular(kind k) { return k == K_REG || k == K_EMPTY; }

static bool non_regular(kind k, bool follow) {
  return k == K_DIR || k == K_FIFO || k == K_SOCKET || k == K_DEVICE ||
         (k == K_LINK_DIR && follow);
}

static bool is_link(kind k) {
  return k == K_LINK_REG || k == K_LINK_DIR || k == K_DANGLING;
}

/* The name stays what it was: a fixture's content, a symlink's target. */
static void expect_unchanged(kind k, const char *name) {
  struct stat st;
  char got[sizeof marker];
  switch (k) {
  case K_REG: {
    int fd = open(at("reg"), O_RDONLY | O_CLOEXEC);
    FZ_CHECK(fd >= 0 && read(fd, got, sizeof got) == (ssize_t)sizeof got &&
                 memcmp(got, marker, sizeof got) == 0,
             "a failed call changed an existing file");
    close(fd);
    break;
  }
  case K_EMPTY:
    FZ_CHECK(stat(at("empty"), &st) == 0 && st.st_size == 0,
             "a failed call changed an empty file");
    break;
  case K_LINK_REG:
  case K_LINK_DIR:
  case K_DANGLING:
    FZ_CHECK(lstat(name, &st) == 0 && S_ISLNK(st.st_mode),
             "a symlink was replaced or removed");
    break;
  case K_DIR:
  case K_FIFO:
  case K_SOCKET:
  case K_DEVICE:
    FZ_CHECK(lstat(name, &st) == 0 && !S_ISREG(st.st_mode),
             "a non-regular file was replaced or removed");
    break;
  case K_MISSING:
  case K_ODD:
    FZ_CHECK(lstat(name, &st) != 0, "a failed call left a file behind");
    break;
  default:
    break;
  }
  if (k == K_LINK_REG)
    expect_unchanged(K_REG, at("reg"));
  if (k == K_DANGLING)
    FZ_CHECK(lstat(at("nowhere"), &st) != 0, "a failed call created the "
                                             "target of a dangling symlink");
}

/* The options, sometimes invalid. Returns the code check_options gives
 * (0 when they are valid for how). */
static int choose_options(fz_input *in, mmapio_options *o,
                          mmapio_disposition *how) {
  *o = (mmapio_options)MMAPIO_OPTIONS_INIT;
  o->version =
      fz_pick(in, 8) == 0 ? (unsigned)fz_take(in, 1) : MMAPIO_OPTIONS_VERSION;
  o->mode = (mmapio_mode)fz_pick(in, 5);
  o->size = fz_pick(in, 8) == 0 ? mmapio_max_size() + fz_take(in, 1)
                                : fz_edgy(in, 1u << 20);
  /* No SYNC_DIR/TOUCH_EAGER/HUGEPAGES: slow, and not what is fuzzed. */
  o->flags =
      (unsigned)fz_take(in, 1) &
      ~(MMAPIO_OPT_SYNC_DIR | MMAPIO_OPT_TOUCH_EAGER | MMAPIO_OPT_HUGEPAGES);
  o->perm = 0600 | ((unsigned)fz_take(in, 1) & 077);
  o->flush_policy = (mmapio_flush_policy)fz_pick(in, 7);
  o->flush_arg = fz_edgy(in, 64);
  if (o->flush_policy == MMAPIO_FLUSH_EVERY_MILLIS && o->flush_arg > 0)
    o->flush_arg = 1 + o->flush_arg % 4;
  o->reserve = fz_edgy(in, 1u << 24);
  *how = (mmapio_disposition)fz_pick(in, 5);
  bool bad =
      o->version != MMAPIO_OPTIONS_VERSION || o->mode < MMAPIO_MODE_RO ||
      o->mode > MMAPIO_MODE_COW || (o->flags & ~MMAPIO_OPT_ALL_) != 0 ||
      *how < MMAPIO_OPEN || *how > MMAPIO_OPEN_OR_CREATE ||
      (*how != MMAPIO_OPEN && o->mode != MMAPIO_MODE_RW) ||
      o->flush_policy > MMAPIO_FLUSH_EVERY_MILLIS ||
      (o->flush_policy != MMAPIO_FLUSH_MANUAL && o->mode != MMAPIO_MODE_RW) ||
      (o->flush_policy >= MMAPIO_FLUSH_EVERY_BYTES && o->flush_arg == 0);
  return bad ? MMAPIO_E_INVALID_ARGUMENT : 0;
}

static int size_code(uint64_t size) {
  return size == 0 || size > mmapio_max_size() ? MMAPIO_E_RESIZE_FAILED : 0;
}

/* The code opening a name of kind k gives (the file exists or not). */
static int open_code(kind k, const mmapio_options *o, bool follow) {
  if (is_link(k) && !follow)
    return MMAPIO_E_IO; /* ELOOP */
  if (non_regular(k, follow))
    return MMAPIO_E_INVALID_ARGUMENT;
  if (k == K_EMPTY)
    return o->mode == MMAPIO_MODE_RO ? 0 : MMAPIO_E_RESIZE_FAILED;
  if (k == K_REG || k == K_LINK_REG)
    return 0;
  return MMAPIO_E_IO; /* missing, no parent, not a directory, too long */
}

/* The code mmapio_open_ex gives for a name of kind k. */
static int expected(kind k, const mmapio_options *o, mmapio_disposition how) {
  bool follow = (o->flags & MMAPIO_OPT_NOFOLLOW) == 0;
  switch (how) {
  case MMAPIO_OPEN:
    return open_code(k, o, follow);
  case MMAPIO_CREATE:
    if (size_code(o->size) != 0)
      return size_code(o->size);
    if (is_link(k) && !follow)
      return MMAPIO_E_IO;
    if (non_regular(k, follow))
      return MMAPIO_E_INVALID_ARGUMENT;
    if (k == K_NOPARENT || k == K_NOTDIR || k == K_TOOLONG)
      return MMAPIO_E_IO;
    return 0; /* creates, truncates, or creates a dangling link's target */
  default:    /* OPEN_OR_CREATE */
    if (k == K_MISSING || k == K_ODD || k == K_NOPARENT)
      return size_code(o->size) != 0 ? size_code(o->size)
             : k == K_NOPARENT       ? MMAPIO_E_IO
                                     : 0;
    if (k == K_DANGLING && follow) /* nothing to open; nothing made */
      return size_code(o->size) != 0 ? size_code(o->size) : MMAPIO_E_IO;
    return open_code(k, o, follow);
  }
}

/* After a successful open: what the handle maps. */
static void check_opened(mmapio_map *m, kind k, const mmapio_options *o,
                         mmapio_disposition how) {
  bool made = how == MMAPIO_CREATE ||
              (how == MMAPIO_OPEN_OR_CREATE && !regular(k) && k != K_LINK_REG);
  uint64_t want = made ? o->size : k == K_EMPTY ? 0 : sizeof marker;
  FZ_CHECK(mmapio_len(m) == want, "the length of what was opened");
  FZ_CHECK(mmapio_mode_of(m) == o->mode, "the mode of what was opened");
  if (!made && want > 0) {
    char got[sizeof marker];
    FZ_RC(mmapio_read(m, 0, got, sizeof got), 0, "reading what was opened");
    FZ_CHECK(memcmp(got, marker, sizeof got) == 0, "the bytes opened");
  }
}

static void call_open_ex(fz_input *in, kind k, const char *name) {
  mmapio_options o;
  mmapio_disposition how;
  int want = choose_options(in, &o, &how);
  if (want == 0)
    want = expected(k, &o, how);
  mmapio_map *m = NULL;
  int rc;
  switch (fz_pick(in, 4)) { /* the shorthands, where they say the same */
  case 0:
    if (how == MMAPIO_CREATE && o.flags == 0 &&
        want != MMAPIO_E_INVALID_ARGUMENT) {
      rc = mmapio_create(&m, name, o.size);
      break;
    }
    /* fall through */
  case 1:
    if (how == MMAPIO_OPEN && o.version == MMAPIO_OPTIONS_VERSION &&
        o.flags == 0 && o.flush_policy == 0) {
      rc = mmapio_open(&m, name, o.mode);
      want = o.mode < MMAPIO_MODE_RO || o.mode > MMAPIO_MODE_COW
                 ? MMAPIO_E_INVALID_ARGUMENT
                 : expected(k, &o, how);
      break;
    }
    /* fall through */
  case 2:
    if (how == MMAPIO_OPEN_OR_CREATE && o.mode == MMAPIO_MODE_RW &&
        o.flags == 0 && want != MMAPIO_E_INVALID_ARGUMENT) {
      rc = mmapio_open_or_create(&m, name, o.size);
      break;
    }
    /* fall through */
  default:
    rc = mmapio_open_ex(&m, name, &o, how);
    break;
  }
  /* The file system may refuse preallocation, and a file of the largest
   * size may be more than it or the address space can take. */
  bool creating = how != MMAPIO_OPEN &&
                  (want == 0 || (k == K_DANGLING && want == MMAPIO_E_IO));
  bool refused =
      creating && rc != want &&
      ((rc == MMAPIO_E_RESIZE_FAILED && (o.flags & MMAPIO_OPT_PREALLOCATE)) ||
       (rc == MMAPIO_E_IO && o.size == mmapio_max_size()));
  if (refused)
    want = rc;
  FZ_RC(rc, want, "opening a name");
  if (rc != 0) {
    FZ_CHECK(m == NULL, "a failed open touched its output");
    /* Refused creates too: a create that fails after it opened the file
     * puts back the file it found, and removes one it made. */
    expect_unchanged(k, name);
    return;
  }
  check_opened(m, k, &o, how);
  mmapio_close(m);
}

static void call_from_fd(fz_input *in, kind k, const char *name) {
  static const int flags[] = {O_RDONLY, O_RDWR, O_WRONLY, O_PATH};
  int fl = flags[fz_pick(in, 4)];
  mmapio_mode mode = (mmapio_mode)fz_pick(in, 5);
  int fd = open(name, fl | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0)
    return;
  struct stat st;
  FZ_CHECK(fstat(fd, &st) == 0, "fstat");
  int acc = fl == O_PATH ? O_RDONLY : fl;
  int want;
  if (mode < MMAPIO_MODE_RO || mode > MMAPIO_MODE_COW)
    want = MMAPIO_E_INVALID_ARGUMENT;
  else if ((mode == MMAPIO_MODE_RW && acc != O_RDWR) || acc == O_WRONLY)
    want = MMAPIO_E_INVALID_MODE;
  else if (!S_ISREG(st.st_mode))
    want = MMAPIO_E_INVALID_ARGUMENT;
  else if (st.st_size == 0 && mode != MMAPIO_MODE_RO)
    want = MMAPIO_E_RESIZE_FAILED;
  else /* an O_PATH fd maps nothing (but an empty mapping needs no map) */
    want = fl == O_PATH && st.st_size > 0 ? MMAPIO_E_IO : 0;
  mmapio_map *m = NULL;
  int rc = mmapio_from_fd(&m, fd, mode, (fz_take(in, 1) & 1) ? name : NULL);
  FZ_RC(rc, want, "mmapio_from_fd");
  if (rc != 0) {
    FZ_CHECK(m == NULL && fcntl(fd, F_GETFD) >= 0,
             "a failed from_fd touched its output or closed the fd");
    close(fd);
    expect_unchanged(k, name);
    return;
  }
  FZ_CHECK(mmapio_len(m) == (uint64_t)st.st_size, "from_fd's length");
  mmapio_close(m);
  FZ_CHECK(fcntl(fd, F_GETFD) < 0, "close closes the fd from_fd took");
}

static void call_write_file(fz_input *in, kind k, const char *name) {
  uint64_t off = fz_edgy(in, sizeof marker);
  size_t len = fz_pick(in, sizeof marker + 2);
  const char *data = fz_pick(in, 8) == 0 ? NULL : "0123456789abcdefghijklmn";
  int want;
  if (data == NULL && len > 0)
    want = MMAPIO_E_INVALID_ARGUMENT;
  else if (is_link(k) && k != K_LINK_REG)
    want = k == K_LINK_DIR ? MMAPIO_E_INVALID_ARGUMENT : MMAPIO_E_IO;
  else if (non_regular(k, true))
    want = MMAPIO_E_INVALID_ARGUMENT;
  else if (k == K_EMPTY)
    want = MMAPIO_E_RESIZE_FAILED;
  else if (k != K_REG && k != K_LINK_REG)
    want = MMAPIO_E_IO;
  else
    want = fz_bounds(off, len, sizeof marker);
  FZ_RC(mmapio_write_file(name, off, data, len), want, "mmapio_write_file");
  if (want != 0) {
    expect_unchanged(k, name);
    return;
  }
  char got[sizeof marker], model[sizeof marker];
  memcpy(model, marker, sizeof model);
  if (len > 0)
    memcpy(model + off, data, len);
  int fd = open(at("reg"), O_RDONLY | O_CLOEXEC);
  FZ_CHECK(fd >= 0 && read(fd, got, sizeof got) == (ssize_t)sizeof got &&
               memcmp(got, model, sizeof got) == 0,
           "write_file's bytes");
  close(fd);
}

static void call_copy_file(fz_input *in, kind k, const char *name) {
  char dbuf[4400];
  kind dk = (kind)fz_pick(in, K_COUNT);
  const char *dst = name_of(dk, in, dbuf, sizeof dbuf);
  if (strcmp(dst, name) == 0)
    return;
  int want;
  if (non_regular(k, true))
    want = MMAPIO_E_INVALID_ARGUMENT;
  else if (k != K_REG && k != K_EMPTY && k != K_LINK_REG)
    want = MMAPIO_E_IO;
  else if (dk == K_NOPARENT || dk == K_NOTDIR || dk == K_TOOLONG || dk == K_DIR)
    want = MMAPIO_E_IO; /* no place for it, or a directory in the way */
  else
    want = 0; /* a new name, or replacing the name itself (even a link) */
  FZ_RC(mmapio_copy_file(name, dst), want, "mmapio_copy_file");
  if (want != 0) {
    expect_unchanged(dk, dst);
    expect_unchanged(k, name);
    return;
  }
  char got[sizeof marker + 1];
  int fd = open(dst, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  FZ_CHECK(fd >= 0, "the copy is a regular file under its name");
  ssize_t n = read(fd, got, sizeof got);
  close(fd);
  FZ_CHECK(k == K_EMPTY ? n == 0
                        : n == (ssize_t)sizeof marker &&
                              memcmp(got, marker, sizeof marker) == 0,
           "the copy's bytes");
  unlink(dst);
}

static void call_delete_file(kind k, const char *name) {
  int want = is_link(k) || non_regular(k, false) ? MMAPIO_E_INVALID_ARGUMENT
             : regular(k)                        ? 0
                                                 : MMAPIO_E_IO;
  FZ_RC(mmapio_delete_file(name), want, "mmapio_delete_file");
  struct stat st;
  if (want == 0)
    FZ_CHECK(lstat(name, &st) != 0, "delete_file removed the file");
  else
    expect_unchanged(k, name);
}

/* What the build supports, for any value of the enum: a capability is
 * answered with its name and a reason, anything else is refused with
 * *out untouched. */
static void query_capability(fz_input *in) {
  int cap = (int)(int8_t)fz_take(in, 1);
  mmapio_capability_info info;
  memset(&info, 0xa5, sizeof info);
  bool known = cap >= 0 && cap < MMAPIO_CAP_COUNT;
  int rc = mmapio_capability_query((mmapio_capability)cap, &info);
  if (!known) {
    FZ_RC(rc, MMAPIO_E_INVALID_ARGUMENT, "mmapio_capability_query");
    FZ_CHECK(info.reason[0] == (char)0xa5, "a refused query wrote *out");
    return;
  }
  if (rc == MMAPIO_E_NO_MEMORY)
    return; /* the scratch page could not be mapped: documented */
  FZ_RC(rc, 0, "mmapio_capability_query");
  FZ_CHECK(info.capability == (mmapio_capability)cap,
           "the answer's capability");
  FZ_CHECK(info.name != NULL && info.name[0] != '\0', "the answer's name");
  FZ_CHECK(memchr(info.reason, '\0', sizeof info.reason) != NULL &&
               info.reason[0] != '\0',
           "the answer's reason");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_input in = {data, size};
  make_fixtures();
  char buf[4400];
  kind k = (kind)fz_pick(&in, K_COUNT);
  const char *name = name_of(k, &in, buf, sizeof buf);
  switch (fz_pick(&in, 8)) {
  case 0:
  case 1:
  case 2:
    call_open_ex(&in, k, name);
    break;
  case 3:
    call_from_fd(&in, k, name);
    break;
  case 4:
    call_write_file(&in, k, name);
    break;
  case 5:
    call_copy_file(&in, k, name);
    break;
  case 6:
    call_delete_file(k, name);
    break;
  default: {
    mmapio_map *m = NULL;
    uint64_t len = fz_edgy(&in, 1u << 20);
    unsigned flags = (unsigned)fz_take(&in, 1);
    int want = (flags & ~(MMAPIO_OPT_HUGEPAGES | MMAPIO_OPT_TOUCH_EAGER))
                   ? MMAPIO_E_INVALID_ARGUMENT
                   : size_code(len);
    FZ_RC(mmapio_anon_ex(&m, len, flags), want, "mmapio_anon_ex");
    FZ_CHECK((m != NULL) == (want == 0), "anon_ex's output");
    mmapio_close(m);
    query_capability(&in);
    break;
  }
  }
  if (k == K_ODD)
    unlink(name);
  return 0;
}
