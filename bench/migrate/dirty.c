/*
 * The busy guest of the migration benchmark (bench/migrate/inner.sh): dirties guest RAM at a fixed rate.
 *
 *   dirty [MIB=256] [PAGES_PER_S=16384]
 *
 * Allocates MIB MiB, writes one byte in every 4 KiB page of it (so that no page is zero and every one must be sent),
 * prints "MB-READY ...", then writes one byte per page in turn, round and round the buffer, at PAGES_PER_S pages a
 * second (16384 pages/s = 64 MiB/s of dirtied pages), paced with CLOCK_MONOTONIC: a token bucket refilled at that
 * rate, which holds at most 100 ms of pages, so that after a stall (the VM paused, the vCPU descheduled) it does not
 * burst to catch up. Every second it prints "MB-RATE <MiB/s> MiB/s <pages/s> pages/s", measured over that second:
 * what it achieved, which under nested virtualisation can be less than asked for.
 *
 * Built static in L1: gcc -O2 -static -o dirty dirty.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PAGE 4096L

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double) t.tv_sec + (double) t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    long mib = argc > 1 ? atol(argv[1]) : 256;
    long rate = argc > 2 ? atol(argv[2]) : 16384;
    if (mib <= 0 || rate <= 0) {
        fprintf(stderr, "usage: dirty [MIB=256] [PAGES_PER_S=16384]\n");
        return 2;
    }
    long pages = mib * (1048576L / PAGE);
    volatile unsigned char *buf = malloc((size_t) pages * PAGE);
    if (buf == NULL) {
        perror("dirty: malloc");
        return 1;
    }
    double t0 = now();
    for (long p = 0; p < pages; p++) {
        buf[p * PAGE] = 1;
    }
    printf("MB-READY dirty: %ld MiB touched in %.1f s, now %ld pages/s (%.1f MiB/s)\n", mib, now() - t0, rate,
           (double) rate * PAGE / 1048576.0);
    fflush(stdout);

    const double cap = rate / 10.0; /* the bucket holds 100 ms of pages at most */
    const struct timespec nap = {0, 1000000}; /* 1 ms */
    double budget = 0, prev = now(), last = prev;
    long p = 0, written = 0, reported = 0;
    unsigned char v = 2;
    for (;;) {
        double t = now();
        budget += (t - prev) * (double) rate;
        prev = t;
        if (budget > cap) {
            budget = cap;
        }
        long n = (long) budget;
        budget -= (double) n;
        for (long i = 0; i < n; i++) {
            buf[p * PAGE] = v;
            if (++p == pages) {
                p = 0;
                v++;
            }
        }
        written += n;
        if (t - last >= 1.0) {
            double pps = (double) (written - reported) / (t - last);
            printf("MB-RATE %.1f MiB/s %.0f pages/s\n", pps * PAGE / 1048576.0, pps);
            fflush(stdout);
            last = t;
            reported = written;
        }
        nanosleep(&nap, NULL);
    }
}
