package dev.jvmm.sys.netlink;

/** A netlink message that does not parse: truncated, a bad length, or an unexpected type or sequence number. */
public class NetlinkProtocolException extends RuntimeException {
    public NetlinkProtocolException(String message) {
        super(message);
    }
}
