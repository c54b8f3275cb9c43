package dev.jvmm.sriov;

import dev.jvmm.sys.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** The small JSON records the SR-IOV manager keeps on disk (apply state files, VF leases). */
final class JsonFiles {
    private JsonFiles() {
    }

    /**
     * Writes {@code value} to {@code file} so that a reader (or a crash) sees the old file or the whole new one,
     * never a part: a temporary file in the same directory ({@code NAME.*.tmp}), then a rename. Creates the
     * directory.
     */
    static void write(Path file, Object value) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, file.getFileName() + ".", ".tmp");
        try {
            Files.writeString(tmp, Json.write(value), StandardCharsets.UTF_8);
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The parsed contents of {@code file}, or null when it does not exist. */
    static Object read(Path file) throws IOException, Json.ParseException {
        try {
            return Json.parse(Files.readString(file, StandardCharsets.UTF_8));
        } catch (NoSuchFileException e) {
            return null;
        }
    }
}
