package dev.jvmm.sys.netlink;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * A netlink exchange captured from the kernel with iproute2 under strace (see capture.sh next to the files):
 * {@code > hex} lines were sent by iproute2, {@code < hex} lines are the kernel's datagrams.
 */
record NlFixture(List<byte[]> sent, List<byte[]> received) {
    static NlFixture load(String name) throws IOException {
        try (InputStream in = NlFixture.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("fixture " + name + " missing");
            }
            List<byte[]> s = new ArrayList<>();
            List<byte[]> r = new ArrayList<>();
            for (String line : new String(in.readAllBytes(), StandardCharsets.US_ASCII).split("\n")) {
                if (line.startsWith("> ")) {
                    s.add(HexFormat.of().parseHex(line.substring(2).trim()));
                } else if (line.startsWith("< ")) {
                    r.add(HexFormat.of().parseHex(line.substring(2).trim()));
                }
            }
            return new NlFixture(s, r);
        }
    }

    static ByteBuffer buf(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.nativeOrder());
    }

    /** The last datagram iproute2 sent (the request of interest) and the kernel's answer to it. */
    byte[] lastSent() {
        return sent.get(sent.size() - 1);
    }

    byte[] lastReceived() {
        return received.get(received.size() - 1);
    }
}
