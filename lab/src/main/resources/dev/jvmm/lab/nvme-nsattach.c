/* nvme-nsattach: minimal replacement for `nvme attach-ns` / `nvme detach-ns` (Namespace Attachment, opcode 0x15)
 * usage: nvme-nsattach /dev/nvme0 <nsid> <cntlid> [detach]
 * build: gcc -static -O2 -o nvme-nsattach nvme-nsattach.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <fcntl.h>
#include <errno.h>
#include <sys/ioctl.h>
#include <linux/nvme_ioctl.h>
int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: %s dev nsid cntlid [detach]\n", argv[0]); return 2; }
    int fd = open(argv[1], O_RDWR);
    if (fd < 0) { perror(argv[1]); return 1; }
    static uint16_t list[2048];                 /* the 4 KiB controller list: count, then the ids */
    list[0] = 1;
    list[1] = (uint16_t) atoi(argv[3]);
    struct nvme_admin_cmd c; memset(&c, 0, sizeof c);
    c.opcode = 0x15;
    c.nsid = (uint32_t) atoi(argv[2]);
    c.cdw10 = argc > 4 && strcmp(argv[4], "detach") == 0 ? 1 : 0;  /* SEL: 0 attach, 1 detach */
    c.addr = (uint64_t) (uintptr_t) list;
    c.data_len = sizeof list;
    int r = ioctl(fd, NVME_IOCTL_ADMIN_CMD, &c);
    printf("ns-attachment nsid=%s cntlid=%s %s -> ioctl=%d status=0x%x %s\n", argv[2], argv[3],
           c.cdw10 ? "detach" : "attach", r, r > 0 ? r : 0, r < 0 ? strerror(errno) : "");
    return r != 0;
}
