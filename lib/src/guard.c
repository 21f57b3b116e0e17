/*
 * The fault guard. When another process truncates a mapped file, touching
 * a page past the new end raises SIGBUS, which kills the process. With
 * the guard on for a handle, its copy paths run inside a thread-local
 * frame: a SIGBUS whose address lies in the range being copied jumps
 * back out of the copy, which then returns MMAPIO_E_FAULT. Any other
 * SIGBUS goes to the handler that was installed before ours, or gets the
 * default action. The copy path makes no system call (sigsetjmp(env, 0)
 * saves no mask); the handler restores the interrupted mask itself
 * before jumping out, so the thread's signal mask is exactly as it was.
 */
#include "internal.h"
#include "sys.h"

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

typedef struct guard_frame {
  sigjmp_buf env;
  uintptr_t lo, hi; /* the mapped bytes being copied */
  uintptr_t addr;   /* where the fault hit */
} guard_frame;

static _Thread_local guard_frame *volatile current;
static struct sigaction previous;
static pthread_mutex_t install_mu = PTHREAD_MUTEX_INITIALIZER;
static bool installed; /* guarded by install_mu */

static void on_sigbus(int sig, siginfo_t *si, void *uc) {
  guard_frame *f = current;
  uintptr_t a = (uintptr_t)si->si_addr;
  if (f != NULL && a >= f->lo && a < f->hi) {
    current = NULL;
    f->addr = a;
    /* Leave with the mask the copy ran under (the kernel saved it in the
     * context); a runtime that wraps handlers (ThreadSanitizer does) may
     * have blocked more, and a blocked SIGBUS would kill the next fault. */
    sigprocmask(SIG_SETMASK, &((ucontext_t *)uc)->uc_sigmask, NULL);
    siglongjmp(f->env, 1);
  }
  if (previous.sa_flags & SA_SIGINFO) {
    previous.sa_sigaction(sig, si, uc);
    return;
  }
  if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
    previous.sa_handler(sig);
    return;
  }
  /* Default action: returning re-executes the faulting access, which
   * now gets it (a fault cannot be ignored). */
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  sigaction(sig, &dfl, NULL);
  if (si->si_code <= 0)
    raise(sig); /* sent by kill(): there is no access to re-execute */
}

/* Installs the handler once per process; 0 or an errno value. */
static int install(void) {
  pthread_mutex_lock(&install_mu);
  int e = 0;
  if (!installed) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (mmi_sys.sigaction(SIGBUS, &sa, &previous) == 0)
      installed = true;
    else
      e = errno;
  }
  pthread_mutex_unlock(&install_mu);
  return e;
}

int mmapio_set_guard(mmapio_map *m, bool on) {
  if (m == NULL)
    return mmi_fail(MMAPIO_E_INVALID_ARGUMENT, 0, NULL,
                    "mmapio_set_guard: m is NULL");
  int e;
  if (on && (e = install()) != 0)
    return mmi_fail(MMAPIO_E_IO, e, "sigaction",
                    "mmapio_set_guard: installing the SIGBUS handler "
                    "failed");
  atomic_store_explicit(&m->head.guarded_, on, memory_order_relaxed);
  return 0;
}

int mmi_guarded_copy(const char *fn, void *dst, const void *src, size_t len,
                     const void *mapped, uint64_t off) {
  guard_frame f;
  f.lo = (uintptr_t)mapped;
  f.hi = f.lo + len;
  f.addr = 0;
  if (sigsetjmp(f.env, 0) != 0)
    return mmi_fail(MMAPIO_E_FAULT, 0, NULL,
                    "%s: SIGBUS at offset %llu while copying [%llu, +%zu): "
                    "the file is shorter than the mapping (truncated by "
                    "another process?)",
                    fn, (unsigned long long)(off + (f.addr - f.lo)),
                    (unsigned long long)off, len);
  current = &f;
  memcpy(dst, src, len);
  current = NULL;
  return 0;
}
