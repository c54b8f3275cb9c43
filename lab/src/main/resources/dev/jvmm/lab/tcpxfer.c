/* tcpxfer: one TCP transfer for the virtio-net lab tests and benchmarks (static, no libc beyond POSIX).
 *   tcpxfer recv PORT OUT     listen on PORT, accept one connection, write everything to OUT until EOF
 *   tcpxfer send HOST PORT IN connect (retrying for 30 s), send IN, shut down the write side, wait for EOF
 * Prints "tcpxfer: N bytes in S s (R MB/s)" on stderr; exit 0 on success. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int copy(int in, int out, long long *total) {
    static char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0) return 0;
        if (n < 0) { if (errno == EINTR) continue; perror("tcpxfer: read"); return -1; }
        for (ssize_t o = 0; o < n;) {
            ssize_t w = write(out, buf + o, n - o);
            if (w < 0) { if (errno == EINTR) continue; perror("tcpxfer: write"); return -1; }
            o += w;
        }
        *total += n;
    }
}

int main(int argc, char **argv) {
    long long total = 0;
    double t0;
    if (argc == 4 && !strcmp(argv[1], "recv")) {
        int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
        if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1)) { perror("tcpxfer: bind/listen"); return 1; }
        int out = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0) { perror("tcpxfer: open"); return 1; }
        int c = accept(l, NULL, NULL);
        if (c < 0) { perror("tcpxfer: accept"); return 1; }
        t0 = now();
        if (copy(c, out, &total)) return 1;
        if (close(out)) { perror("tcpxfer: close"); return 1; }
        close(c);
    } else if (argc == 5 && !strcmp(argv[1], "send")) {
        int in = open(argv[4], O_RDONLY);
        if (in < 0) { perror("tcpxfer: open"); return 1; }
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[3]))};
        if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1) { fprintf(stderr, "tcpxfer: bad address\n"); return 1; }
        int s = -1;
        for (int i = 0; i < 300; i++) {
            s = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) break;
            close(s);
            s = -1;
            usleep(100000);
        }
        if (s < 0) { perror("tcpxfer: connect"); return 1; }
        t0 = now();
        if (copy(in, s, &total)) return 1;
        shutdown(s, SHUT_WR);
        char b;
        while (read(s, &b, 1) > 0) {
        }
        close(s);
    } else {
        fprintf(stderr, "usage: tcpxfer recv PORT OUT | tcpxfer send HOST PORT IN\n");
        return 2;
    }
    double dt = now() - t0;
    fprintf(stderr, "tcpxfer: %lld bytes in %.2f s (%.1f MB/s)\n", total, dt, dt > 0 ? total / dt / 1e6 : 0.0);
    return 0;
}
