package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The demo's summary rows, read from the scenario's output as the lab printed it (trimmed to what they read). */
class DemoSummaryTest {
    private static final String SHA = "8ef1442b33f2aaaa";
    private static final String BLOB0 = "1111";
    private static final String BLOB1 = "2222";

    @Test
    void aVfAVirtioNicAndTheDisk() {
        String out = String.join("\n",
                "DEMO-EXPECT-SHA " + SHA,
                "DEMO-VM jvmm: eth0: VF of eth0 (passthrough: IOMMU ready, 2 free VFs)",
                "DEMO-VM jvmm: eth1: virtio-net on tap jvmmdemo0 (mode=virtio)",
                "DEMO-VM jvmm: eth0: took VF 0000:01:10.0 (VF 0 of eth0), mac 52:54:00:12:34:57; lease /run/x.json",
                "DEMO-VM DEMO-GUEST-NIC0 igbvf ping=0 tcp=0 " + BLOB0,
                "DEMO-VM DEMO-GUEST-NIC1 virtio_net ping=0 tcp=0 " + BLOB1,
                "DEMO-VM DEMO-GUEST-SHA " + SHA,
                "DEMO-VM DEMO-VM-RC 0",
                "DEMO-HOST-NIC0 " + BLOB0,
                "DEMO-HOST-NIC1 " + BLOB1, "");
        assertEquals(List.of(
                new DemoCommand.Row("eth0 (mode=auto)", "VF of eth0 (passthrough: IOMMU ready, 2 free VFs)",
                        "igbvf: ping 10.99.0.1 ok, 4 MiB TCP sha256 ok", true),
                new DemoCommand.Row("eth1 (mode=virtio)", "virtio-net on tap jvmmdemo0 (mode=virtio)",
                        "virtio_net: ping 10.77.0.1 ok, 4 MiB TCP sha256 ok", true),
                new DemoCommand.Row("disk", "virtio-blk on disk.img", "read hello.txt, sha256 8ef1442b33f2…", true)),
                DemoCommand.rows(out));
    }

    @Test
    void noSrIovNicAndAFailedTransfer() {
        String out = String.join("\n",
                "DEMO-EXPECT-SHA " + SHA,
                "DEMO-VM jvmm: eth1: virtio-net on tap jvmmdemo0 (mode=virtio)",
                "DEMO-VM DEMO-GUEST-NIC0 absent",
                "DEMO-VM DEMO-GUEST-NIC1 virtio_net ping=0 tcp=1 " + BLOB1,
                "DEMO-VM DEMO-GUEST-SHA " + SHA, "");
        List<DemoCommand.Row> rows = DemoCommand.rows(out);
        assertEquals(new DemoCommand.Row("eth0 (mode=auto)", "left out: no SR-IOV NIC on this host", "-", true), rows.get(0));
        assertEquals(new DemoCommand.Row("eth1 (mode=virtio)", "virtio-net on tap jvmmdemo0 (mode=virtio)",
                "virtio_net: ping 10.77.0.1 ok, 4 MiB TCP FAILED", false), rows.get(1));
    }
}
