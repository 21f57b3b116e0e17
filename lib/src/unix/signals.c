/*
 * Signals on every unix: the SIGBUS handler behind the fault guard, and
 * the signal mask of the library's own threads.
 *
 * The guard: a copy runs inside a thread-local frame; a SIGBUS whose
 * address lies in the mapped side of that copy jumps back out of it.
 * Any other SIGBUS goes to the handler that was installed before ours,
 * or gets the default action. The copy makes no system call
 * (sigsetjmp(env, 0) saves no mask); the handler restores the
 * interrupted mask itself before jumping out, so the thread's signal
 * mask is exactly as it was.
 */
#include "unix.h"

#include <errno.h>
#include <setjmp.h>
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
    mmi_sys.sigprocmask(SIG_SETMASK, &((ucontext_t *)uc)->uc_sigmask, NULL);
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
  mmi_sys.sigaction(sig, &dfl, NULL);
  if (si->si_code <= 0)
    mmi_sys.raise(sig); /* sent by kill(): there is no access to re-execute */
}

int mmi_os_guard_install(void) {
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

bool mmi_os_guard_active(void) {
  struct sigaction now;
  if (mmi_sys.sigaction(SIGBUS, NULL, &now) != 0)
    return false;
  return (now.sa_flags & SA_SIGINFO) && now.sa_sigaction == on_sigbus;
}

bool mmi_os_guarded_copy(void *dst, const void *src, size_t len,
                         const void *mapped, uintptr_t *at) {
  guard_frame f;
  f.lo = (uintptr_t)mapped;
  f.hi = f.lo + len;
  f.addr = 0;
  if (sigsetjmp(f.env, 0) != 0) {
    *at = f.addr;
    return false;
  }
  current = &f;
  memcpy(dst, src, len);
  current = NULL;
  return true;
}

int mmi_os_thread_start(pthread_t *t, void *(*fn)(void *), void *arg) {
  /* Synchronous signals stay unblocked: a fault in a library thread must
   * reach the handler (the SIGBUS guard), and a blocked one kills. */
  static const int sync_sigs[] = {SIGBUS, SIGSEGV, SIGFPE, SIGILL, SIGTRAP};
  sigset_t all, old;
  sigfillset(&all);
  for (size_t i = 0; i < sizeof sync_sigs / sizeof *sync_sigs; i++)
    sigdelset(&all, sync_sigs[i]);
  /* Where the mask cannot be set, old is not known either: no thread
   * (it would take signals meant for the application's threads). */
  int e = mmi_sys.pthread_sigmask(SIG_SETMASK, &all, &old);
  if (e != 0)
    return e;
  e = mmi_sys.pthread_create(t, NULL, fn, arg);
  mmi_sys.pthread_sigmask(SIG_SETMASK, &old, NULL);
  return e;
}
