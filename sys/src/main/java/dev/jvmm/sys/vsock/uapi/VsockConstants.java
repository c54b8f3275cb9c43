package dev.jvmm.sys.vsock.uapi;

import dev.jvmm.sys.uapi.CConstants;

/**
 * The AF_VSOCK constants jvmm uses ({@code <sys/socket.h>}, {@code <linux/vm_sockets.h>}); every value is compared
 * with the headers by sys's HeaderLayoutTest. The {@code -1U} addresses are {@code long}s holding the unsigned value.
 */
@CConstants(headers = {"sys/socket.h", "linux/vm_sockets.h"})
public final class VsockConstants {
    private VsockConstants() {
    }

    /** Address family of virtio-vsock (and VMCI, Hyper-V) sockets. */
    public static final int AF_VSOCK = 40;
    public static final int SOCK_STREAM = 1;
    public static final int SOCK_CLOEXEC = 02000000;
    /** {@code shutdown(2)}: no more sends. */
    public static final int SHUT_WR = 1;

    /** {@code -1U}: bind to any CID (the host's listening sockets use it). */
    public static final long VMADDR_CID_ANY = 0xFFFF_FFFFL;
    /** {@code -1U}: any port (bind picks one). */
    public static final long VMADDR_PORT_ANY = 0xFFFF_FFFFL;
    /** Reserved for the hypervisor; never a guest's. */
    public static final int VMADDR_CID_HYPERVISOR = 0;
    /** Local loopback ({@code vsock_loopback}). */
    public static final int VMADDR_CID_LOCAL = 1;
    /** The host, as a guest addresses it. */
    public static final int VMADDR_CID_HOST = 2;
    /** {@code svm_flags}: route to the host even when the CID is not the host's (nested VMs). */
    public static final int VMADDR_FLAG_TO_HOST = 0x01;
}
