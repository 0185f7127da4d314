// The few newlib-nano system calls a bare-metal image needs. The firmware never uses files or the heap; libc
// internals (vsnprintf in TFLM's log hook) may call _sbrk, everything else fails cleanly.
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

extern char __heap_start, __stack_limit;

void* _sbrk(int increment) {
  static char* brk = &__heap_start;
  if (brk + increment > &__stack_limit) {
    errno = ENOMEM;
    return (void*)-1;
  }
  char* old = brk;
  brk += increment;
  return old;
}

int _write(int fd, const char* data, int len) {
  (void)fd;
  (void)data;
  (void)len;
  errno = ENOSYS;  // output goes through platform::Write, never stdio
  return -1;
}

int _read(int fd, char* data, int len) {
  (void)fd;
  (void)data;
  (void)len;
  errno = ENOSYS;
  return -1;
}

int _close(int fd) {
  (void)fd;
  return -1;
}

int _fstat(int fd, struct stat* st) {
  (void)fd;
  st->st_mode = S_IFCHR;
  return 0;
}

int _isatty(int fd) {
  (void)fd;
  return 1;
}

int _lseek(int fd, int offset, int whence) {
  (void)fd;
  (void)offset;
  (void)whence;
  return 0;
}

int _getpid(void) { return 1; }

int _kill(int pid, int sig) {
  (void)pid;
  (void)sig;
  errno = EINVAL;
  return -1;
}

void _exit(int status) {
  (void)status;
  for (;;) {
  }
}
