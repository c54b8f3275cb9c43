package dev.jvmm.sys.netlink;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.sys.netlink.uapi.NetlinkConstants;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Fuzz target: a datagram on an rtnetlink socket, as a buggy or hostile kernel (or another sender) could deliver it,
 * decoded the way {@link NetlinkSocket#request} and {@link Rtnetlink} decode replies: {@link NlMessage#split} into
 * messages, then {@link NlMessage#decodeError} for NLMSG_ERROR (with the extended-ACK TLVs), the error code of
 * NLMSG_DONE, and {@link RtLinkCodec#decodeLink} for RTM_NEWLINK (the link's attributes, each VF's IFLA_VF_INFO
 * with MAC, VLAN list, rates, flags). Seeds are real kernel replies (the fixtures next to {@code NlFixture}).
 * <p>Invariants: a malformed datagram fails only with {@link NetlinkProtocolException} (with a message), never
 * another exception (no index or buffer exception from a length or offset field); every message's body lies
 * inside the datagram; a decoded link's VFs each have a MAC.
 */
class NetlinkReplyFuzzTest {
    @FuzzTest(maxDuration = "5m")
    void reply(byte[] datagram) {
        try {
            for (NlMessage m : NlMessage.split(ByteBuffer.wrap(datagram).order(ByteOrder.nativeOrder()))) {
                assertTrue(m.body().remaining() <= datagram.length);
                switch (m.type()) {
                    case NetlinkConstants.NLMSG_ERROR -> {
                        NlMessage.Error e = m.decodeError();
                        assertTrue(e.extAckMessage() == null || e.extAckMessage().length() <= datagram.length);
                    }
                    case NetlinkConstants.NLMSG_DONE -> {
                        if (m.body().remaining() >= 4) {
                            m.body().getInt(0);
                        }
                    }
                    case NetlinkConstants.RTM_NEWLINK -> {
                        Link l = RtLinkCodec.decodeLink(m);
                        for (VfInfo v : l.vfs()) {
                            assertNotNull(v.mac());
                        }
                        if (l.name() != null) {
                            assertTrue(l.name().length() <= datagram.length);
                        }
                    }
                    default -> { }
                }
            }
        } catch (NetlinkProtocolException e) {
            assertNotNull(e.getMessage());
        }
    }
}
