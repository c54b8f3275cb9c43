package dev.jvmm.sys.vsock;

import dev.jvmm.sys.vsock.uapi.VsockConstants;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The host side of a vsock lab test (the peer of the guest's vsockecho.c), through {@link VsockSocket}: each side sends
 * one message, shuts its sending side down and reads the other's to the end.
 * <pre>
 *   VsockPeer listen PORT MESSAGE        accept one connection (a guest connecting to CID 2), print
 *                                        "VsockPeer from CID:PORT got: TEXT", reply MESSAGE
 *   VsockPeer connect CID PORT MESSAGE   connect to the guest's CID, send MESSAGE, print "VsockPeer got: REPLY"
 * </pre>
 * Exit 1 with the error on stderr on failure.
 */
public final class VsockPeer {
    private VsockPeer() {
    }

    public static void main(String[] args) {
        try {
            if (args.length == 3 && args[0].equals("listen")) {
                try (VsockSocket l = VsockSocket.listen(VsockConstants.VMADDR_CID_ANY, Long.parseLong(args[1]), 1)) {
                    System.out.println("VsockPeer listening " + args[1]);
                    try (VsockSocket c = l.accept()) {
                        System.out.println("VsockPeer from " + c.peerCid() + ":" + c.peerPort() + " got: " + readAll(c));
                        send(c, args[2]);
                    }
                }
            } else if (args.length == 4 && args[0].equals("connect")) {
                try (VsockSocket c = VsockSocket.connect(Long.parseLong(args[1]), Long.parseLong(args[2]))) {
                    send(c, args[3]);
                    System.out.println("VsockPeer got: " + readAll(c));
                }
            } else {
                System.err.println("usage: VsockPeer listen PORT MESSAGE | VsockPeer connect CID PORT MESSAGE");
                System.exit(2);
            }
        } catch (RuntimeException e) {
            System.err.println("VsockPeer error: " + e.getMessage());
            System.exit(1);
        }
    }

    static void send(VsockSocket s, String m) {
        byte[] b = m.getBytes(StandardCharsets.UTF_8);
        s.write(b, 0, b.length);
        s.shutdownOutput();
    }

    static String readAll(VsockSocket s) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] b = new byte[4096];
        int n;
        while ((n = s.read(b, 0, b.length)) > 0) {
            out.write(b, 0, n);
        }
        return out.toString(StandardCharsets.UTF_8);
    }
}
