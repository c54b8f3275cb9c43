package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.vmm.VmmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code --rng}, {@code --virtio-console} and {@code --console-port} (and the config file's {@code "rng"},
 * {@code "virtio_console"}, {@code "console_ports"}): parsed, validated with errors naming option and key, and written
 * back into a snapshot's config so that it reads the same.
 */
class RngConsoleConfigTest {
    @TempDir Path dir;
    Path kernel;

    @BeforeEach
    void setUp() throws Exception {
        kernel = Files.writeString(dir.resolve("k"), "x");
    }

    /** A launch's raw config: {@code --console serial} (null: the default, stdio) and the three options. */
    ConfigLoader.Raw raw(String serial, String rng, String virtioConsole, List<String> ports) {
        ConfigLoader.Raw r = ConfigLoader.fromCli(kernel.toString(), null, null, null, null, serial, null);
        DeviceSpecs.extrasFromCli(r, rng, virtioConsole, ports);
        return r;
    }

    VmConfig ok(ConfigLoader.Raw r) {
        return ConfigLoader.validate(r, 255);
    }

    String fail(ConfigLoader.Raw r) {
        return assertThrows(VmmException.class, () -> ConfigLoader.validate(r, 255)).getMessage();
    }

    @Test
    void rngDefaultsToUrandomWithoutALimit() {
        VmConfig c = ok(raw(null, "", null, null));
        assertEquals(RngConfig.DEFAULT, c.extras().rng());
        assertEquals(Path.of("/dev/urandom"), c.extras().rng().source());
        assertFalse(c.extras().rng().limited());
        assertNull(c.extras().console());
        assertNull(ok(raw(null, null, null, null)).extras().rng(), "no --rng, no device");
    }

    @Test
    void rngTakesASourceAndAQemuStyleRateLimit() throws Exception {
        Path src = Files.write(dir.resolve("pool"), new byte[16]);
        RngConfig r = ok(raw(null, "source=" + src + ",max-bytes=1024,period-ms=500", null, null)).extras().rng();
        assertEquals(new RngConfig(src, 1024, 500), r);
        assertEquals(new RngConfig(src, 4096, 1000), ok(raw(null, src + ",max-bytes=4096", null, null)).extras().rng(),
                "a bare first word is the source; the period defaults to a second");
        assertEquals(r, DeviceSpecs.rng(DeviceSpecs.parseCli("--rng", r.toString(), "source", RngConfig.KEYS)),
                "its own form parses back");
    }

    @Test
    void rngErrorsNameTheKey() {
        assertEquals("--rng: source: " + dir.resolve("nope") + ": no such file",
                fail(raw(null, "source=" + dir.resolve("nope"), null, null)));
        assertEquals("--rng: source: " + dir + ": is a directory", fail(raw(null, "source=" + dir, null, null)));
        assertEquals("--rng: period-ms: a period without max-bytes limits nothing (give max-bytes=N too)",
                fail(raw(null, "period-ms=100", null, null)));
        assertEquals("--rng: max-bytes: must be between 1 and 1099511627776, got 0",
                fail(raw(null, "max-bytes=0", null, null)));
        assertEquals("--rng: max-bytes: \"1٢\" is not a number", fail(raw(null, "max-bytes=1٢", null, null)),
                "ASCII digits only");
        assertEquals("--rng: period-ms: must be between 1 and 3600000, got 3600001",
                fail(raw(null, "max-bytes=1,period-ms=3600001", null, null)));
        assertEquals("--rng: unknown key \"max_bytes\" (expected source, max-bytes, period-ms)",
                assertThrows(VmmException.class, () -> raw(null, "max_bytes=1", null, null)).getMessage());
    }

    @Test
    void theVirtioConsoleAndNamedPortsComeNextToTheSerial() {
        Path hvc = dir.resolve("hvc0.sock"), a = dir.resolve("a.sock"), b = dir.resolve("b.sock");
        VmConfig c = ok(raw(null, null, "socket=" + hvc, List.of("name=org.example.0,socket=" + a,
                "name=org.qemu.guest_agent.0,socket=" + b)));
        assertEquals(ConsoleSpec.STDIO, c.console(), "the serial keeps its default");
        VirtioConsoleConfig v = c.extras().console();
        assertEquals(new ConsoleSpec(ConsoleSpec.Kind.SOCKET, hvc), v.console());
        assertEquals(List.of(new VirtioConsoleConfig.Port("org.example.0", a),
                new VirtioConsoleConfig.Port("org.qemu.guest_agent.0", b)), v.ports());
        // named ports alone: a device without a console port
        VirtioConsoleConfig only = ok(raw(null, null, null, List.of("name=agent,socket=" + a))).extras().console();
        assertNull(only.console());
        assertEquals(1, only.ports().size());
        // hvc0 on stdio with the serial elsewhere
        assertEquals(ConsoleSpec.STDIO, ok(raw("file=" + dir.resolve("serial.log"), null, "stdio", null)).extras()
                .console().console());
        assertNull(ok(raw(null, null, "none", null)).extras().console(), "none: no device");
    }

    @Test
    void consoleErrorsSayWhatToDo() {
        Path a = dir.resolve("a.sock");
        assertTrue(fail(raw(null, null, "stdio", null)).startsWith("--virtio-console: stdio: the serial console "
                + "(--console) is on stdio too"), "both on stdio, as Cloud Hypervisor refuses a tty for both");
        assertTrue(fail(raw("virtio", null, null, null)).startsWith("--console: \"virtio\" is not where a console goes"
                + ": --console is the 16550's host end"), fail(raw("virtio", null, null, null)));
        assertEquals("--console-port: name=NAME is required (the name the guest sees, e.g. org.example.agent.0)",
                fail(raw(null, null, null, List.of("socket=" + a))));
        assertEquals("--console-port: socket=PATH is required (the unix socket jvmm listens on for this port)",
                fail(raw(null, null, null, List.of("name=x"))));
        assertTrue(fail(raw(null, null, null, List.of("name=a/b,socket=" + a))).startsWith("--console-port: name: "
                + "\"a/b\" must be 1 to 255 letters"));
        assertEquals("--console-port: name: x is given to two ports", fail(raw(null, null, null,
                List.of("name=x,socket=" + a, "name=x,socket=" + dir.resolve("b.sock")))));
        assertEquals("--console-port: socket: " + a + " is given to two ports", fail(raw(null, null, null,
                List.of("name=x,socket=" + a, "name=y,socket=" + a))));
        assertEquals("--console-port: socket: " + a + " is also the virtio console's socket (--virtio-console)",
                fail(raw(null, null, "socket=" + a, List.of("name=x,socket=" + a))));
        assertEquals("--virtio-console: " + a + " is also the serial console's (--console)",
                fail(raw("socket=" + a, null, "socket=" + a, null)));
        assertEquals("--console-port x: socket: " + a + " is also the serial console's",
                fail(raw("socket=" + a, null, null, List.of("name=x,socket=" + a))));
        Path deep = dir.resolve("d".repeat(120));
        assertTrue(fail(raw(null, null, null, List.of("name=x,socket=" + deep))).contains("a unix socket's path has "
                + "at most 107"));
        assertEquals("--console-port: socket: the directory " + dir.resolve("no") + " does not exist",
                fail(raw(null, null, null, List.of("name=x,socket=" + dir.resolve("no/x.sock")))));
        List<String> many = new java.util.ArrayList<>();
        for (int i = 0; i < 32; i++) {
            many.add("name=p" + i + ",socket=" + dir.resolve(i + ".sock"));
        }
        assertEquals("--console-port: at most 31 named ports", fail(raw(null, null, null, many)));
    }

    @Test
    void theConfigFileTakesTheSameAndASnapshotWritesThemBack() throws Exception {
        Path src = Files.write(dir.resolve("pool"), new byte[16]);
        Path hvc = dir.resolve("hvc0.sock"), a = dir.resolve("a.sock");
        String json = "{\"kernel\": \"" + kernel + "\", \"console\": \"none\", \"rng\": {\"source\": \"" + src
                + "\", \"max-bytes\": 64, \"period-ms\": 10}, \"virtio_console\": \"socket=" + hvc
                + "\", \"console_ports\": [{\"name\": \"org.example.0\", \"socket\": \"" + a + "\"}, \"name=b,socket="
                + dir.resolve("b.sock") + "\"]}";
        ConfigLoader.Raw r = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        ConfigLoader.readText(json, "vm.json", r);
        VmConfig c = ok(r);
        assertEquals(new RngConfig(src, 64, 10), c.extras().rng());
        assertEquals(2, c.extras().console().ports().size());

        String written = ConfigLoader.write(c, List.of(), List.of());
        ConfigLoader.Raw back = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        ConfigLoader.readText(written, "config.json", back);
        assertEquals(c.extras(), ok(back).extras(), written);

        ConfigLoader.Raw t = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        ConfigLoader.readText("{\"kernel\": \"" + kernel + "\", \"rng\": true}", "vm.json", t);
        assertEquals(RngConfig.DEFAULT, ok(t).extras().rng());
        ConfigLoader.Raw f = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        assertEquals("vm.json: field \"rng\": unknown key \"rate\" (expected source, max-bytes, period-ms)",
                assertThrows(VmmException.class, () -> ConfigLoader.readText("{\"rng\": {\"rate\": 1}}", "vm.json", f))
                        .getMessage());
        // the CLI's wins
        ConfigLoader.Raw cli = raw(null, "max-bytes=5", null, null);
        ConfigLoader.readText(json, "vm.json", cli);
        assertEquals(new RngConfig(RngConfig.DEFAULT_SOURCE, 5, 1000), ok(cli).extras().rng());
    }
}
