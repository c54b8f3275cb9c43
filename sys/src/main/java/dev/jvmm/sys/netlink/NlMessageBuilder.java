package dev.jvmm.sys.netlink;

import dev.jvmm.sys.netlink.uapi.IfInfoMsg;
import dev.jvmm.sys.netlink.uapi.NlMsgHdr;
import dev.jvmm.sys.netlink.uapi.RtAttr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds one netlink request: {@code struct nlmsghdr}, a family header such as {@code struct ifinfomsg}, then
 * {@code struct rtattr} TLVs, nested where asked. Host byte order, 4-byte alignment ({@code NLMSG_ALIGN},
 * {@code RTA_ALIGN}); {@code rta_len} counts header and unpadded payload, as the kernel's {@code nla_put} does.
 */
public final class NlMessageBuilder {
    private ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.nativeOrder());
    private final int type;
    private final int flags;

    /** Starts a message of {@code nlmsg_type} {@code type} with {@code nlmsg_flags} {@code flags}. */
    public NlMessageBuilder(int type, int flags) {
        this.type = type;
        this.flags = flags;
        b.position(NlMsgHdr.SIZEOF);
    }

    public int type() {
        return type;
    }

    public int flags() {
        return flags;
    }

    private void ensure(int n) {
        if (b.remaining() < n + 4) {
            ByteBuffer nb = ByteBuffer.allocate(Math.max(b.capacity() * 2, b.position() + n + 64)).order(ByteOrder.nativeOrder());
            b.flip();
            nb.put(b);
            b = nb;
        }
    }

    private void pad() {
        while ((b.position() & 3) != 0) {
            b.put((byte) 0);
        }
    }

    /** Appends {@code struct ifinfomsg}. */
    public NlMessageBuilder ifinfomsg(int family, int ifiType, int index, int ifiFlags, int change) {
        ensure(IfInfoMsg.SIZEOF);
        int at = b.position();
        b.put(at + IfInfoMsg.IFI_FAMILY, (byte) family);
        b.putShort(at + IfInfoMsg.IFI_TYPE, (short) ifiType);
        b.putInt(at + IfInfoMsg.IFI_INDEX, index);
        b.putInt(at + IfInfoMsg.IFI_FLAGS, ifiFlags);
        b.putInt(at + IfInfoMsg.IFI_CHANGE, change);
        b.position(at + IfInfoMsg.SIZEOF);
        return this;
    }

    /** Appends an attribute with a raw payload (a kernel struct already in host byte order). */
    public NlMessageBuilder attr(int attrType, byte[] payload) {
        if (payload.length > 0xffff - RtAttr.SIZEOF) {
            throw new IllegalArgumentException("attribute " + attrType + " payload of " + payload.length + " bytes is too long");
        }
        ensure(RtAttr.SIZEOF + payload.length + 3);
        b.putShort((short) (RtAttr.SIZEOF + payload.length));
        b.putShort((short) attrType);
        b.put(payload);
        pad();
        return this;
    }

    public NlMessageBuilder attrU32(int attrType, int value) {
        return attr(attrType, Structs.ints(value));
    }

    /** A NUL-terminated string attribute, as {@code IFLA_IFNAME} expects. */
    public NlMessageBuilder attrString(int attrType, String s) {
        byte[] z = Arrays.copyOf(s.getBytes(StandardCharsets.UTF_8), s.length() + 1);
        return attr(attrType, z);
    }

    /** Opens a nested attribute; close it with {@link #endNest(int)} passing the returned mark. */
    public int beginNest(int attrType) {
        ensure(RtAttr.SIZEOF);
        int at = b.position();
        b.putShort((short) 0);
        b.putShort((short) attrType);
        return at;
    }

    public NlMessageBuilder endNest(int mark) {
        int len = b.position() - mark;
        if (len > 0xffff) {
            throw new IllegalArgumentException("nested attribute of " + len + " bytes exceeds the u16 rta_len");
        }
        b.putShort(mark, (short) len);
        return this;
    }

    /** The finished message with {@code nlmsg_seq} {@code seq} and {@code nlmsg_pid} 0 (the kernel). */
    public byte[] build(int seq) {
        int len = b.position();
        b.putInt(NlMsgHdr.NLMSG_LEN, len);
        b.putShort(NlMsgHdr.NLMSG_TYPE, (short) type);
        b.putShort(NlMsgHdr.NLMSG_FLAGS, (short) flags);
        b.putInt(NlMsgHdr.NLMSG_SEQ, seq);
        b.putInt(NlMsgHdr.NLMSG_PID, 0);
        return Arrays.copyOf(b.array(), len);
    }
}
