package dev.jvmm.vmm.migration;

import dev.jvmm.core.GuestMemory;
import dev.jvmm.vmm.Console;
import dev.jvmm.vmm.Vm;
import dev.jvmm.vmm.VmBuilder;
import dev.jvmm.vmm.VmExit;
import dev.jvmm.vmm.VmRunner;
import dev.jvmm.vmm.VmSnapshot;
import dev.jvmm.vmm.boot.TinyKernel;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.DeviceSpecs;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import dev.jvmm.vmm.snapshot.StateFile;
import dev.jvmm.virtio.pci.DriverSteps;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A migration's destination, before it listens: one whole migration of a scratch VM within this process, so that the
 * real one runs warm. QEMU's destination is built from its command line before it listens; jvmm's learns its VM
 * only from the stream, so without this it would load and link the code of the build, the state's load, the virtio
 * devices' activation and the vCPUs' start for the first time while the source waits (in the lab, a cold JVM under
 * TCG: seconds of build, and 80–160 ms of first device activation inside the downtime).
 *
 * <p>The scratch VM is as small as a VM can be (32 MiB, one vCPU, {@link TinyKernel}, a virtio disk on a 1 MiB temporary
 * file, no console). Its disk is brought up as the guest's driver would ({@link DriverSteps}), its state captured and
 * its config written as a source does, and a second VM built from them as the destination builds one: devices
 * plugged from the layout, the state's load rehearsed and then done, the vCPUs started. It runs the tiny kernel,
 * which powers off. Nothing of it outlives {@link #run}: its VMs, files and fds are closed whatever happens, and a
 * failure is logged, never thrown (the real migration then runs cold, and reports its own errors).
 */
public final class IncomingWarmUp {
    private static final Logger log = LoggerFactory.getLogger(IncomingWarmUp.class);
    /** How long the scratch VM may run before it is stopped (the tiny kernel powers off at once). */
    private static final long RUN_LIMIT_S = 60;
    private static final long RINGS = 8 << 20;
    private static final int QUEUE_SIZE = 64;

    private IncomingWarmUp() {
    }

    /** Runs the scratch migration; returns how long it took (ms), or -1 when it failed (logged). */
    public static long run() {
        long t0 = System.nanoTime();
        try {
            dev.jvmm.sys.kvm.Kvm.open().close();
        } catch (RuntimeException e) {
            log.debug("incoming migration: no warm-up without KVM ({}); the build reports it", e.getMessage());
            return -1;
        }
        Path dir = null;
        try {
            dir = Files.createTempDirectory("jvmm-warm-up");
            Path kernel = Files.write(dir.resolve("bzImage"), TinyKernel.bzImage());
            Path initrd = Files.write(dir.resolve("initrd"), new byte[4096]);
            Path disk = dir.resolve("disk.img");
            try (var f = java.nio.channels.FileChannel.open(disk, java.nio.file.StandardOpenOption.CREATE_NEW,
                    java.nio.file.StandardOpenOption.WRITE)) {
                f.truncate(0).write(java.nio.ByteBuffer.allocate(1), (1 << 20) - 1);
            }
            ConfigLoader.Raw raw = ConfigLoader.fromCli(kernel.toString(), initrd.toString(), "console=ttyS0", "32M",
                    "1", "none", null);
            DeviceSpecs.fromCli(raw, List.of("path=" + disk), List.of());
            VmConfig cfg = ConfigLoader.validate(raw, VmBuilder.maxVcpus());
            migrateScratch(cfg);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            log.info("incoming migration: warmed up in {} ms (a scratch VM migrated within this process)", ms);
            return ms;
        } catch (RuntimeException | IOException e) {
            log.warn("incoming migration: the warm-up failed, the migration will run cold: {}", e.toString());
            return -1;
        } finally {
            if (dir != null) {
                try (var files = Files.list(dir)) {
                    for (Path p : files.toList()) {
                        Files.deleteIfExists(p);
                    }
                    Files.deleteIfExists(dir);
                } catch (IOException e) {
                    log.debug("warm-up: could not remove {}: {}", dir, e.toString());
                }
            }
        }
    }

    /** The source's part on a VM built from {@code cfg}, then the destination's part on a second VM. */
    private static void migrateScratch(VmConfig cfg) throws dev.jvmm.sys.state.StateFormatException {
        byte[] layout;
        byte[] state;
        String json;
        GuestMemory ram;
        try (Console console = Console.open(cfg.console()); Vm source = VmBuilder.build(cfg, console)) {
            for (DeviceManager.Plugged p : source.devices().devices()) {
                if (p.transport() != null) {
                    DriverSteps.init(p.transport(), -1L, p.transport().queues().size(), QUEUE_SIZE,
                            q -> new long[] {RINGS + 0x10000L * q, RINGS + 0x10000L * q + 0x4000,
                                RINGS + 0x10000L * q + 0x8000});
                }
            }
            VmSnapshot.warmUp(source);
            source.quiesceDevices();
            VmSnapshot.Captured c = VmSnapshot.capture(source, cfg);
            layout = VmSnapshot.layout(source);
            state = StateFile.encode(c.sections());
            json = c.configJson();
            ram = VmBuilder.createRam(cfg);
            try {
                byte[] chunk = new byte[1 << 20];
                for (GuestMemory.Region r : source.memory().regions()) {
                    for (long off = 0; off < r.size(); off += chunk.length) {
                        int n = (int) Math.min(chunk.length, r.size() - off);
                        source.memory().read(r.guestPhysAddr() + off, chunk, 0, n);
                        ram.write(r.guestPhysAddr() + off, chunk, 0, n);
                    }
                }
            } catch (RuntimeException e) {
                ram.close();
                throw e;
            }
        }
        ConfigLoader.Raw raw = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        VmConfig dst;
        try {
            ConfigLoader.readText(json, "the warm-up's config", raw);
            dst = ConfigLoader.validate(raw, VmBuilder.maxVcpus());
        } catch (RuntimeException e) {
            ram.close();
            throw e;
        }
        // the state "arrives" once the build waits for it, after its rehearsal, as a migration's does
        CompletableFuture<Map<String, byte[]>> arrived = new CompletableFuture<>();
        VmSnapshot.Restore restore = new VmSnapshot.Restore(layout, arrived, "the warm-up", ram, () -> {
            try {
                arrived.complete(StateFile.decode(state, "the warm-up's state"));
            } catch (dev.jvmm.sys.state.StateFormatException e) {
                arrived.completeExceptionally(e);
            }
        }, e -> { });
        VmExit exit = VmRunner.run(dst, restore, new VmRunner.Lifecycle() {
            @Override
            public void started(Vm vm) {
                vm.firstEntryEpochNanos(1000);
                CompletableFuture.delayedExecutor(RUN_LIMIT_S, TimeUnit.SECONDS).execute(() -> vm.requestExit(
                        new VmExit(VmExit.Kind.VMM_ERROR, "the warm-up VM ran for " + RUN_LIMIT_S + " s")));
            }
        });
        if (exit.kind() != VmExit.Kind.POWEROFF) {
            throw new IllegalStateException("the warm-up VM ended with " + exit.message());
        }
    }
}
