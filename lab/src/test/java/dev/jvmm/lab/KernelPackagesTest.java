package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class KernelPackagesTest {

    static final String APT = """
            linux-image-6.12.95+deb12-amd64-dbg - Debug symbols for linux-image-6.12.95+deb12-amd64
            linux-image-6.12.95+deb12-amd64-unsigned - Linux 6.12 for 64-bit PCs
            linux-image-6.12.117+deb12-cloud-amd64-unsigned - Linux 6.12 for x86-64 cloud
            linux-image-6.12.117+deb12-rt-amd64-unsigned - Linux 6.12 for 64-bit PCs, PREEMPT_RT
            linux-image-6.12.117+deb12-amd64-unsigned - Linux 6.12 for 64-bit PCs
            linux-image-6.12.117+deb12-amd64 - Linux 6.12 for 64-bit PCs (signed)
            linux-image-6.12.90+deb12.1-amd64 - Linux 6.12 for 64-bit PCs (signed)
            linux-image-amd64 - Linux for 64-bit PCs (meta-package)
            linux-image-6.12-amd64 - Linux for 64-bit PCs (meta-package)
            linux-image-6.1.0-9-amd64-unsigned - Linux 6.1 for 64-bit PCs
            linux-image-6.1.0-56-amd64-unsigned - Linux 6.1 for 64-bit PCs
            linux-image-6.1.0-56-amd64 - Linux 6.1 for 64-bit PCs (signed)
            linux-image-6.1.0-56-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
            """;

    @Test
    void parsesOnlyGenericAmd64Kernels() {
        List<KernelPackages.Candidate> c = KernelPackages.parse(APT);
        assertEquals(7, c.size(), c.toString());
        assertTrue(c.stream().noneMatch(x -> x.packageName().contains("cloud") || x.packageName().contains("-rt-")
                || x.packageName().endsWith("-dbg")));
    }

    @Test
    void newestPrefersUnsigned() {
        KernelPackages.Candidate n = KernelPackages.newest(KernelPackages.parse(APT), null).orElseThrow();
        assertEquals("linux-image-6.12.117+deb12-amd64-unsigned", n.packageName());
        assertEquals("6.12.117+deb12-amd64", n.release());
        assertEquals("6.12", n.series());
    }

    @Test
    void seriesFilterKeeps61Apart() {
        KernelPackages.Candidate n = KernelPackages.newest(KernelPackages.parse(APT), "6.1").orElseThrow();
        assertEquals("linux-image-6.1.0-56-amd64-unsigned", n.packageName());
        assertEquals("6.1.0-56-amd64", n.release());
    }

    @Test
    void fallsBackToSigned() {
        List<KernelPackages.Candidate> c = KernelPackages.parse("linux-image-6.1.0-56-amd64 - signed\n"
                + "linux-image-6.1.0-55-amd64-unsigned - x\n");
        assertEquals("linux-image-6.1.0-56-amd64", KernelPackages.newest(c, null).orElseThrow().packageName());
        assertFalse(KernelPackages.newest(c, "6.12").isPresent());
    }

    @Test
    void versionOrder() {
        assertTrue(KernelPackages.compareVersions("6.12.117+deb12", "6.1.0-56") > 0);
        assertTrue(KernelPackages.compareVersions("6.1.0-56", "6.1.0-9") > 0);
        assertTrue(KernelPackages.compareVersions("6.12.90+deb12.1", "6.12.90+deb12") > 0);
        assertTrue(KernelPackages.compareVersions("6.12.117+deb12", "6.12.95+deb12") > 0);
        assertEquals(0, KernelPackages.compareVersions("6.1.0-56", "6.1.0-56"));
    }
}
