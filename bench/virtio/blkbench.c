/* blkbench: O_DIRECT block benchmark for the lab's guests (no fio in the guest kit).
 *   blkbench DEV seqread|seqwrite MIB      sequential 1 MiB requests; prints MB/s
 *   blkbench DEV randread SECONDS          4 KiB random reads (queue depth 1); prints IOPS */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: blkbench DEV seqread|seqwrite MIB | randread SECONDS\n"); return 2; }
    int wr = !strcmp(argv[2], "seqwrite");
    int fd = open(argv[1], (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) { perror("open"); return 1; }
    unsigned long long size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size)) size = lseek(fd, 0, SEEK_END);
    void *buf;
    if (posix_memalign(&buf, 4096, 1 << 20)) return 1;
    memset(buf, 0x5a, 1 << 20);
    double t0 = now();
    if (!strcmp(argv[2], "randread")) {
        double secs = atof(argv[3]);
        long n = 0;
        unsigned long long blocks = size / 4096, x = 88172645463325252ULL;
        while (now() - t0 < secs) {
            for (int i = 0; i < 64; i++, n++) {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                if (pread(fd, buf, 4096, (off_t)(x % blocks) * 4096) != 4096) { perror("pread"); return 1; }
            }
        }
        printf("randread 4k qd1: %.0f IOPS (%ld reads in %.2f s)\n", n / (now() - t0), n, now() - t0);
    } else {
        long mib = atol(argv[3]);
        if ((unsigned long long)mib << 20 > size) mib = size >> 20;
        for (long i = 0; i < mib; i++) {
            ssize_t r = wr ? pwrite(fd, buf, 1 << 20, (off_t)i << 20) : pread(fd, buf, 1 << 20, (off_t)i << 20);
            if (r != 1 << 20) { perror(wr ? "pwrite" : "pread"); return 1; }
        }
        if (wr && fdatasync(fd)) { perror("fdatasync"); return 1; }
        double dt = now() - t0;
        printf("%s 1M: %.1f MB/s (%ld MiB in %.2f s)\n", argv[2], mib * 1.048576 / dt, mib, dt);
    }
    return 0;
}
