package dev.jvmm.sys.netlink;

import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLMSGERR_ATTR_MSG;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLMSGERR_ATTR_OFFS;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLMSG_ERROR;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_ACK_TLVS;
import static dev.jvmm.sys.netlink.uapi.NetlinkConstants.NLM_F_CAPPED;

import dev.jvmm.sys.netlink.uapi.NlMsgErr;
import dev.jvmm.sys.netlink.uapi.NlMsgHdr;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One received netlink message: the {@code struct nlmsghdr} fields and a view of the payload that follows it.
 */
public record NlMessage(int type, int flags, int seq, int pid, ByteBuffer body) {

    /** Splits a datagram into its messages ({@code NLMSG_OK}/{@code NLMSG_NEXT}), strictly. */
    public static List<NlMessage> split(ByteBuffer datagram) {
        ByteBuffer b = datagram.slice().order(ByteOrder.nativeOrder());
        List<NlMessage> out = new ArrayList<>();
        int pos = 0;
        while (pos < b.limit()) {
            if (b.limit() - pos < NlMsgHdr.SIZEOF) {
                throw new NetlinkProtocolException((b.limit() - pos) + " trailing bytes at offset " + pos
                        + " are shorter than a nlmsghdr");
            }
            int len = b.getInt(pos + NlMsgHdr.NLMSG_LEN);
            if (len < NlMsgHdr.SIZEOF || len > b.limit() - pos) {
                throw new NetlinkProtocolException("message at offset " + pos + " has nlmsg_len " + len + " but "
                        + (b.limit() - pos) + " bytes remain");
            }
            out.add(new NlMessage(Short.toUnsignedInt(b.getShort(pos + NlMsgHdr.NLMSG_TYPE)),
                    Short.toUnsignedInt(b.getShort(pos + NlMsgHdr.NLMSG_FLAGS)),
                    b.getInt(pos + NlMsgHdr.NLMSG_SEQ), b.getInt(pos + NlMsgHdr.NLMSG_PID),
                    b.slice(pos + NlMsgHdr.SIZEOF, len - NlMsgHdr.SIZEOF).order(ByteOrder.nativeOrder())));
            pos += (len + 3) & ~3;
        }
        return out;
    }

    /** The contents of an {@code NLMSG_ERROR} message (an ACK when {@code error} is 0). */
    public record Error(int error, int requestType, int requestSeq, String extAckMessage, int extAckOffset) {
    }

    /** Decodes this {@code NLMSG_ERROR} message, including the extended-ACK TLVs when present. */
    public Error decodeError() {
        if (type != NLMSG_ERROR) {
            throw new NetlinkProtocolException("message type " + type + " is not NLMSG_ERROR");
        }
        if (body.remaining() < NlMsgErr.SIZEOF) {
            throw new NetlinkProtocolException("NLMSG_ERROR of " + body.remaining() + " bytes is shorter than struct nlmsgerr");
        }
        int error = body.getInt(NlMsgErr.ERROR);
        int origLen = body.getInt(NlMsgErr.MSG + NlMsgHdr.NLMSG_LEN);
        int origType = Short.toUnsignedInt(body.getShort(NlMsgErr.MSG + NlMsgHdr.NLMSG_TYPE));
        int origSeq = body.getInt(NlMsgErr.MSG + NlMsgHdr.NLMSG_SEQ);
        String msg = null;
        int offs = -1;
        if ((flags & NLM_F_ACK_TLVS) != 0) {
            // the echoed request is the bare header when capped (NETLINK_CAP_ACK or a successful ACK), else whole
            // (the echoed nlmsg_len is the peer's word: one below a header or past the body leaves no TLVs to read,
            // and the error code stands)
            long echoed = (flags & NLM_F_CAPPED) != 0 ? NlMsgHdr.SIZEOF : ((origLen & 0xffff_ffffL) + 3) & ~3L;
            long tlvAt = NlMsgErr.MSG + echoed;
            if (echoed >= NlMsgHdr.SIZEOF && tlvAt <= body.remaining()) {
                for (NlAttr a : NlAttr.parse(body.slice((int) tlvAt, body.remaining() - (int) tlvAt))) {
                    if (a.type() == NLMSGERR_ATTR_MSG) {
                        msg = a.string();
                    } else if (a.type() == NLMSGERR_ATTR_OFFS && a.length() >= 4) {
                        offs = a.u32();
                    }
                }
            }
        }
        return new Error(error, origType, origSeq, msg, offs);
    }
}
