package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The host's side of the command protocol: out/N.rc as L1 writes it, including a view that is empty at first. */
class ExitCodeFileTest {
    @Test
    void readsTheStatus(@TempDir Path dir) throws Exception {
        Path rc = dir.resolve("3.rc");
        Files.writeString(rc, "137\n");
        assertEquals(137, LabSession.readExitCode(rc));
    }

    @Test
    void waitsForAnEmptyFileToBeFilled(@TempDir Path dir) throws Exception {
        Path rc = dir.resolve("9.rc");
        Files.writeString(rc, "");
        Thread writer = new Thread(() -> {
            try {
                Thread.sleep(300);
                Files.writeString(rc, "7\n");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        writer.start();
        assertEquals(7, LabSession.readExitCode(rc));
        writer.join();
    }
}
