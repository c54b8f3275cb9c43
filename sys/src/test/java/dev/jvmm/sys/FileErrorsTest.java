package dev.jvmm.sys;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real file-system failures, provoked here, described with path and reason. */
class FileErrorsTest {
    @Test
    void missingParentNamesPathAndReason(@TempDir Path dir) {
        Path p = dir.resolve("no/such/file");
        IOException e = assertThrows(IOException.class, () -> Files.writeString(p, "x"));
        assertEquals(p + ": no such file or directory", FileErrors.describe(e));
    }

    @Test
    void existingFileNamesPathAndReason(@TempDir Path dir) throws IOException {
        Path p = Files.createFile(dir.resolve("f"));
        IOException e = assertThrows(IOException.class, () -> Files.createFile(p));
        assertEquals(p + ": file exists", FileErrors.describe(e));
    }

    @Test
    void createUnderAFileIsNotADirectory(@TempDir Path dir) throws IOException {
        Path f = Files.createFile(dir.resolve("f"));
        IOException e = assertThrows(IOException.class, () -> Files.createDirectory(f.resolve("sub")));
        // ENOTDIR comes as a FileSystemException carrying the kernel's text
        assertEquals(f.resolve("sub") + ": not a directory", FileErrors.describe(e));
    }

    @Test
    void permissionDeniedIsSpelledOut() {
        // java.nio reports EACCES as AccessDeniedException whose message is the bare path; root cannot provoke it
        // with mode bits, so the exception is made as the JDK makes it (UnixException.translateToIOException)
        assertEquals("/var/tmp/jvmm-lab/runs/x: permission denied",
                FileErrors.describe(new java.nio.file.AccessDeniedException("/var/tmp/jvmm-lab/runs/x")));
    }

    @Test
    void kernelReasonIsKept() {
        assertEquals("/x: no space left on device",
                FileErrors.describe(new FileSystemException("/x", null, "No space left on device")));
        assertEquals("plain", FileErrors.describe(new IOException("plain")));
        assertEquals("IOException", FileErrors.describe(new IOException()));
    }
}
