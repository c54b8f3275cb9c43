package dev.jvmm.lab;

import java.nio.file.Files;
import java.nio.file.Path;

/** A main class that {@link LabSessionLabTest} runs inside L1 from this module's test class path. */
public final class L1JavaProbe {
    private L1JavaProbe() {
    }

    public static void main(String[] args) {
        System.out.println("L1-JAVA-PROBE " + String.join(" ", args) + " kvm=" + Files.exists(Path.of("/dev/kvm"))
                + " kernel=" + System.getProperty("os.version"));
    }
}
