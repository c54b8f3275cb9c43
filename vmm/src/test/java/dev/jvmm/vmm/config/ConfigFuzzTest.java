package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.vmm.VmmException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Fuzz targets: what a user types into a VM's config, parsed by the real parsers. Files the config may name exist
 * in a scratch directory, which the input names as {@code $DIR} (a kernel {@code $DIR/vmlinuz}, an initrd {@code
 * $DIR/initrd}, a disk image {@code $DIR/disk.img}, a directory {@code $DIR/dir}), so that the fuzzer reaches past
 * the file checks into the rest of the validation.
 * <p>Invariant of each: the input gives a valid config, or fails with a {@link VmmException} of reason CONFIG whose
 * message starts with where the value came from (the file, the field, the option); never another exception.
 */
class ConfigFuzzTest {
    private static final String WHERE = "vm.json";
    private static final Path DIR = scratch();

    /**
     * The JSON config file ({@link ConfigLoader#readText}, then {@link ConfigLoader#validate}, with or without a
     * {@code --kernel} from the command line). A valid config written back ({@link ConfigLoader#write}; a NIC that has
     * no place in that form may be refused, CONFLICT) reads and validates again to the same VM.
     */
    @FuzzTest(maxDuration = "5m")
    void jsonConfig(FuzzedDataProvider in) {
        boolean cliKernel = in.consumeBoolean();
        int maxCpus = in.consumeInt(0, 300);
        String text = in.consumeRemainingAsString().replace("$DIR", DIR.toString());
        ConfigLoader.Raw raw = ConfigLoader.fromCli(cliKernel ? DIR.resolve("vmlinuz").toString() : null, null, null,
                null, null, null, null);
        VmConfig cfg;
        try {
            ConfigLoader.readText(text, WHERE, raw);
            cfg = ConfigLoader.validate(raw, maxCpus);
        } catch (VmmException e) {
            assertConfigError(e, WHERE + ": ", "--");
            return;
        }
        assertNotNull(cfg.kernel());
        assertTrue(cfg.cpus() >= 1 && cfg.cpus() <= Math.max(1, Math.min(255, maxCpus)), "cpus " + cfg.cpus());
        assertTrue(cfg.memory() >= VmConfig.MIN_MEMORY && cfg.memory() <= VmConfig.MAX_MEMORY);
        String written;
        try {
            written = ConfigLoader.write(cfg, cfg.disks(), cfg.nets() == null ? List.of() : cfg.nets());
        } catch (VmmException e) {
            assertEquals(VmmException.Reason.CONFLICT, e.reason(), e.getMessage());
            return;
        }
        ConfigLoader.Raw again = new ConfigLoader.Raw();
        ConfigLoader.readText(written, "written", again);
        VmConfig back = ConfigLoader.validate(again, maxCpus);
        assertEquals(cfg.kernel().toAbsolutePath(), back.kernel());
        assertEquals(cfg.cmdline(), back.cmdline(), written);
        assertEquals(cfg.memory(), back.memory());
        assertEquals(cfg.cpus(), back.cpus());
        assertEquals(cfg.console(), back.console(), written);
        assertEquals(cfg.onReboot(), back.onReboot());
        assertEquals(cfg.disks().size(), back.disks().size());
        assertEquals(cfg.migratable(), back.migratable());
        assertEquals(cfg.extras().rng() == null ? null : cfg.extras().rng().maxBytes(),
                back.extras().rng() == null ? null : back.extras().rng().maxBytes(), written);
        assertEquals(cfg.extras().console() == null ? null : cfg.extras().console().ports().stream()
                .map(VirtioConsoleConfig.Port::name).toList(), back.extras().console() == null ? null
                : back.extras().console().ports().stream().map(VirtioConsoleConfig.Port::name).toList(), written);
    }

    /**
     * {@code --rng}, {@code --virtio-console} and {@code --console-port} as typed (issue 18): {@link
     * DeviceSpecs#parseCli} with {@link DeviceSpecs#rng}, {@link ConsoleSpec#parse} with {@link
     * DeviceSpecs#virtioConsole}, and up to four {@code --console-port} lines. A valid rng's own form parses back to
     * it; a valid console's ports have names of the allowed characters and distinct sockets.
     */
    @FuzzTest(maxDuration = "5m")
    void extrasSpec(FuzzedDataProvider in) {
        int kind = in.consumeInt(0, 2);
        String text = in.consumeRemainingAsString().replace("$DIR", DIR.toString());
        String option = kind == 0 ? "--rng" : kind == 1 ? "--virtio-console" : "--console-port";
        try {
            if (kind == 0) {
                RngConfig r = DeviceSpecs.rng(text.isBlank() ? new DeviceSpecs.Spec(option, new java.util.LinkedHashMap<>())
                        : DeviceSpecs.parseCli(option, text, "source", RngConfig.KEYS));
                assertTrue(r.maxBytes() >= 0 && r.maxBytes() <= RngConfig.MAX_BYTES && (r.maxBytes() == 0) == (r.periodMs() == 0));
                assertEquals(r, DeviceSpecs.rng(DeviceSpecs.parseCli(option, r.toString(), "source", RngConfig.KEYS)),
                        "the rng's own form parses back");
            } else {
                ConsoleSpec port0 = null;
                List<DeviceSpecs.Spec> ports = List.of();
                if (kind == 1) {
                    try {
                        port0 = ConsoleSpec.parse(text);
                    } catch (IllegalArgumentException e) {
                        assertNotNull(e.getMessage());
                        return;
                    }
                } else {
                    ports = DeviceSpecs.cli(option, List.of(text.split("\n", 4)), "name", VirtioConsoleConfig.PORT_KEYS);
                }
                VirtioConsoleConfig c = DeviceSpecs.virtioConsole(option, port0, ports);
                if (c != null) {
                    assertEquals(c.ports().size(), c.ports().stream().map(p -> p.socket().toAbsolutePath().normalize())
                            .distinct().count());
                    for (VirtioConsoleConfig.Port p : c.ports()) {
                        assertTrue(p.name().matches("[A-Za-z0-9._:+-]{1,255}"), p.name());
                    }
                }
            }
        } catch (VmmException e) {
            assertConfigError(e, option);
        }
    }

    /**
     * One device option as typed on the command line ({@code --disk}, {@code --net}, {@code --nic}, {@code --device},
     * {@code --console}): {@link DeviceSpecs#parseCli} and the option's validation ({@link DeviceSpecs#disk}, {@link
     * DeviceSpecs#net}, {@link DeviceSpecs#nics}, {@link DeviceSpecs#vfio}, {@link ConsoleSpec#parse}, which throws
     * IllegalArgumentException, turned into a CONFIG error by the caller), and the same value as a JSON string.
     */
    @FuzzTest(maxDuration = "5m")
    void deviceSpec(FuzzedDataProvider in) {
        int kind = in.consumeInt(0, 4);
        boolean migratable = in.consumeBoolean();
        String text = in.consumeRemainingAsString().replace("$DIR", DIR.toString());
        String option = switch (kind) {
            case 0 -> "--disk";
            case 1 -> "--net";
            case 2 -> "--nic";
            case 3 -> "--device";
            default -> "--console";
        };
        try {
            switch (kind) {
                case 0 -> {
                    DiskConfig d = DeviceSpecs.disk(DeviceSpecs.parseCli(option, text, "path", DiskConfig.KEYS));
                    assertTrue(d.queues() >= 1 && d.queues() <= DiskConfig.MAX_QUEUES, "queues " + d.queues());
                }
                case 1 -> {
                    NetConfig n = DeviceSpecs.net(DeviceSpecs.parseCli(option, text, "tap", NetConfig.KEYS));
                    assertTrue(n.queues() >= 1 && n.queues() <= NetConfig.MAX_QUEUES, "queues " + n.queues());
                }
                case 2 -> {
                    List<String> values = List.of(text.split("\n", 4));
                    List<NicConfig> nics = DeviceSpecs.nics(DeviceSpecs.nicsCli(values), migratable, "fuzz vm");
                    assertEquals(values.size(), nics.size());
                }
                case 3 -> DeviceSpecs.vfio(DeviceSpecs.cli(option, List.of(text.split("\n", 4)), "vfio",
                        VfioConfig.KEYS));
                default -> {
                    try {
                        ConsoleSpec c = ConsoleSpec.parse(text);
                        assertEquals(c, ConsoleSpec.parse(c.toString()), "the console's own form parses back");
                    } catch (IllegalArgumentException e) {
                        assertNotNull(e.getMessage());
                    }
                }
            }
        } catch (VmmException e) {
            assertConfigError(e, option);
        }
        if (kind <= 1) { // the same value as a JSON array element: a string in the CLI form
            String origin = WHERE + ": field \"" + (kind == 0 ? "disks" : "nets") + "\"";
            try {
                DeviceSpecs.Spec s = DeviceSpecs.parseJson(origin, text, kind == 0 ? "path" : "tap",
                        kind == 0 ? DiskConfig.KEYS : NetConfig.KEYS);
                assertEquals(origin, s.origin());
            } catch (VmmException e) {
                assertConfigError(e, origin);
            }
        }
    }

    private static void assertConfigError(VmmException e, String... prefixes) {
        assertEquals(VmmException.Reason.CONFIG, e.reason(), e.getMessage());
        boolean named = false;
        for (String p : prefixes) {
            named |= e.getMessage().startsWith(p);
        }
        assertTrue(named, "the error names where the value came from: " + e.getMessage());
    }

    private static Path scratch() {
        try {
            Path d = Files.createTempDirectory("jvmm-config-fuzz");
            Files.write(d.resolve("vmlinuz"), new byte[] {0x7f, 'E', 'L', 'F'});
            Files.write(d.resolve("initrd"), new byte[16]);
            Files.write(d.resolve("disk.img"), new byte[4096]);
            Files.createDirectory(d.resolve("dir"));
            for (Path p : List.of(d.resolve("vmlinuz"), d.resolve("initrd"), d.resolve("disk.img"), d.resolve("dir"),
                    d)) {
                p.toFile().deleteOnExit();
            }
            return d;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
