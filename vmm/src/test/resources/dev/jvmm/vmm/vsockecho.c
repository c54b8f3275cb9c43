/*
 * vsockecho: the guest side of a vsock lab test (busybox has no vsock tool). Speaks AF_VSOCK stream sockets with
 * <linux/vm_sockets.h>: each side sends one message, shuts its sending side down, reads the other's message to the
 * end and prints it, so bytes are seen to arrive both ways.
 *   vsockecho connect CID PORT MESSAGE   connect to CID:PORT (2 is the host), send MESSAGE, print "vsockecho got: REPLY"
 *   vsockecho listen PORT MESSAGE        accept one connection on any CID, print "vsockecho from CID:PORT got: TEXT",
 *                                        send MESSAGE back
 * Prints "vsockecho listening PORT" once it listens, and "vsockecho error: ..." with errno text on any failure
 * (exit 1). Needs the guest module vmw_vsock_virtio_transport (and vsock).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

static void die(const char *what) {
    printf("vsockecho error: %s: %s\n", what, strerror(errno));
    fflush(stdout);
    exit(1);
}

static void send_all(int s, const char *m) {
    size_t n = strlen(m);
    while (n > 0) {
        ssize_t w = write(s, m, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            die("write");
        }
        m += w;
        n -= (size_t) w;
    }
    if (shutdown(s, SHUT_WR) != 0) {
        die("shutdown");
    }
}

static char *read_all(int s) {
    static char buf[65536];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(s, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            die("read");
        }
        if (r == 0 || n + (size_t) r >= sizeof buf - 1) {
            n += (size_t) (r > 0 ? r : 0);
            break;
        }
        n += (size_t) r;
    }
    buf[n] = 0;
    return buf;
}

int main(int argc, char **argv) {
    struct sockaddr_vm a;
    memset(&a, 0, sizeof a);
    a.svm_family = AF_VSOCK;
    int s = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (s < 0) {
        die("socket(AF_VSOCK) (is vmw_vsock_virtio_transport loaded?)");
    }
    if (argc == 5 && strcmp(argv[1], "connect") == 0) {
        a.svm_cid = (unsigned) strtoul(argv[2], NULL, 0);
        a.svm_port = (unsigned) strtoul(argv[3], NULL, 0);
        if (connect(s, (struct sockaddr *) &a, sizeof a) != 0) {
            die("connect");
        }
        send_all(s, argv[4]);
        printf("vsockecho got: %s\n", read_all(s));
    } else if (argc == 4 && strcmp(argv[1], "listen") == 0) {
        a.svm_cid = VMADDR_CID_ANY;
        a.svm_port = (unsigned) strtoul(argv[2], NULL, 0);
        if (bind(s, (struct sockaddr *) &a, sizeof a) != 0) {
            die("bind");
        }
        if (listen(s, 1) != 0) {
            die("listen");
        }
        printf("vsockecho listening %u\n", a.svm_port);
        fflush(stdout);
        struct sockaddr_vm peer;
        socklen_t len = sizeof peer;
        int c = accept(s, (struct sockaddr *) &peer, &len);
        if (c < 0) {
            die("accept");
        }
        char *got = read_all(c);
        printf("vsockecho from %u:%u got: %s\n", peer.svm_cid, peer.svm_port, got);
        send_all(c, argv[3]);
        close(c);
    } else {
        fprintf(stderr, "usage: vsockecho connect CID PORT MESSAGE | vsockecho listen PORT MESSAGE\n");
        return 2;
    }
    fflush(stdout);
    close(s);
    return 0;
}
