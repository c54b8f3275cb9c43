/*
 * ackwriter: the guest side of DiskIntegrityLabTest. Writes 4 KiB blocks 0, 1, 2, ... of DEV with O_DIRECT, each
 * holding its own number and a pattern derived from it, and prints "TAG ACK i" once block i's write returned (the
 * device completed it) and "TAG FLUSHED i" once an fdatasync after block i returned (a FLUSH the device completed),
 * every FLUSH_EVERY blocks. The host kills the VMM in the middle and then checks the image against those lines.
 *   ackwriter DEV BLOCKS FLUSH_EVERY TAG
 *   ackwriter --check IMAGE UPTO      (on the host: prints the first block in 0..UPTO that does not hold what it
 *                                      should, or "ok")
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void fill(unsigned char *b, long i) {
    for (int k = 0; k < 4096; k++) {
        b[k] = (unsigned char) (i * 131 + k * 7 + (k >> 8));
    }
    snprintf((char *) b, 32, "ACKW %ld\n", i);
}

int main(int argc, char **argv) {
    static unsigned char buf[4096] __attribute__((aligned(4096)));
    static unsigned char want[4096];
    if (argc == 4 && strcmp(argv[1], "--check") == 0) {
        int fd = open(argv[2], O_RDONLY);
        long upto = atol(argv[3]);
        if (fd < 0) { perror("open"); return 2; }
        for (long i = 0; i <= upto; i++) {
            fill(want, i);
            if (pread(fd, buf, 4096, i * 4096) != 4096 || memcmp(buf, want, 4096) != 0) {
                printf("bad %ld\n", i);
                return 1;
            }
        }
        printf("ok\n");
        return 0;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: ackwriter DEV BLOCKS FLUSH_EVERY TAG | --check IMAGE UPTO\n");
        return 2;
    }
    int fd = open(argv[1], O_RDWR | O_DIRECT);
    long n = atol(argv[2]), every = atol(argv[3]);
    if (fd < 0) { perror("open"); return 2; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (long i = 0; i < n; i++) {
        fill(buf, i);
        if (pwrite(fd, buf, 4096, i * 4096) != 4096) { perror("pwrite"); return 1; }
        printf("%s ACK %ld\n", argv[4], i);
        if ((i + 1) % every == 0) {
            if (fdatasync(fd) != 0) { perror("fdatasync"); return 1; }
            printf("%s FLUSHED %ld\n", argv[4], i);
        }
    }
    return 0;
}
