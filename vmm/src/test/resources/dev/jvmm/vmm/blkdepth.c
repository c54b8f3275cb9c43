/* blkdepth: many O_DIRECT writers and readers at once over one region of a block device, every block checked, for
 * the virtio-blk queue depth lab test (static, POSIX threads only).
 *
 *   blkdepth DEV MIB THREADS SEED
 *       the first MIB MiB of DEV in 64 KiB blocks; thread t owns blocks t, t+THREADS, ... Phases, each with all
 *       threads at once (so the device sees up to THREADS requests in flight):
 *         write   every block gets generation 1 (a header naming block, generation and seed, then data from a
 *                 generator seeded by them); its checksum is kept in memory
 *         fsync   the device is flushed
 *         read    every block read back by another thread than its writer and checked
 *         mixed   even threads rewrite their blocks as generation 2, in 4 KiB-multiple pieces, each block read back
 *                 and checked right after; odd threads read and check theirs (generation 1) twice meanwhile
 *         fsync
 *         verify  every block read back by yet another thread and checked
 *       prints "BLKDEPTH-OK DEV ..." with per-phase figures and "BLKDEPTH-SUM DEV HEX" (a checksum of the block
 *       checksums, in block order); exit 0 when every check passed. A failed check prints "BLKDEPTH-BAD ..." (the
 *       first 20) and exits 1.
 *   blkdepth --sum FILE MIB
 *       prints "BLKDEPTH-SUM FILE HEX" for the first MIB MiB of FILE (plain reads): equal to the guest's when the
 *       image holds what the guest last wrote. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BLK (64 * 1024)
#define MAGIC 0x444b4c42u /* "BLKD" */
#define MAXT 64

static int fd;
static const char *dev;
static unsigned nblocks, nthreads;
static uint64_t seed;
static uint64_t *csum;
static uint32_t *gen;
static volatile int errors;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t ios, bytes; /* guarded by lock */

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t fnv(const void *p, size_t n, uint64_t h) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV0 0xcbf29ce484222325ull

static void fill(unsigned char *buf, unsigned b, uint32_t g) {
    uint64_t x = (seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)b << 20) ^ g ^ 0x5851f42d4c957f2dull;
    uint64_t *w = (uint64_t *)buf;
    for (size_t i = 0; i < BLK / 8; i++) {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        w[i] = x * 0x2545f4914f6cdd1dull;
    }
    uint32_t *h = (uint32_t *)buf;
    h[0] = MAGIC;
    h[1] = b;
    h[2] = g;
    h[3] = (uint32_t)seed;
}

static void bad(const char *fmt, unsigned b, unsigned a1, unsigned a2, unsigned long long c1,
                unsigned long long c2) {
    pthread_mutex_lock(&lock);
    if (errors++ < 20) {
        printf("BLKDEPTH-BAD %s block %u: ", dev, b);
        printf(fmt, a1, a2, c1, c2);
        printf("\n");
        fflush(stdout);
    }
    pthread_mutex_unlock(&lock);
}

static void count(uint64_t n) {
    pthread_mutex_lock(&lock);
    ios++;
    bytes += n;
    pthread_mutex_unlock(&lock);
}

static int xfer(int write, unsigned char *buf, size_t len, off_t off, unsigned b) {
    ssize_t r;
    do {
        r = write ? pwrite(fd, buf, len, off) : pread(fd, buf, len, off);
    } while (r < 0 && errno == EINTR);
    if (r != (ssize_t)len) {
        int e = errno;
        pthread_mutex_lock(&lock);
        if (errors++ < 20) {
            printf("BLKDEPTH-BAD %s block %u: %s of %zu bytes at %lld returned %zd: %s\n", dev, b,
                   write ? "pwrite" : "pread", len, (long long)off, r, r < 0 ? strerror(e) : "short");
            fflush(stdout);
        }
        pthread_mutex_unlock(&lock);
        return -1;
    }
    count(len);
    return 0;
}

static void check(unsigned char *buf, unsigned b) {
    uint32_t *h = (uint32_t *)buf;
    uint64_t c = fnv(buf, BLK, FNV0);
    if (h[0] != MAGIC || h[1] != b || h[2] != gen[b]) {
        bad("header names block %u generation %u (checksum %016llx, expected %016llx)", b, h[1], h[2],
            (unsigned long long)c, (unsigned long long)csum[b]);
    } else if (c != csum[b]) {
        bad("checksum differs (generation %u of %u): %016llx, expected %016llx", b, h[2], gen[b],
            (unsigned long long)c, (unsigned long long)csum[b]);
    }
}

enum { WRITE, READ, MIXED, VERIFY };
static int phase;

static void *worker(void *arg) {
    unsigned t = (unsigned)(uintptr_t)arg;
    unsigned char *buf, *back;
    if (posix_memalign((void **)&buf, 4096, BLK) || posix_memalign((void **)&back, 4096, BLK)) {
        perror("blkdepth: posix_memalign");
        exit(2);
    }
    uint64_t rnd = seed ^ (t * 0x9e3779b97f4a7c15ull) ^ 1;
    for (unsigned b = 0; b < nblocks; b++) {
        unsigned owner = b % nthreads;
        off_t off = (off_t)b * BLK;
        switch (phase) {
        case WRITE:
            if (owner != t) continue;
            gen[b] = 1;
            fill(buf, b, 1);
            csum[b] = fnv(buf, BLK, FNV0);
            xfer(1, buf, BLK, off, b);
            break;
        case READ:
            if (owner != (t + 1) % nthreads) continue;
            if (xfer(0, back, BLK, off, b) == 0) check(back, b);
            break;
        case MIXED:
            if (owner != t) continue;
            if (t % 2 == 0) {
                gen[b] = 2;
                fill(buf, b, 2);
                csum[b] = fnv(buf, BLK, FNV0);
                /* pieces of 4 KiB multiples: requests of many sizes */
                for (size_t o = 0; o < BLK;) {
                    rnd ^= rnd << 13;
                    rnd ^= rnd >> 7;
                    rnd ^= rnd << 17;
                    size_t n = 4096 * (1 + rnd % 8);
                    if (n > BLK - o) n = BLK - o;
                    if (xfer(1, buf + o, n, off + o, b)) break;
                    o += n;
                }
                if (xfer(0, back, BLK, off, b) == 0) check(back, b);
            } else {
                for (int i = 0; i < 2; i++) {
                    if (xfer(0, back, BLK, off, b) == 0) check(back, b);
                }
            }
            break;
        case VERIFY:
            if (owner != (t + 3) % nthreads) continue;
            if (xfer(0, back, BLK, off, b) == 0) check(back, b);
            break;
        }
    }
    free(buf);
    free(back);
    return NULL;
}

static double run(int p, char *report, size_t cap, const char *name) {
    pthread_t th[MAXT];
    phase = p;
    ios = bytes = 0;
    double t0 = now();
    for (unsigned t = 0; t < nthreads; t++) {
        if (pthread_create(&th[t], NULL, worker, (void *)(uintptr_t)t)) {
            perror("blkdepth: pthread_create");
            exit(2);
        }
    }
    for (unsigned t = 0; t < nthreads; t++) pthread_join(th[t], NULL);
    double s = now() - t0;
    size_t l = strlen(report);
    snprintf(report + l, cap - l, " %s=%.0fms/%llu/%.1fMB/s", name, s * 1000, (unsigned long long)ios,
             bytes / s / 1e6);
    return s;
}

static void flush(char *report, size_t cap) {
    double t0 = now();
    if (fsync(fd)) {
        printf("BLKDEPTH-BAD %s fsync: %s\n", dev, strerror(errno));
        errors++;
    }
    size_t l = strlen(report);
    snprintf(report + l, cap - l, " fsync=%.0fms", (now() - t0) * 1000);
}

static int sum(const char *file, unsigned mib) {
    int f = open(file, O_RDONLY);
    if (f < 0) {
        perror(file);
        return 2;
    }
    static unsigned char buf[BLK];
    uint64_t s = FNV0;
    for (unsigned b = 0; b < mib * (1024u * 1024 / BLK); b++) {
        if (pread(f, buf, BLK, (off_t)b * BLK) != BLK) {
            fprintf(stderr, "blkdepth: %s: short read at block %u\n", file, b);
            return 2;
        }
        uint64_t c = fnv(buf, BLK, FNV0);
        s = fnv(&c, sizeof c, s);
    }
    printf("BLKDEPTH-SUM %s %016llx\n", file, (unsigned long long)s);
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 4 && !strcmp(argv[1], "--sum")) return sum(argv[2], (unsigned)atoi(argv[3]));
    if (argc != 5) {
        fprintf(stderr, "usage: blkdepth DEV MIB THREADS SEED | blkdepth --sum FILE MIB\n");
        return 2;
    }
    dev = argv[1];
    nblocks = (unsigned)atoi(argv[2]) * (1024u * 1024 / BLK);
    nthreads = (unsigned)atoi(argv[3]);
    seed = strtoull(argv[4], NULL, 0);
    if (nblocks == 0 || nthreads == 0 || nthreads > MAXT) {
        fprintf(stderr, "blkdepth: bad arguments\n");
        return 2;
    }
    fd = open(dev, O_RDWR | O_DIRECT);
    if (fd < 0) {
        perror(dev);
        return 2;
    }
    csum = calloc(nblocks, sizeof *csum);
    gen = calloc(nblocks, sizeof *gen);
    char report[1024] = "";
    double t0 = now();
    run(WRITE, report, sizeof report, "write");
    flush(report, sizeof report);
    run(READ, report, sizeof report, "read");
    run(MIXED, report, sizeof report, "mixed");
    flush(report, sizeof report);
    run(VERIFY, report, sizeof report, "verify");
    uint64_t s = FNV0;
    for (unsigned b = 0; b < nblocks; b++) s = fnv(&csum[b], sizeof csum[b], s);
    close(fd);
    if (errors) {
        printf("BLKDEPTH-FAILED %s %d errors\n", dev, errors);
        return 1;
    }
    printf("BLKDEPTH-OK %s blocks=%u threads=%u total=%.1fs%s\n", dev, nblocks, nthreads, now() - t0, report);
    printf("BLKDEPTH-SUM %s %016llx\n", dev, (unsigned long long)s);
    return 0;
}
