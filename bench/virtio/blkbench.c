/* blkbench: O_DIRECT block benchmark for the lab's guests (no fio in the guest kit; static, no libaio).
 *   blkbench DEV seqread|seqwrite MIB                 sequential 1 MiB requests, one at a time (a write pass ends
 *                                                     with fdatasync, inside the timed span); prints MB/s
 *   blkbench DEV randread|randwrite SECONDS [DEPTH]   4 KiB requests at random 4 KiB-aligned offsets for SECONDS
 *                                                     (a write run ends with fdatasync, timed); prints IOPS
 * DEPTH 1 (the default): pread/pwrite, one request in flight (fio's psync engine). DEPTH > 1: Linux AIO through the
 * raw io_setup/io_submit/io_getevents system calls (fio's libaio engine with iodepth=DEPTH): DEPTH requests are
 * submitted, and each completion is replaced by a new request at once, so DEPTH stay in flight.
 * Output, one line: "VALUE UNIT bytes=N secs=S ..." (MB = 10^6 bytes), which bench/virtio/inner.sh reads. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BS 4096
#define MAXDEPTH 256

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

static uint64_t rng = 88172645463325252ULL;
static off_t randblock(unsigned long long blocks) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return (off_t)(rng % blocks) * BS;
}

static int usage(void) {
    fprintf(stderr, "usage: blkbench DEV seqread|seqwrite MIB | blkbench DEV randread|randwrite SECONDS [DEPTH]\n");
    return 2;
}

/* DEPTH requests in flight with Linux AIO; returns the number of requests completed, -1 on error. */
static long aio_run(int fd, int wr, int depth, double secs, unsigned long long blocks, char *bufs) {
    aio_context_t ctx = 0;
    if (syscall(SYS_io_setup, depth, &ctx)) { perror("io_setup"); return -1; }
    struct iocb cbs[MAXDEPTH], *ptrs[MAXDEPTH];
    struct io_event ev[MAXDEPTH];
    for (int i = 0; i < depth; i++) {
        memset(&cbs[i], 0, sizeof cbs[i]);
        cbs[i].aio_fildes = fd;
        cbs[i].aio_lio_opcode = wr ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
        cbs[i].aio_buf = (uint64_t)(uintptr_t)(bufs + (size_t)i * BS);
        cbs[i].aio_nbytes = BS;
        cbs[i].aio_offset = randblock(blocks);
        cbs[i].aio_data = i;
        ptrs[i] = &cbs[i];
    }
    double t0 = now();
    if (syscall(SYS_io_submit, ctx, depth, ptrs) != depth) { perror("io_submit"); return -1; }
    long done = 0;
    int inflight = depth, stop = 0;
    while (inflight > 0) {
        long n = syscall(SYS_io_getevents, ctx, 1, depth, ev, NULL);
        if (n < 0) { if (errno == EINTR) continue; perror("io_getevents"); return -1; }
        if (!stop && now() - t0 >= secs) stop = 1;
        int again = 0;
        for (long i = 0; i < n; i++) {
            if (ev[i].res != BS) {
                fprintf(stderr, "aio %s: res %lld\n", wr ? "write" : "read", (long long)ev[i].res);
                return -1;
            }
            done++;
            inflight--;
            if (!stop) {
                struct iocb *cb = &cbs[ev[i].data];
                cb->aio_offset = randblock(blocks);
                ptrs[again++] = cb;
            }
        }
        if (again > 0) {
            if (syscall(SYS_io_submit, ctx, again, ptrs) != again) { perror("io_submit"); return -1; }
            inflight += again;
        }
    }
    syscall(SYS_io_destroy, ctx);
    return done;
}

int main(int argc, char **argv) {
    if (argc < 4 || argc > 5) return usage();
    const char *mode = argv[2];
    int seq = !strcmp(mode, "seqread") || !strcmp(mode, "seqwrite");
    int rnd = !strcmp(mode, "randread") || !strcmp(mode, "randwrite");
    if (!seq && !rnd) return usage();
    if (seq && argc != 4) return usage();
    int wr = !strcmp(mode, "seqwrite") || !strcmp(mode, "randwrite");
    int depth = argc == 5 ? atoi(argv[4]) : 1;
    if (depth < 1 || depth > MAXDEPTH) { fprintf(stderr, "blkbench: DEPTH must be 1..%d\n", MAXDEPTH); return 2; }
    int fd = open(argv[1], (wr ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) { perror("open"); return 1; }
    unsigned long long size = 0;
    if (ioctl(fd, BLKGETSIZE64, &size)) size = lseek(fd, 0, SEEK_END);
    char *buf;
    size_t bufsize = seq ? 1 << 20 : (size_t)MAXDEPTH * BS;
    if (posix_memalign((void **)&buf, 4096, bufsize)) return 1;
    memset(buf, 0x5a, bufsize);
    double t0 = now();
    if (rnd) {
        double secs = atof(argv[3]);
        unsigned long long blocks = size / BS;
        if (blocks == 0) { fprintf(stderr, "blkbench: %s is smaller than 4 KiB\n", argv[1]); return 1; }
        long n = 0;
        if (depth == 1) {
            while (now() - t0 < secs) {
                for (int i = 0; i < 64; i++, n++) {
                    off_t off = randblock(blocks);
                    ssize_t r = wr ? pwrite(fd, buf, BS, off) : pread(fd, buf, BS, off);
                    if (r != BS) { perror(wr ? "pwrite" : "pread"); return 1; }
                }
            }
        } else {
            n = aio_run(fd, wr, depth, secs, blocks, buf);
            if (n < 0) return 1;
        }
        if (wr && fdatasync(fd)) { perror("fdatasync"); return 1; }
        double dt = now() - t0;
        printf("%.0f IOPS bytes=%lld secs=%.2f depth=%d requests=%ld\n", n / dt, (long long)n * BS, dt, depth, n);
    } else {
        long mib = atol(argv[3]);
        if ((unsigned long long)mib << 20 > size) mib = size >> 20;
        for (long i = 0; i < mib; i++) {
            ssize_t r = wr ? pwrite(fd, buf, 1 << 20, (off_t)i << 20) : pread(fd, buf, 1 << 20, (off_t)i << 20);
            if (r != 1 << 20) { perror(wr ? "pwrite" : "pread"); return 1; }
        }
        if (wr && fdatasync(fd)) { perror("fdatasync"); return 1; }
        double dt = now() - t0;
        printf("%.1f MB/s bytes=%lld secs=%.2f\n", mib * 1.048576 / dt, (long long)mib << 20, dt);
    }
    return 0;
}
