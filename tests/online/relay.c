/*
 * relay: a TCP relay that makes a link intermittent, for tests. It listens
 * on 127.0.0.1 (a free port, printed on the first line of stdout) and
 * forwards each connection to 127.0.0.1:TARGET, but cuts every connection
 * after a random number of bytes (64 KiB .. 8 MiB, both ways together), and after a cut goes
 * down now and then for a random 0.2 .. 2 s, refusing connections. One
 * process per connection.
 * usage: relay TARGET_PORT SEED
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


static unsigned long long now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (unsigned long long)ts.tv_sec * 1000 + (unsigned long long)ts.tv_nsec / 1000000;
}

/* Carry bytes both ways until budget bytes have passed or a side closes. */
static void carry(int a, int b, long budget)
{
  struct pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buf[16384];
  while (budget > 0 && poll(fds, 2, -1) > 0) {
    for (int d = 0; d < 2; d++) {
      ssize_t k, off = 0;
      if (!(fds[d].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      if ((k = read(fds[d].fd, buf, sizeof buf)) <= 0) return;
      if (k > budget) k = budget;
      while (off < k) {
        ssize_t w = write(fds[1 - d].fd, buf + off, (size_t)(k - off));
        if (w <= 0) return;
        off += w;
      }
      budget -= k;
    }
  }
}

int main(int argc, char **argv)
{
  struct sockaddr_in sa;
  socklen_t sl = sizeof sa;
  int lfd, target, one = 1;
  unsigned long long down_until = 0;
  unsigned long conns = 0, refused = 0;

  if (argc != 3) { fprintf(stderr, "usage: relay TARGET_PORT SEED\n"); return 2; }
  target = atoi(argv[1]);
  srand((unsigned)atoi(argv[2]));
  signal(SIGPIPE, SIG_IGN);
  signal(SIGCHLD, SIG_IGN);      /* no zombies */
  lfd = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) || listen(lfd, 16) ||
      getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
    perror("relay");
    return 1;
  }
  printf("%d\n", ntohs(sa.sin_port));
  fflush(stdout);
  for (;;) {
    struct sockaddr_in ta;
    long budget;
    int c = accept(lfd, NULL, NULL), t;
    if (c < 0) continue;
    if (now_ms() < down_until) {
      close(c);
      fprintf(stderr, "relay: down, refused (%lu refused)\n", ++refused);
      continue;
    }
    budget = 65536 + rand() % (8 << 20);
    /* now and then the link goes down for a while after this connection */
    if (rand() % 4 == 0) down_until = now_ms() + 200 + (unsigned long long)(rand() % 1800);
    fprintf(stderr, "relay: connection %lu, cut after %ld bytes\n", ++conns, budget);
    if ((t = socket(AF_INET, SOCK_STREAM, 0)) < 0) { close(c); continue; }
    memset(&ta, 0, sizeof ta);
    ta.sin_family = AF_INET;
    ta.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ta.sin_port = htons((unsigned short)target);
    if (connect(t, (struct sockaddr *)&ta, sizeof ta) == 0 && fork() == 0) {
      close(lfd);
      carry(c, t, budget);
      _exit(0);
    }
    close(c);
    close(t);
  }
}
