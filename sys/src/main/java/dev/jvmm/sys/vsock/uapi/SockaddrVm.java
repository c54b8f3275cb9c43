package dev.jvmm.sys.vsock.uapi;

import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;

/**
 * Layout of {@code struct sockaddr_vm} ({@code <linux/vm_sockets.h>}), host byte order:
 * <pre>
 * struct sockaddr_vm {
 *     __kernel_sa_family_t svm_family;   // AF_VSOCK
 *     unsigned short svm_reserved1;      // 0
 *     unsigned int svm_port;
 *     unsigned int svm_cid;
 *     __u8 svm_flags;                    // VMADDR_FLAG_TO_HOST or 0
 *     unsigned char svm_zero[...];       // pads to sizeof(struct sockaddr); must be 0
 * };
 * </pre>
 */
@CStruct(value = "struct sockaddr_vm", headers = {"sys/socket.h", "linux/vm_sockets.h"})
public final class SockaddrVm {
    @Sizeof public static final int SIZEOF = 16;
    @Offsetof("svm_family") public static final int SVM_FAMILY = 0;
    @Offsetof("svm_reserved1") public static final int SVM_RESERVED1 = 2;
    @Offsetof("svm_port") public static final int SVM_PORT = 4;
    @Offsetof("svm_cid") public static final int SVM_CID = 8;
    @Offsetof("svm_flags") public static final int SVM_FLAGS = 12;
    @Offsetof("svm_zero") public static final int SVM_ZERO = 13;

    private SockaddrVm() {
    }
}
