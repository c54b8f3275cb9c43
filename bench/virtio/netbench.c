/* netbench: the network side of bench/virtio (static; one binary for the guest and for L1; no iperf3 in the kit).
 *
 * L1 side:
 *   netbench serve PORT [VMM_PID MARKLOG]
 *     TCP PORT   each connection starts with a 16-byte request: 'S' or 'R', 7 bytes of padding, a 64-bit byte count
 *                (big-endian). S: the client sends that many bytes, the server reads to EOF and answers with the
 *                8-byte count it got. R: the server sends that many bytes, then shuts its write side and waits for
 *                the client's EOF. One thread per connection.
 *     UDP PORT   echoes every datagram to its sender.
 *     UDP PORT+1 phase marks (with VMM_PID): a datagram "ID TEXT" is sampled the first time its ID is seen: the
 *                CPU time of VMM_PID and of its vhost workers, its peak and current RSS, appended to MARKLOG as
 *                  MARK TEXT mono=S ticks=T guest=G vhost_in=I vhost_out=O nvhost=N hwm_kib=H rss_kib=R hz=HZ
 *                (T = utime+stime of the whole process, /proc/PID/stat fields 14 and 15, in clock ticks; G its
 *                guest_time, field 43, a part of T; I = utime+stime of the process's own threads named vhost-N,
 *                already inside T: since Linux 6.4 a vhost worker is a thread of its owner's process; O = the same
 *                of vhost-N tasks outside the process whose N is one of its thread ids: the kthreads of kernels
 *                before 6.4 (or of vhost's kthread mode in later ones), NOT inside T); every copy of the datagram is answered with "ID", so that the sender
 *                knows the sample was taken before it goes on.
 * Guest side (the client always connects, so L1 never has to wait for the guest to listen):
 *   netbench tcp HOST PORT send|recv STREAMS MIB   MIB MiB in total over STREAMS connections (an equal share each):
 *                send = guest -> HOST, recv = HOST -> guest. The connections are made first (retrying for 30 s),
 *                then the clock starts, one thread per stream, and stops when every stream has finished (for send,
 *                when the server has confirmed the byte count). Prints "MBPS MB/s bytes=N secs=S streams=K".
 *   netbench udp HOST PORT SECONDS [SIZE=64]       request/response: one SIZE-byte datagram, wait for its echo,
 *                repeat for SECONDS (after 100 unmeasured ones); a reply not back in 1 s counts as lost. Prints
 *                "P50 us p99_us=P99 tps=T n=N lost=L min_us=A max_us=B".
 *   netbench mark HOST PORT TEXT...                sends a phase mark to HOST's PORT+1 and waits for its answer
 *                (1 s per try, 30 tries); exit 1 if none came.
 * MB = 10^6 bytes. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CHUNK (1 << 16)
#define MAXSTREAMS 64

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static char pattern[CHUNK];

static void fill_pattern(void) {
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < sizeof pattern; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        pattern[i] = (char)x;
    }
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) { if (errno == EINTR) continue; return -1; }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n) {
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r == 0) { errno = EPIPE; return -1; }
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_bytes(int fd, uint64_t total) {
    while (total > 0) {
        size_t n = total < sizeof pattern ? (size_t)total : sizeof pattern;
        if (write_all(fd, pattern, n)) return -1;
        total -= n;
    }
    return 0;
}

/* reads to EOF; returns the byte count, -1 on error */
static long long sink(int fd) {
    char buf[CHUNK];
    long long total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r == 0) return total;
        if (r < 0) { if (errno == EINTR) continue; return -1; }
        total += r;
    }
}

static void put64(unsigned char *b, uint64_t v) { for (int i = 7; i >= 0; i--) { b[i] = (unsigned char)v; v >>= 8; } }
static uint64_t get64(const unsigned char *b) { uint64_t v = 0; for (int i = 0; i < 8; i++) v = v << 8 | b[i]; return v; }

static int parse_addr(const char *host, int port, struct sockaddr_in *a) {
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) { fprintf(stderr, "netbench: bad address %s\n", host); return -1; }
    return 0;
}

/* ---------------------------------------------------------------- serve */

static void *serve_conn(void *arg) {
    int c = (int)(intptr_t)arg;
    unsigned char req[16];
    if (read_all(c, (char *)req, sizeof req) == 0) {
        uint64_t n = get64(req + 8);
        if (req[0] == 'S') {
            long long got = sink(c);
            unsigned char ans[8];
            put64(ans, got < 0 ? 0 : (uint64_t)got);
            if (got < 0) perror("netbench serve: read");
            else if ((uint64_t)got != n) fprintf(stderr, "netbench serve: got %lld of %llu bytes\n", got, (unsigned long long)n);
            write_all(c, (char *)ans, sizeof ans);
        } else if (req[0] == 'R') {
            if (send_bytes(c, n)) perror("netbench serve: write");
            shutdown(c, SHUT_WR);
            sink(c);
        } else {
            fprintf(stderr, "netbench serve: bad request %c\n", req[0]);
        }
    }
    close(c);
    return NULL;
}

struct cpu { long long ticks, guest, vin, vout, hwm, rss; int nvhost; };

static int read_file(const char *path, char *buf, size_t size) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, size - 1);
    close(fd);
    if (n < 0) return -1;
    buf[n] = 0;
    return (int)n;
}

/* utime+stime (fields 14, 15) and guest_time (43) of a /proc/.../stat; -1 if unreadable */
static int stat_ticks(const char *path, long long *ticks, long long *guest) {
    char buf[4096];
    if (read_file(path, buf, sizeof buf) < 0) return -1;
    char *p = strrchr(buf, ')'), *save = NULL;
    if (!p) return -1;
    long long ut = -1, st = -1, g = 0;
    int field = 3; /* the state, after the ") " that ends the command name (field 2) */
    for (char *tok = strtok_r(p + 1, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save), field++) {
        if (field == 14) ut = strtoll(tok, NULL, 10);
        else if (field == 15) st = strtoll(tok, NULL, 10);
        else if (field == 43) g = strtoll(tok, NULL, 10);
    }
    if (ut < 0 || st < 0) return -1;
    *ticks = ut + st;
    if (guest) *guest = g;
    return 0;
}

static int vhost_name(const char *comm, long *owner) {
    if (strncmp(comm, "vhost-", 6) || !isdigit((unsigned char)comm[6])) return 0;
    *owner = strtol(comm + 6, NULL, 10);
    return 1;
}

static void sample(int pid, struct cpu *c) {
    char path[128], buf[4096];
    memset(c, 0, sizeof *c);
    c->ticks = -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (stat_ticks(path, &c->ticks, &c->guest)) return;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    if (read_file(path, buf, sizeof buf) > 0) {
        char *h = strstr(buf, "VmHWM:"), *r = strstr(buf, "VmRSS:");
        if (h) c->hwm = strtoll(h + 6, NULL, 10);
        if (r) c->rss = strtoll(r + 6, NULL, 10);
    }
    long tids[4096];
    int ntids = 0;
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) && ntids < 4096) {
            if (!isdigit((unsigned char)e->d_name[0])) continue;
            long tid = strtol(e->d_name, NULL, 10);
            tids[ntids++] = tid;
            long owner;
            snprintf(path, sizeof path, "/proc/%d/task/%ld/comm", pid, tid);
            if (read_file(path, buf, sizeof buf) > 0 && vhost_name(buf, &owner)) {
                long long t;
                snprintf(path, sizeof path, "/proc/%d/task/%ld/stat", pid, tid);
                if (stat_ticks(path, &t, NULL) == 0) { c->vin += t; c->nvhost++; }
            }
        }
        closedir(d);
    }
    d = opendir("/proc");
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!isdigit((unsigned char)e->d_name[0])) continue;
            long p = strtol(e->d_name, NULL, 10), owner;
            if (p == pid) continue;
            snprintf(path, sizeof path, "/proc/%ld/comm", p);
            if (read_file(path, buf, sizeof buf) <= 0 || !vhost_name(buf, &owner)) continue;
            int ours = 0;
            for (int i = 0; i < ntids; i++) if (tids[i] == owner) ours = 1;
            if (!ours) continue;
            long long t;
            snprintf(path, sizeof path, "/proc/%ld/stat", p);
            if (stat_ticks(path, &t, NULL) == 0) { c->vout += t; c->nvhost++; }
        }
        closedir(d);
    }
}

static int serve(int port, int vmpid, const char *marklog) {
    signal(SIGPIPE, SIG_IGN);
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64)) { perror("netbench serve: tcp bind/listen"); return 1; }
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (bind(u, (struct sockaddr *)&a, sizeof a)) { perror("netbench serve: udp bind"); return 1; }
    int m = -1;
    FILE *log = NULL;
    if (vmpid > 0) {
        m = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in b = a;
        b.sin_port = htons((uint16_t)(port + 1));
        if (bind(m, (struct sockaddr *)&b, sizeof b)) { perror("netbench serve: mark bind"); return 1; }
        log = fopen(marklog, "a");
        if (!log) { perror(marklog); return 1; }
    }
    long hz = sysconf(_SC_CLK_TCK);
    char seen[64][32] = {{0}};
    int nseen = 0;
    struct pollfd pf[3] = {{.fd = l, .events = POLLIN}, {.fd = u, .events = POLLIN}, {.fd = m, .events = POLLIN}};
    for (;;) {
        if (poll(pf, m >= 0 ? 3 : 2, -1) < 0) { if (errno == EINTR) continue; perror("poll"); return 1; }
        if (pf[0].revents & POLLIN) {
            int c = accept(l, NULL, NULL);
            if (c >= 0) {
                pthread_t t;
                if (pthread_create(&t, NULL, serve_conn, (void *)(intptr_t)c)) close(c);
                else pthread_detach(t);
            }
        }
        if (pf[1].revents & POLLIN) {
            char buf[65536];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(u, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n >= 0) sendto(u, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
        }
        if (m >= 0 && (pf[2].revents & POLLIN)) {
            char buf[512];
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(m, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &fl);
            if (n <= 0) continue;
            buf[n] = 0;
            char *sp = strchr(buf, ' ');
            if (!sp || sp - buf >= 32) continue;
            char id[32];
            memcpy(id, buf, (size_t)(sp - buf));
            id[sp - buf] = 0;
            int dup = 0;
            for (int i = 0; i < 64; i++) if (!strcmp(seen[i], id)) dup = 1;
            if (!dup) {
                struct cpu c;
                sample(vmpid, &c);
                for (char *q = sp + 1; *q; q++) if (*q == '\n' || *q == '\r') *q = ' ';
                if (c.ticks < 0) {
                    fprintf(log, "MARK %s gone=1\n", sp + 1);
                } else {
                    fprintf(log, "MARK %s mono=%.3f ticks=%lld guest=%lld vhost_in=%lld vhost_out=%lld nvhost=%d hwm_kib=%lld "
                            "rss_kib=%lld hz=%ld\n", sp + 1, now(), c.ticks, c.guest, c.vin, c.vout, c.nvhost, c.hwm,
                            c.rss, hz);
                }
                fflush(log);
                strcpy(seen[nseen], id);
                nseen = (nseen + 1) % 64;
            }
            sendto(m, id, strlen(id), 0, (struct sockaddr *)&from, fl);
        }
    }
}

/* ---------------------------------------------------------------- tcp client */

struct stream { int fd, send; uint64_t bytes; long long got; int err; };

static void *run_stream(void *arg) {
    struct stream *s = arg;
    unsigned char req[16] = {0};
    req[0] = s->send ? 'S' : 'R';
    put64(req + 8, s->bytes);
    if (write_all(s->fd, (char *)req, sizeof req)) { s->err = errno; return NULL; }
    if (s->send) {
        if (send_bytes(s->fd, s->bytes)) { s->err = errno; return NULL; }
        shutdown(s->fd, SHUT_WR);
        unsigned char ans[8];
        if (read_all(s->fd, (char *)ans, sizeof ans)) { s->err = errno; return NULL; }
        s->got = (long long)get64(ans);
    } else {
        s->got = sink(s->fd);
        if (s->got < 0) s->err = errno;
    }
    return NULL;
}

static int tcp_client(const char *host, int port, int send, int streams, long mib) {
    struct sockaddr_in a;
    if (parse_addr(host, port, &a)) return 2;
    if (streams < 1 || streams > MAXSTREAMS || mib < 1) { fprintf(stderr, "netbench tcp: bad STREAMS or MIB\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    struct stream s[MAXSTREAMS];
    pthread_t t[MAXSTREAMS];
    uint64_t total = (uint64_t)mib << 20;
    for (int i = 0; i < streams; i++) {
        memset(&s[i], 0, sizeof s[i]);
        s[i].send = send;
        s[i].bytes = total / (uint64_t)streams + (i == 0 ? total % (uint64_t)streams : 0);
        s[i].fd = -1;
        for (int k = 0; k < 300 && s[i].fd < 0; k++) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) s[i].fd = fd;
            else { close(fd); usleep(100000); }
        }
        if (s[i].fd < 0) { perror("netbench tcp: connect"); return 1; }
    }
    double t0 = now();
    for (int i = 0; i < streams; i++)
        if (pthread_create(&t[i], NULL, run_stream, &s[i])) { perror("pthread_create"); return 1; }
    for (int i = 0; i < streams; i++) pthread_join(t[i], NULL);
    double dt = now() - t0;
    long long got = 0;
    int rc = 0;
    for (int i = 0; i < streams; i++) {
        close(s[i].fd);
        if (s[i].err) { fprintf(stderr, "netbench tcp: stream %d: %s\n", i, strerror(s[i].err)); rc = 1; }
        else if ((uint64_t)s[i].got != s[i].bytes) {
            fprintf(stderr, "netbench tcp: stream %d moved %lld of %llu bytes\n", i, s[i].got, (unsigned long long)s[i].bytes);
            rc = 1;
        }
        got += s[i].got > 0 ? s[i].got : 0;
    }
    printf("%.1f MB/s bytes=%lld secs=%.3f streams=%d\n", dt > 0 ? got / dt / 1e6 : 0.0, got, dt, streams);
    return rc;
}

/* ---------------------------------------------------------------- udp client */

static int cmp_double(const void *x, const void *y) {
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

static int udp_client(const char *host, int port, double secs, int size) {
    struct sockaddr_in a;
    if (parse_addr(host, port, &a)) return 2;
    if (size < 8 || size > 65000) { fprintf(stderr, "netbench udp: SIZE must be 8..65000\n"); return 2; }
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(u, (struct sockaddr *)&a, sizeof a)) { perror("netbench udp: connect"); return 1; }
    struct timeval tv = {.tv_sec = 1};
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char *out = calloc(1, (size_t)size), *in = malloc(65536);
    size_t cap = 1 << 20, n = 0;
    double *rtt = malloc(cap * sizeof *rtt);
    long lost = 0;
    uint64_t seq = 0;
    double t0 = 0;
    for (long i = 0;; i++) {
        if (i == 100) t0 = now();
        if (i >= 100 && now() - t0 >= secs) break;
        seq++;
        memcpy(out, &seq, sizeof seq);
        double s = now();
        if (send(u, out, (size_t)size, 0) < 0) { if (errno == ECONNREFUSED) { lost++; usleep(1000); continue; } perror("send"); return 1; }
        for (;;) {
            ssize_t r = recv(u, in, 65536, 0);
            if (r < 0) {
                if (errno == EINTR) continue;
                if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNREFUSED) { if (i >= 100) lost++; break; }
                perror("recv");
                return 1;
            }
            uint64_t got;
            if (r < 8) continue;
            memcpy(&got, in, sizeof got);
            if (got != seq) continue; /* a late echo of an earlier, timed-out request */
            if (i >= 100 && n < cap) rtt[n++] = (now() - s) * 1e6;
            break;
        }
    }
    double dt = now() - t0;
    if (n == 0) { printf("0 us p99_us=0 tps=0 n=0 lost=%ld\n", lost); return 1; }
    qsort(rtt, n, sizeof *rtt, cmp_double);
    double p50 = rtt[(n - 1) / 2], p99 = rtt[(size_t)((n - 1) * 0.99)];
    printf("%.0f us p99_us=%.0f tps=%.0f n=%zu lost=%ld min_us=%.0f max_us=%.0f size=%d\n", p50, p99, n / dt, n, lost,
           rtt[0], rtt[n - 1], size);
    return 0;
}

/* ---------------------------------------------------------------- mark client */

static int mark(const char *host, int port, int argc, char **argv) {
    struct sockaddr_in a;
    if (parse_addr(host, port + 1, &a)) return 2;
    char msg[512], id[32];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(id, sizeof id, "%d.%ld.%ld", (int)getpid(), (long)ts.tv_sec, ts.tv_nsec);
    size_t o = (size_t)snprintf(msg, sizeof msg, "%s", id);
    for (int i = 0; i < argc && o < sizeof msg - 1; i++) o += (size_t)snprintf(msg + o, sizeof msg - o, " %s", argv[i]);
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {.tv_sec = 1};
    setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    for (int k = 0; k < 30; k++) {
        sendto(u, msg, strlen(msg), 0, (struct sockaddr *)&a, sizeof a);
        char buf[64];
        double until = now() + 1;
        while (now() < until) {
            ssize_t r = recv(u, buf, sizeof buf - 1, 0);
            if (r < 0) break;
            buf[r] = 0;
            if (!strcmp(buf, id)) return 0;
        }
    }
    fprintf(stderr, "netbench mark: no answer from %s:%d\n", host, port + 1);
    return 1;
}

int main(int argc, char **argv) {
    fill_pattern();
    if (argc >= 3 && !strcmp(argv[1], "serve") && (argc == 3 || argc == 5))
        return serve(atoi(argv[2]), argc == 5 ? atoi(argv[3]) : 0, argc == 5 ? argv[4] : NULL);
    if (argc == 7 && !strcmp(argv[1], "tcp") && (!strcmp(argv[4], "send") || !strcmp(argv[4], "recv")))
        return tcp_client(argv[2], atoi(argv[3]), !strcmp(argv[4], "send"), atoi(argv[5]), atol(argv[6]));
    if ((argc == 5 || argc == 6) && !strcmp(argv[1], "udp"))
        return udp_client(argv[2], atoi(argv[3]), atof(argv[4]), argc == 6 ? atoi(argv[5]) : 64);
    if (argc >= 5 && !strcmp(argv[1], "mark"))
        return mark(argv[2], atoi(argv[3]), argc - 4, argv + 4);
    fprintf(stderr, "usage: netbench serve PORT [VMM_PID MARKLOG] | netbench tcp HOST PORT send|recv STREAMS MIB |\n"
                    "       netbench udp HOST PORT SECONDS [SIZE] | netbench mark HOST PORT TEXT...\n");
    return 2;
}
