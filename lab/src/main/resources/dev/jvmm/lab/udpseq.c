/* udpseq: a stream of numbered UDP datagrams, to measure what a network path loses while it changes (failover).
 *   udpseq send HOST PORT INTERVAL_US SECONDS   send datagram 0, 1, 2, ... every INTERVAL_US for SECONDS, then a
 *                                               last one numbered 0xffffffff (the end mark, sent 5 times)
 *   udpseq recv PORT SECONDS                    receive until the end mark, SECONDS or SIGTERM, then print one line:
 *     udpseq: received R of S sent, lost L, duplicates D, reordered O, longest gap G ms (after seq N); gaps G2 ms
 *     (after seq N2), G3 ms (after seq N3)
 * A gap is the time between two datagrams received in a row (the three longest are named by the sequence number
 * before them: the sender sends one every INTERVAL_US, so a number is a time); S is the highest number seen plus
 * one. Exit 0. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define END 0xffffffffu
#define MAXSEQ (1u << 22)

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int usage(void) {
    fprintf(stderr, "usage: udpseq send HOST PORT INTERVAL_US SECONDS | udpseq recv PORT SECONDS\n");
    return 2;
}

static int do_send(const char *host, int port, long interval_us, double seconds) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (s < 0 || inet_pton(AF_INET, host, &a.sin_addr) != 1) { perror("udpseq: socket/address"); return 1; }
    char buf[64];
    memset(buf, 0, sizeof buf);
    double t0 = now(), next = t0;
    uint32_t seq = 0;
    long errors = 0;
    while (now() - t0 < seconds && seq < MAXSEQ) {
        uint32_t n = htonl(seq);
        memcpy(buf, &n, 4);
        if (sendto(s, buf, sizeof buf, 0, (struct sockaddr *) &a, sizeof a) < 0) errors++; /* e.g. no route for a moment */
        seq++;
        next += interval_us / 1e6;
        double d = next - now();
        if (d > 0) usleep((useconds_t) (d * 1e6));
    }
    uint32_t e = htonl(END);
    memcpy(buf, &e, 4);
    for (int i = 0; i < 5; i++) { sendto(s, buf, sizeof buf, 0, (struct sockaddr *) &a, sizeof a); usleep(20000); }
    fprintf(stderr, "udpseq: sent %u datagrams in %.1f s (%ld send errors)\n", seq, now() - t0, errors);
    close(s);
    return 0;
}

static volatile sig_atomic_t stop;

static void on_term(int sig) {
    (void) sig;
    stop = 1;
}

static int do_recv(int port, double seconds) {
    struct sigaction sa = {.sa_handler = on_term};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
    if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof a) < 0) { perror("udpseq: bind"); return 1; }
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    unsigned char *seen = calloc(MAXSEQ, 1);
    if (!seen) return 1;
    double t0 = now(), last = -1, gaps[3] = {0, 0, 0};
    uint32_t after[3] = {0, 0, 0}, prev = 0, highest = 0;
    long received = 0, dups = 0, reordered = 0;
    int any = 0;
    char buf[64];
    while (!stop && now() - t0 < seconds) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n < 4) continue;
        uint32_t seq;
        memcpy(&seq, buf, 4);
        seq = ntohl(seq);
        if (seq == END) break;
        if (seq >= MAXSEQ) continue;
        double t = now();
        if (seen[seq]) { dups++; continue; }
        seen[seq] = 1;
        received++;
        if (any && seq < prev) reordered++;
        if (last >= 0 && t - last > gaps[2]) { /* keep the three longest, longest first */
            double g = t - last;
            int i = 2;
            while (i > 0 && g > gaps[i - 1]) { gaps[i] = gaps[i - 1]; after[i] = after[i - 1]; i--; }
            gaps[i] = g; after[i] = prev;
        }
        last = t;
        prev = seq;
        if (!any || seq > highest) highest = seq;
        any = 1;
    }
    long sent = any ? (long) highest + 1 : 0;
    printf("udpseq: received %ld of %ld sent, lost %ld, duplicates %ld, reordered %ld, longest gap %.1f ms (after seq %u); "
           "gaps %.1f ms (after seq %u), %.1f ms (after seq %u)\n", received, sent, sent - received, dups, reordered,
           gaps[0] * 1000, after[0], gaps[1] * 1000, after[1], gaps[2] * 1000, after[2]);
    fflush(stdout);
    close(s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 6 && strcmp(argv[1], "send") == 0) return do_send(argv[2], atoi(argv[3]), atol(argv[4]), atof(argv[5]));
    if (argc == 4 && strcmp(argv[1], "recv") == 0) return do_recv(atoi(argv[2]), atof(argv[3]));
    return usage();
}
