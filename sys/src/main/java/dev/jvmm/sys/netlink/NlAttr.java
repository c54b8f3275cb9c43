package dev.jvmm.sys.netlink;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * One {@code struct rtattr}/{@code struct nlattr} TLV of a received message: its type (with
 * {@code NLA_F_NESTED}/{@code NLA_F_NET_BYTEORDER} masked off) and a read-only view of its payload.
 */
public record NlAttr(int type, ByteBuffer payload) {
    /** {@code NLA_TYPE_MASK}: the kernel sets flag bits 14 and 15 on some attributes. */
    public static final int TYPE_MASK = 0x3fff;

    /**
     * Parses the TLVs filling {@code buf} from its position to its limit. Strict: a length below 4 or past the
     * end is an error naming the offset, not a silent stop.
     */
    public static List<NlAttr> parse(ByteBuffer buf) {
        ByteBuffer b = buf.slice().order(ByteOrder.nativeOrder());
        List<NlAttr> out = new ArrayList<>();
        int pos = 0;
        while (pos + 4 <= b.limit()) {
            int len = Short.toUnsignedInt(b.getShort(pos));
            int type = Short.toUnsignedInt(b.getShort(pos + 2)) & TYPE_MASK;
            if (len < 4 || pos + len > b.limit()) {
                throw new NetlinkProtocolException("attribute at offset " + pos + " has length " + len
                        + " but only " + (b.limit() - pos) + " bytes remain");
            }
            ByteBuffer p = b.slice(pos + 4, len - 4).order(ByteOrder.nativeOrder()).asReadOnlyBuffer().order(ByteOrder.nativeOrder());
            out.add(new NlAttr(type, p));
            pos += (len + 3) & ~3;
        }
        return out;
    }

    /** The first attribute of {@code type} in {@code attrs}, or null. */
    public static NlAttr find(List<NlAttr> attrs, int type) {
        for (NlAttr a : attrs) {
            if (a.type == type) {
                return a;
            }
        }
        return null;
    }

    public List<NlAttr> nested() {
        return parse(payload.duplicate());
    }

    public int length() {
        return payload.remaining();
    }

    private void need(int n, String what) {
        if (payload.remaining() < n) {
            throw new NetlinkProtocolException("attribute " + type + " (" + what + ") has " + payload.remaining()
                    + " payload bytes, needs " + n);
        }
    }

    public int u32() {
        need(4, "u32");
        return payload.getInt(payload.position());
    }

    public int u32At(int off) {
        need(off + 4, "u32 at " + off);
        return payload.getInt(payload.position() + off);
    }

    public int u8() {
        need(1, "u8");
        return Byte.toUnsignedInt(payload.get(payload.position()));
    }

    /** A big-endian u16 at {@code off} ({@code __be16} fields such as {@code vlan_proto}). */
    public int be16At(int off) {
        need(off + 2, "be16 at " + off);
        int p = payload.position() + off;
        return (Byte.toUnsignedInt(payload.get(p)) << 8) | Byte.toUnsignedInt(payload.get(p + 1));
    }

    public byte[] bytes() {
        byte[] r = new byte[payload.remaining()];
        payload.duplicate().get(r);
        return r;
    }

    public byte[] bytes(int off, int len) {
        need(off + len, len + " bytes at " + off);
        byte[] r = new byte[len];
        payload.duplicate().position(payload.position() + off).get(r);
        return r;
    }

    /** A NUL-terminated string payload. */
    public String string() {
        byte[] r = bytes();
        int n = 0;
        while (n < r.length && r[n] != 0) {
            n++;
        }
        return new String(r, 0, n, StandardCharsets.UTF_8);
    }
}
