package dev.jvmm.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.testing.HeaderCheck;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every virtio structure offset and constant mirrored in Java is compared with the Linux UAPI headers by gcc. */
class VirtioHeaderLayoutTest {
    @Test
    void layoutsAndConstantsMatchTheLinuxHeaders(@TempDir Path tmp) throws Exception {
        Path classes = Path.of(VirtQueue.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<Class<?>> all = new java.util.ArrayList<>(HeaderCheck.classesUnder(classes, "dev.jvmm.virtio"));
        for (Class<?> c : List.copyOf(all)) {
            all.addAll(List.of(c.getDeclaredClasses())); // the layouts are nested per header (VirtioBlkLayout.Config…)
        }
        HeaderCheck.Result r = HeaderCheck.check(all, tmp);
        System.out.printf("virtio layout: %d structs, %d offsets, %d constants checked%n", r.structs(), r.offsets(), r.constants());
        assertEquals(List.of(), r.mismatches());
        for (String must : List.of("CommonCfg.QUEUE_DEVICE", "Config.WRITE_ZEROES_MAY_UNMAP", "Constants.VIRTIO_BLK_T_WRITE_ZEROES",
                "VirtioConstants.VIRTIO_F_VERSION_1")) {
            assertTrue(r.cSource().contains(must), must + " was not checked");
        }
    }
}
