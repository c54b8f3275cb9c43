package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ModuleOrderTest {

    /** Output of modprobe -d ROOT -S 6.12.117+deb12-amd64 --show-depends (paths shortened; the parameter on kvm-amd shows how options from modprobe.d appear). */
    static final String VFIO_PCI = """
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/virt/lib/irqbypass.ko.xz\s
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/drivers/vfio/vfio.ko.xz\s
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/drivers/vfio/pci/vfio-pci-core.ko.xz\s
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/drivers/vfio/pci/vfio-pci.ko.xz\s
            """;
    static final String KVM_AMD = """
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/virt/lib/irqbypass.ko.xz\s
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/arch/x86/kvm/kvm.ko.xz\s
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/drivers/crypto/ccp/ccp.ko.xz\s
            insmod /k/lib/modules/6.12.117+deb12-amd64/kernel/arch/x86/kvm/kvm-amd.ko.xz nested=1
            builtin virtio_pci
            """;

    @Test
    void parsesInsmodLinesInOrderAndSkipsBuiltins() {
        List<String> k = ModuleOrder.parseShowDepends(KVM_AMD);
        assertEquals(4, k.size());
        assertTrue(k.get(0).endsWith("irqbypass.ko.xz"));
        assertTrue(k.get(3).endsWith("kvm-amd.ko.xz"), "params after the path are dropped");
    }

    @Test
    void mergeKeepsFirstPlaceSoDependenciesStayFirst() {
        List<String> all = new ModuleOrder().add(ModuleOrder.parseShowDepends(VFIO_PCI))
                .add(ModuleOrder.parseShowDepends(KVM_AMD)).files();
        assertEquals(7, all.size(), "irqbypass only once");
        assertTrue(all.get(0).endsWith("irqbypass.ko.xz"));
        assertTrue(all.indexOf(all.stream().filter(f -> f.endsWith("/kvm.ko.xz")).findFirst().orElseThrow())
                < all.indexOf(all.stream().filter(f -> f.endsWith("kvm-amd.ko.xz")).findFirst().orElseThrow()));
    }

    @Test
    void uncompressedNames() {
        assertEquals("a/9p.ko", ModuleOrder.uncompressedName("a/9p.ko.xz"));
        assertEquals("a/9p.ko", ModuleOrder.uncompressedName("a/9p.ko.zst"));
        assertEquals("a/9p.ko", ModuleOrder.uncompressedName("a/9p.ko"));
    }
}
