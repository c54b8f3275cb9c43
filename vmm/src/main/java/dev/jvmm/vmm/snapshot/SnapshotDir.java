package dev.jvmm.vmm.snapshot;

import dev.jvmm.sys.state.StateFormatException;
import dev.jvmm.virtio.blk.VirtioBlk;
import dev.jvmm.vmm.Vm;
import dev.jvmm.vmm.VmSnapshot;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A snapshot on disk: a directory with {@code config.json} (the VM's config as it is now, in the form
 * {@code --config} reads: hot-added devices included, each NIC with its MAC), {@code state.bin} (the
 * {@link StateFile}: vCPUs, VM, devices, checksummed) and {@code memory.bin} (guest RAM, sparse: pages of zeros are
 * holes). {@link #save} writes one from a paused VM; {@link #open} reads one back for {@code --restore}.
 */
public final class SnapshotDir {
    private static final Logger log = LoggerFactory.getLogger(SnapshotDir.class);
    public static final String CONFIG = "config.json";
    public static final String STATE = "state.bin";
    public static final String MEMORY = "memory.bin";

    private SnapshotDir() {
    }

    /** What a snapshot wrote and how long it took. */
    public record Saved(Path dir, long stateBytes, long memoryBytes, long memoryWritten, long millis) {
    }

    /**
     * Writes a snapshot of {@code vm} (paused by the caller) into {@code dir}, which must be empty or not exist.
     * The device threads are quiesced while the state and RAM are written and every disk is flushed, so that the
     * disk files and the RAM image agree. Files are written under temporary names and renamed at the end: a
     * failed snapshot leaves no state.bin. CONFLICT for a VM whose state cannot be saved; HOST for I/O errors.
     */
    public static Saved save(Vm vm, VmConfig cfg, Path dir) {
        long t0 = System.nanoTime();
        VmSnapshot.config(vm, cfg); // a VM that cannot be saved is refused before anything is written
        prepare(dir);
        vm.quiesceDevices();
        try {
            VmSnapshot.Captured c = VmSnapshot.capture(vm, cfg);
            flushDisks(vm);
            byte[] state = StateFile.encode(c.sections());
            Path memTmp = dir.resolve(MEMORY + ".tmp");
            long written = vm.memory().writeTo(memTmp);
            write(dir.resolve(STATE + ".tmp"), state);
            write(dir.resolve(CONFIG + ".tmp"), c.configJson().getBytes(java.nio.charset.StandardCharsets.UTF_8));
            for (String f : new String[] {MEMORY, CONFIG, STATE}) { // state.bin last: its presence means complete
                Files.move(dir.resolve(f + ".tmp"), dir.resolve(f), StandardCopyOption.REPLACE_EXISTING,
                        StandardCopyOption.ATOMIC_MOVE);
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            log.info("snapshot written to {} in {} ms: state {} bytes, RAM {} MiB ({} MiB of non-zero pages)", dir, ms,
                    state.length, vm.memory().size() >> 20, written >> 20);
            return new Saved(dir, state.length, vm.memory().size(), written, ms);
        } catch (IOException e) {
            cleanup(dir);
            throw new VmmException(VmmException.Reason.HOST, "snapshot to " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            cleanup(dir);
            throw e;
        } finally {
            vm.unquiesceDevices();
        }
    }

    /** A snapshot read back: its config file, and the state to build the VM from (RAM mapped from memory.bin). */
    public record Opened(Path config, VmSnapshot.Restore restore) {
    }

    /**
     * Opens the snapshot in {@code dir}: checks that its three files exist and reads and verifies state.bin
     * (checksum, version). CONFIG errors name the file and what is wrong.
     */
    public static Opened open(Path dir, boolean resume) {
        String where = "--restore " + dir;
        if (!Files.isDirectory(dir)) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": not a directory");
        }
        for (String f : new String[] {CONFIG, STATE, MEMORY}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new VmmException(VmmException.Reason.CONFIG, where + ": " + f + " is missing (not a complete "
                        + "jvmm snapshot)");
            }
        }
        Path state = dir.resolve(STATE);
        Map<String, byte[]> sections;
        try {
            long size = Files.size(state);
            if (size > StateFile.MAX_BYTES) {
                throw new VmmException(VmmException.Reason.CONFIG, where + ": " + STATE + " is " + size
                        + " bytes, above the limit " + StateFile.MAX_BYTES);
            }
            sections = StateFile.decode(Files.readAllBytes(state), state.toString());
        } catch (StateFormatException e) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": " + e.getMessage(), e);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": cannot read " + STATE + ": " + e.getMessage(), e);
        }
        return new Opened(dir.resolve(CONFIG), new VmSnapshot.Restore(sections, dir.resolve(MEMORY), dir.toString(),
                resume));
    }

    private static void prepare(Path dir) {
        try {
            if (Files.exists(dir)) {
                if (!Files.isDirectory(dir)) {
                    throw new VmmException(VmmException.Reason.CONFIG, "destination " + dir + " is not a directory");
                }
                try (DirectoryStream<Path> d = Files.newDirectoryStream(dir)) {
                    if (d.iterator().hasNext()) {
                        throw new VmmException(VmmException.Reason.CONFLICT, "destination " + dir + " is not empty "
                                + "(a snapshot goes into an empty or new directory)");
                    }
                }
            } else {
                Files.createDirectories(dir);
            }
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.CONFIG, "destination " + dir + ": " + e.getMessage(), e);
        }
    }

    /** fdatasync of every writable virtio disk's file (not with cache=unsafe), so that what the guest wrote is on it. */
    public static void flushDisks(Vm vm) throws IOException {
        for (DeviceManager.Plugged p : vm.devices().devices()) {
            if (p.transport() != null && p.transport().device() instanceof VirtioBlk b && !b.backend().readOnly()) {
                int r = b.backend().flush();
                if (r < 0) {
                    throw new IOException(p.id() + ": flushing " + b.backend().path() + " failed: errno " + -r);
                }
            }
        }
    }

    private static void write(Path file, byte[] bytes) throws IOException {
        Files.deleteIfExists(file);
        Files.createFile(file, java.nio.file.attribute.PosixFilePermissions.asFileAttribute(
                java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"))); // the guest's secrets
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file,
                java.nio.file.StandardOpenOption.WRITE)) {
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
            ch.force(true);
        }
    }

    private static void cleanup(Path dir) {
        for (String f : new String[] {MEMORY, CONFIG, STATE}) {
            try {
                Files.deleteIfExists(dir.resolve(f + ".tmp"));
            } catch (IOException e) {
                log.warn("cannot remove {}: {}", dir.resolve(f + ".tmp"), e.getMessage());
            }
        }
    }
}
