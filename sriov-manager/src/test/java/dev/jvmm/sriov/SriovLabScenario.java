package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.PciAddress;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Runs inside the lab's L1 (started by {@link SriovLabTest} through {@code LabSession.runJava}) against the real
 * igb and NVMe PFs: {@code apply STATE_DIR SPEC_JSON}, {@code snapshot STATE_DIR PF}, {@code reset STATE_DIR PF}.
 * Prints one result line per fact, prefixed so the test can pick them out of the JVM's other output.
 */
public final class SriovLabScenario {
    private SriovLabScenario() {
    }

    public static void main(String[] a) {
        try (SriovManager m = SriovManager.system()) {
            SriovApply ap = new SriovApply(m, Path.of(a[1]), Duration.ofSeconds(120));
            switch (a[0]) {
                case "apply" -> {
                    long t0 = System.nanoTime();
                    try {
                        for (SriovApply.PfReport r : ap.apply(SriovSpec.parse(a[2]))) {
                            System.out.println("RESULT " + r.pf() + " changed=" + r.changed());
                            r.actions().forEach(x -> System.out.println("ACTION " + r.pf() + " " + x));
                            r.notes().forEach(x -> System.out.println("NOTE " + x));
                        }
                    } catch (SriovException e) {
                        System.out.println("FAILED " + e.reason() + " " + e.getMessage());
                        for (Throwable s : e.getSuppressed()) {
                            System.out.println("SUPPRESSED " + s);
                        }
                    }
                    System.out.println("ELAPSED_MS " + (System.nanoTime() - t0) / 1_000_000);
                }
                case "snapshot" -> System.out.println("SNAPSHOT " + Json.write(ap.snapshot(PciAddress.parse(a[2])).toJson())
                        .replaceAll("\\s*\n\\s*", " "));
                case "reset" -> {
                    ap.reset(PciAddress.parse(a[2]));
                    System.out.println("RESET " + a[2]);
                }
                default -> throw new IllegalArgumentException(a[0]);
            }
        }
    }
}
