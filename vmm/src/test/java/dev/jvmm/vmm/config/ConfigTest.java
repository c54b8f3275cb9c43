package dev.jvmm.vmm.config;

import dev.jvmm.sys.Sizes;
import dev.jvmm.sys.json.Json;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jvmm.vmm.VmmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigTest {
    @TempDir
    Path dir;

    private String fail(ConfigLoader.Raw r) {
        return assertThrows(VmmException.class, () -> ConfigLoader.validate(r, 255)).getMessage();
    }

    @Test
    void sizes() {
        assertEquals(512L << 20, Sizes.parse("512M", Sizes.MIB));
        assertEquals(2L << 30, Sizes.parse("2G", Sizes.MIB));
        assertEquals(256L << 20, Sizes.parse("256", Sizes.MIB), "memory: a bare number is MiB");
        assertEquals("1536M", Sizes.format(1536L << 20));
        assertEquals("\"12Q\" is not a size (use e.g. 512M or 2G)",
                assertThrows(IllegalArgumentException.class, () -> Sizes.parse("12Q", Sizes.MIB)).getMessage());
    }

    @Test
    void cliErrorsNameTheOption() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        assertEquals("--memory: \"12Q\" is not a size (use e.g. 512M or 2G)",
                fail(ConfigLoader.fromCli(k.toString(), null, null, "12Q", null, null, null)));
        assertEquals("--cpus: must be between 1 and 255, got 0",
                fail(ConfigLoader.fromCli(k.toString(), null, null, null, "0", null, null)));
        assertEquals("--kernel: " + dir.resolve("nope") + ": no such file",
                fail(ConfigLoader.fromCli(dir.resolve("nope").toString(), null, null, null, null, null, null)));
        assertEquals("--console: \"tty\" is not a console (use stdio, none, file=PATH or socket=PATH)",
                fail(ConfigLoader.fromCli(k.toString(), null, null, null, null, "tty", null)));
        assertEquals("--memory: must be a multiple of 2M, got 513M",
                fail(ConfigLoader.fromCli(k.toString(), null, null, "513M", null, null, null)));
        VmConfig c = ConfigLoader.validate(ConfigLoader.fromCli(k.toString(), null, null, "1G", "2", "file=/tmp/x", "restart"), 8);
        assertEquals(1L << 30, c.memory());
        assertEquals(2, c.cpus());
        assertEquals(ConsoleSpec.Kind.FILE, c.console().kind());
        assertEquals(VmConfig.OnReboot.RESTART, c.onReboot());
        assertEquals(VmConfig.DEFAULT_CMDLINE, c.cmdline());
    }

    @Test
    void configFileErrorsNameTheField() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        Path f = dir.resolve("vm.json");
        Files.writeString(f, "{\"kernel\": \"" + k + "\", \"cpus\": 0}");
        ConfigLoader.Raw r = new ConfigLoader.Raw();
        ConfigLoader.readFile(f, r);
        assertEquals("vm.json: field \"cpus\": must be between 1 and 255, got 0", fail(r));

        Files.writeString(f, "{\"kernel\": \"" + k + "\", \"memroy\": \"1G\"}");
        assertEquals("vm.json: field \"memroy\": unknown field (known: kernel, initrd, cmdline, memory, cpus, console, on_reboot, disks, nets, devices, nics, migratable, rng, virtio_console, console_ports)",
                assertThrows(VmmException.class, () -> ConfigLoader.readFile(f, new ConfigLoader.Raw())).getMessage());

        Files.writeString(f, "{\"kernel\": \"" + k + "\",\n \"cpus\": \"two\"}");
        ConfigLoader.Raw r2 = new ConfigLoader.Raw();
        ConfigLoader.readFile(f, r2);
        assertEquals("vm.json: field \"cpus\": \"two\" is not a number", fail(r2));

        Files.writeString(f, "{\"kernel\": 3}");
        assertEquals("vm.json: field \"kernel\": must be a string, got long",
                assertThrows(VmmException.class, () -> ConfigLoader.readFile(f, new ConfigLoader.Raw())).getMessage());

        Files.writeString(f, "{\"kernel\": \"k\",\n  \"cpus\": 2,}");
        assertEquals("vm.json: not valid JSON: line 2, column 13: expected a field name in double quotes, got '}'",
                assertThrows(VmmException.class, () -> ConfigLoader.readFile(f, new ConfigLoader.Raw())).getMessage());

        // CLI wins over the file
        Files.writeString(f, "{\"kernel\": \"" + k + "\", \"cpus\": 4, \"memory\": \"1G\", \"cmdline\": \"quiet\"}");
        ConfigLoader.Raw r3 = ConfigLoader.fromCli(null, null, null, null, "2", null, null);
        ConfigLoader.readFile(f, r3);
        VmConfig c = ConfigLoader.validate(r3, 255);
        assertEquals(2, c.cpus());
        assertEquals(1L << 30, c.memory());
        assertEquals("quiet", c.cmdline());
    }

    @Test
    void jsonIsStrict() throws Exception {
        assertEquals(Map.of("a", List.of(1L, 2.5, "x\n\u00e9", true, false)),
                Json.parse("{\"a\": [1, 2.5, \"x\\n\\u00e9\", true, false]}"));
        for (String bad : List.of("{\"a\":1,\"a\":2}", "[1,]", "{a:1}", "01", "{\"a\":1} x", "\"\\q\"", "// c\n{}")) {
            assertThrows(Json.ParseException.class, () -> Json.parse(bad), bad);
        }
    }
}
