/*
 * flood: an attacker of `kring serve`, for tests, on loopback only. It
 * holds idle TCP connections to 127.0.0.1:PORT that never send a byte and
 * opens each again as soon as the server closes it, and it replays the
 * first handshake message (a 2-byte length and 32 random bytes, which
 * makes the server compute its answer) on connections it opens one after
 * another. Source addresses are bound explicitly and must lie in
 * 127.0.0.0/8; nothing ever leaves the machine. It stops by itself after
 * SECONDS (or after MAX replays, or on SIGTERM).
 *
 * usage: flood PORT SECONDS SPEC...
 *   idle:FIRST[-LAST]:N     N idle connections from each address FIRST..LAST
 *   replay:FIRST[-LAST]:N   N replays at a time from each address: connect,
 *                           send message 1, wait for the answer or the
 *                           close, close with a reset, again
 *   max:N                   stop after N replays
 * stdout: "ready HELD" once every idle connection was established once
 * (or after 10 s), then one summary line at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum { DOWN, CONNECTING, OPEN };

struct sock {
  int fd, replay, state, ever;
  uint32_t src;                /* host order */
};

static struct sock *socks;
static size_t nsocks;
static int ep, port;
static volatile sig_atomic_t stop;
static unsigned long connects, closed_by_server, fails, replays, answered;
static int last_errno;

static unsigned long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

static void on_term(int sig) { (void)sig; stop = 1; }

static void drop(struct sock *s)
{
  if (s->fd >= 0) close(s->fd);     /* SO_LINGER 0: a reset, no TIME_WAIT */
  s->fd = -1;
  s->state = DOWN;
}

/* Open s again; DOWN (retried at the next sweep) when that fails at once. */
static void open_sock(struct sock *s)
{
  struct sockaddr_in sa;
  struct linger lg = {1, 0};
  struct epoll_event ev;
  int one = 1;

  s->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (s->fd < 0) { fails++; s->state = DOWN; return; }
  setsockopt(s->fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(s->src);
  if (bind(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    fails++;
    last_errno = errno;
    drop(s);
    return;
  }
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = htons((uint16_t)port);
  if (connect(s->fd, (struct sockaddr *)&sa, sizeof sa) != 0 && errno != EINPROGRESS) {
    fails++;
    last_errno = errno;
    drop(s);
    return;
  }
  s->state = CONNECTING;
  ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
  ev.data.ptr = s;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, s->fd, &ev) != 0) { fails++; drop(s); }
}

static void on_event(struct sock *s, uint32_t events)
{
  char buf[512];
  ssize_t k;

  if (s->state == CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err) {
      fails++;
      last_errno = err;
      drop(s);
      open_sock(s);
      return;
    }
    if (!(events & EPOLLOUT)) { drop(s); open_sock(s); return; }
    s->state = OPEN;
    s->ever = 1;
    connects++;
    if (s->replay) {
      unsigned char m1[34] = {0, 32};
      for (int i = 2; i < 34; i++) m1[i] = (unsigned char)rand();
      if (write(s->fd, m1, sizeof m1) != (ssize_t)sizeof m1) { drop(s); open_sock(s); return; }
    }
    {
      struct epoll_event ev = {EPOLLIN | EPOLLRDHUP, {.ptr = s}};
      epoll_ctl(ep, EPOLL_CTL_MOD, s->fd, &ev);
    }
    return;
  }
  k = read(s->fd, buf, sizeof buf);
  if (k > 0 && !s->replay) return;        /* a server never speaks first: ignore */
  if (s->replay) {
    replays++;
    if (k > 0) answered++;
    else closed_by_server++;
  } else if (k == 0 || (k < 0 && errno != EAGAIN)) {
    closed_by_server++;
  } else {
    return;
  }
  drop(s);
  open_sock(s);
}

/* "127.0.0.2-127.0.0.201" or "127.0.0.1": host-order bounds, loopback only. */
static int parse_range(const char *txt, uint32_t *lo, uint32_t *hi)
{
  char a[64], *dash;
  struct in_addr x;
  snprintf(a, sizeof a, "%s", txt);
  dash = strchr(a, '-');
  if (dash) *dash = 0;
  if (inet_pton(AF_INET, a, &x) != 1) return -1;
  *lo = *hi = ntohl(x.s_addr);
  if (dash) {
    if (inet_pton(AF_INET, dash + 1, &x) != 1) return -1;
    *hi = ntohl(x.s_addr);
  }
  if ((*lo >> 24) != 127 || (*hi >> 24) != 127 || *hi < *lo) return -1;
  return 0;
}

int main(int argc, char **argv)
{
  unsigned long long end, ready_by;
  unsigned long max = 0;
  struct rlimit rl;
  int ready = 0;

  if (argc < 4) {
    fprintf(stderr, "usage: flood PORT SECONDS idle:FIRST[-LAST]:N|replay:FIRST[-LAST]:N|max:N...\n");
    return 2;
  }
  port = atoi(argv[1]);
  end = now_ms() + 1000ull * (unsigned long long)atoi(argv[2]);
  ready_by = now_ms() + 10000;
  srand((unsigned)getpid());
  signal(SIGPIPE, SIG_IGN);
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  for (int i = 3; i < argc; i++) {
    char kind[16], range[64];
    unsigned long n;
    uint32_t lo, hi;
    if (sscanf(argv[i], "max:%lu", &n) == 1) { max = n; continue; }
    if (sscanf(argv[i], "%15[a-z]:%63[0-9.-]:%lu", kind, range, &n) != 3 ||
        (strcmp(kind, "idle") && strcmp(kind, "replay")) || parse_range(range, &lo, &hi)) {
      fprintf(stderr, "flood: '%s' is not idle:ADDR[-ADDR]:N or replay:... in 127.0.0.0/8\n", argv[i]);
      return 2;
    }
    socks = realloc(socks, (nsocks + (hi - lo + 1) * n) * sizeof *socks);
    if (!socks) return 1;
    for (uint32_t a = lo; a <= hi; a++)
      for (unsigned long j = 0; j < n; j++)
        socks[nsocks++] = (struct sock){-1, kind[0] == 'r', DOWN, 0, a};
  }
  if ((rl.rlim_cur != RLIM_INFINITY && nsocks + 16 > rl.rlim_cur)) {
    fprintf(stderr, "flood: %zu connections need more file descriptors than %llu\n", nsocks,
            (unsigned long long)rl.rlim_cur);
    return 1;
  }
  if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0) return 1;
  for (size_t i = 0; i < nsocks; i++) open_sock(&socks[i]);
  while (!stop && now_ms() < end && !(max && replays >= max)) {
    struct epoll_event ev[256];
    int k = epoll_wait(ep, ev, 256, 10);
    for (int i = 0; i < k; i++) on_event(ev[i].data.ptr, ev[i].events);
    for (size_t i = 0; i < nsocks; i++)
      if (socks[i].state == DOWN) open_sock(&socks[i]);
    if (!ready) {
      size_t held = 0, idle = 0, ever = 0;
      for (size_t i = 0; i < nsocks; i++) {
        if (socks[i].replay) continue;
        idle++;
        ever += socks[i].ever;
        held += socks[i].state == OPEN;
      }
      if (ever == idle || now_ms() > ready_by) {
        printf("ready %zu\n", held);
        fflush(stdout);
        ready = 1;
      }
    }
  }
  {
    size_t held = 0;
    for (size_t i = 0; i < nsocks; i++) held += socks[i].state == OPEN && !socks[i].replay;
    printf("flood: %lu connections, %lu closed by the server, %lu failed to connect, "
           "%lu replays (%lu answered), %zu idle held at the end%s%s\n",
           connects, closed_by_server, fails, replays, answered, held,
           last_errno ? "; last failure: " : "", last_errno ? strerror(last_errno) : "");
  }
  for (size_t i = 0; i < nsocks; i++) drop(&socks[i]);
  free(socks);
  return 0;
}
