package dev.jvmm.sys.netlink;

import dev.jvmm.sys.ErrnoException;

/**
 * The kernel answered a netlink request with {@code NLMSG_ERROR} and a negative error. Carries the extended-ACK
 * text ({@code NLMSGERR_ATTR_MSG}) and the byte offset of the offending attribute in the request
 * ({@code NLMSGERR_ATTR_OFFS}) when the kernel supplied them.
 */
public class NetlinkErrorException extends ErrnoException {
    private final String extAckMessage;
    private final int extAckOffset;

    public NetlinkErrorException(String op, int errno, String context, String extAckMessage, int extAckOffset) {
        super(op, errno, join(context, extAckMessage));
        this.extAckMessage = extAckMessage;
        this.extAckOffset = extAckOffset;
    }

    private static String join(String context, String ext) {
        if (ext == null || ext.isEmpty()) {
            return context;
        }
        return (context == null || context.isEmpty() ? "" : context + " ") + "kernel: \"" + ext + "\"";
    }

    /** The kernel's extended-ACK message, or null when it sent none. */
    public String extAckMessage() {
        return extAckMessage;
    }

    /** Offset of the rejected attribute within the request, or -1. */
    public int extAckOffset() {
        return extAckOffset;
    }
}
