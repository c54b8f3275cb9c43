package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.virtio.blk.AioMode;
import dev.jvmm.virtio.blk.CacheMode;
import dev.jvmm.vmm.VmmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --disk / --net parsing and validation, from the CLI and from vm.json; every error names option and key. */
class DeviceSpecsTest {
    @TempDir
    Path dir;

    private ConfigLoader.Raw raw(Path kernel, List<String> disks, List<String> nets) {
        ConfigLoader.Raw r = ConfigLoader.fromCli(kernel.toString(), null, null, null, null, null, null);
        DeviceSpecs.fromCli(r, disks, nets);
        return r;
    }

    private String fail(ConfigLoader.Raw r) {
        return assertThrows(VmmException.class, () -> ConfigLoader.validate(r, 255)).getMessage();
    }

    /** Parses and validates, as LaunchCommand does; returns the error message. */
    private String fail(Path kernel, List<String> disks, List<String> nets) {
        return assertThrows(VmmException.class, () -> ConfigLoader.validate(raw(kernel, disks, nets), 255)).getMessage();
    }

    @Test
    void cliDisksAndNetsAreParsed() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        Path img = Files.write(dir.resolve("a.img"), new byte[4096]);
        Path ro = Files.write(dir.resolve("b.img"), new byte[4096]);
        VmConfig c = ConfigLoader.validate(raw(k, List.of("path=" + img + ",cache=none,id=root,queues=2",
                ro + ",readonly=on", img + ",aio=io_uring", img + ",aio=Threads,cache=writethrough", img + ",aio=auto"),
                List.of("tap=jt0,mac=52:54:00:aa:bb:cc,queues=4,vhost=off", "queues=1")), 255);
        assertEquals(List.of(new DiskConfig(img, false, CacheMode.NONE, "root", 2),
                new DiskConfig(ro, true, CacheMode.WRITEBACK, null, 1, AioMode.AUTO),
                new DiskConfig(img, false, CacheMode.WRITEBACK, null, 1, AioMode.IO_URING),
                new DiskConfig(img, false, CacheMode.WRITETHROUGH, null, 1, AioMode.THREADS),
                new DiskConfig(img, false, CacheMode.WRITEBACK, null, 1, AioMode.AUTO)), c.disks());
        assertEquals(2, c.nets().size());
        assertEquals("jt0", c.nets().get(0).tap());
        assertEquals("52:54:00:aa:bb:cc", NetConfig.format(c.nets().get(0).mac()));
        assertEquals(4, c.nets().get(0).queues());
        assertEquals(NetConfig.Vhost.OFF, c.nets().get(0).vhost());
        assertEquals(NetConfig.Vhost.AUTO, c.nets().get(1).vhost(), "vhost=auto unless told");
        assertNull(c.nets().get(1).tap());
        assertNull(c.nets().get(1).mac());
        assertEquals("52:54:00:12:34:57", NetConfig.format(NetConfig.defaultMac(1)));
    }

    /**
     * A file name with a NUL byte (a config file's "\\u0000") is a CONFIG error naming the option, not an
     * InvalidPathException out of the launch. Found by ConfigFuzzTest.
     */
    @Test
    void fileNamesWithNulAreRefusedByName() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        assertEquals("--disk: path: \"a\\0b.img\" is not a file name: Nul character not allowed",
                fail(k, List.of("a\0b.img,readonly=on"), null));
        ConfigLoader.Raw r = ConfigLoader.fromCli(k + "\0", null, null, null, null, null, null);
        assertEquals("--kernel: \"" + k + "\\0\" is not a file name: Nul character not allowed", fail(r));
        ConfigLoader.Raw c = ConfigLoader.fromCli(k.toString(), null, null, null, null, "file=/tmp/x\0y", null);
        assertEquals("--console: \"/tmp/x\\0y\" is not a file name: Nul character not allowed", fail(c));
        // the console spec is trimmed, so a control character at a path's end would be lost: refused too (ConfigFuzzTest)
        ConfigLoader.Raw t = ConfigLoader.fromCli(k.toString(), null, null, null, null, "socket=r\u0004/r\u0004", null);
        assertEquals("--console: \"r\u0004/r\" is not a file name: control character 0x4 at 1", fail(t));
        ConfigLoader.Raw w = ConfigLoader.fromCli(k.toString(), null, null, null, null, "file= /x /", null);
        assertEquals("--console: \" /x /\" is not a file name: it begins or ends with white space", fail(w));
        ConfigLoader.Raw j = new ConfigLoader.Raw();
        ConfigLoader.readText("{\"kernel\": \"" + k + "\\u0000\"}", "vm.json", j);
        assertEquals("vm.json: field \"kernel\": \"" + k + "\\0\" is not a file name: Nul character not allowed",
                fail(j));
    }

    @Test
    void cliErrorsNameOptionAndKey() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        Path img = Files.write(dir.resolve("a.img"), new byte[4096]);
        assertEquals("--disk: unknown key \"cahce\" (expected path, readonly, cache, id, queues, aio, format)",
                fail(k, List.of("path=" + img + ",cahce=none"), null));
        assertEquals("--disk: cache: \"fast\" is not a cache mode (expected none, writeback, writethrough or unsafe)",
                fail(k, List.of("path=" + img + ",cache=fast"), null));
        assertEquals("--disk: path: " + dir.resolve("nope.img") + ": no such file",
                fail(k, List.of("path=" + dir.resolve("nope.img")), null));
        assertEquals("--disk: path=FILE is required", fail(k, List.of("cache=none"), null));
        assertEquals("--disk: readonly: \"maybe\" is not on/off", fail(k, List.of(img + ",readonly=maybe"), null));
        assertEquals("--disk: queues: must be between 1 and 64, got 0", fail(k, List.of(img + ",queues=0"), null));
        assertEquals("--disk: key \"cache\" given twice", fail(k, List.of(img + ",cache=none,cache=unsafe"), null));
        assertEquals("--disk: format: \"vmdk\" is not a disk format (expected raw or qcow2)",
                fail(k, List.of(img + ",format=vmdk"), null));
        assertEquals("--disk: format=qcow2 but " + img + " is not a qcow2 image (no QFI\\xfb magic)",
                fail(k, List.of(img + ",format=qcow2"), null));
        assertEquals("--disk: aio: \"native\" is not an aio mode (expected threads, io_uring or auto)",
                fail(k, List.of(img + ",aio=native"), null));
        assertEquals("--disk: id: \"a b\" must be 1 to 20 printable ASCII characters without spaces",
                fail(k, List.of(img + ",id=a b"), null));
        assertEquals("--disk: path: " + dir + ": is a directory (expected a raw image file or a block device)",
                fail(k, List.of("path=" + dir), null));
        assertEquals("--net: unknown key \"macaddr\" (expected tap, mac, queues, vhost)",
                fail(k, null, List.of("tap=t0,macaddr=52:54:00:00:00:01")));
        assertEquals("--net: vhost: \"maybe\" is not on, off or auto", fail(k, null, List.of("tap=t0,vhost=maybe")));
        assertEquals("--net: mac: \"52:54:00:zz:00:01\" is not a MAC address (use e.g. 52:54:00:12:34:56)",
                fail(k, null, List.of("mac=52:54:00:zz:00:01")));
        assertEquals("--net: mac: 01:00:5e:00:00:01 is a multicast address (the first byte must be even)",
                fail(k, null, List.of("mac=01:00:5e:00:00:01")));
        assertEquals("--net: queues: \"two\" is not a number", fail(k, null, List.of("queues=two")));
        assertEquals("--net: queues: must be between 1 and 16, got 17", fail(k, null, List.of("queues=17")));
        assertEquals("--net: tap: \"a/b\" is not an interface name (1 to 15 characters, no '/' or spaces)",
                fail(k, null, List.of("tap=a/b")));
    }

    @Test
    void configFileArraysAcceptObjectsAndStringsAndTheCliWins() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        Path img = Files.write(dir.resolve("a.img"), new byte[4096]);
        Path other = Files.write(dir.resolve("c.img"), new byte[4096]);
        Path json = Files.writeString(dir.resolve("vm.json"), "{\"kernel\": \"" + k + "\", \"disks\": [{\"path\": \""
                + img + "\", \"readonly\": true, \"cache\": \"unsafe\", \"queues\": 2, \"aio\": \"threads\"}, \"" + other
                + ",id=data\"], "
                + "\"nets\": [{\"tap\": \"jt1\", \"queues\": 2}]}");
        ConfigLoader.Raw r = new ConfigLoader.Raw();
        ConfigLoader.readFile(json, r);
        VmConfig c = ConfigLoader.validate(r, 255);
        assertEquals(List.of(new DiskConfig(img, true, CacheMode.UNSAFE, null, 2, AioMode.THREADS),
                new DiskConfig(other, false, CacheMode.WRITEBACK, "data", 1)), c.disks());
        // a saved config keeps the aio mode asked for (auto is left out)
        String saved = ConfigLoader.write(c, c.disks(), List.of());
        assertTrue(saved.contains("\"aio\":\"threads\"") || saved.contains("\"aio\": \"threads\""), saved);
        assertEquals(1, saved.split("\"aio\"", -1).length - 1, saved);
        assertEquals("jt1", c.nets().get(0).tap());
        assertEquals(2, c.nets().get(0).queues());

        ConfigLoader.Raw cli = raw(k, List.of(other.toString()), null);
        ConfigLoader.readFile(json, cli);
        VmConfig c2 = ConfigLoader.validate(cli, 255);
        assertEquals(1, c2.disks().size(), "--disk replaces the file's disks");
        assertEquals(other, c2.disks().get(0).path());
        assertEquals(1, c2.nets().size(), "the file's nets stay");
    }

    @Test
    void configFileErrorsNameFieldIndexAndKey() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        Path img = Files.write(dir.resolve("a.img"), new byte[4096]);
        String[][] cases = {
            {"\"disks\": [{\"path\": \"" + img + "\", \"cahce\": \"none\"}]",
                "vm.json: field \"disks\"[0]: unknown key \"cahce\" (expected path, readonly, cache, id, queues, aio, format)"},
            {"\"disks\": {\"path\": \"x\"}", "vm.json: field \"disks\": must be an array [...]"},
            {"\"nets\": [{\"tap\": \"t0\"}, 5]", "vm.json: field \"nets\"[1]: must be an object {\"tap\": ...} or a string, got long"},
            {"\"nets\": [{\"queues\": [1]}]", "vm.json: field \"nets\"[0]: key \"queues\" must be a string, number or boolean"},
            {"\"nets\": [{\"queues\": 99}]", "vm.json: field \"nets\"[0]: queues: must be between 1 and 16, got 99"},
        };
        for (String[] c : cases) {
            assertEquals(c[1], fileError(dir.resolve("vm.json"), "{\"kernel\": \"" + k + "\", " + c[0] + "}"));
        }
    }

    /** Writes {@code json} to {@code file}, reads and validates it as launch does; returns the error's message. */
    static String fileError(Path file, String json) throws java.io.IOException {
        Files.writeString(file, json);
        return assertThrows(VmmException.class, () -> {
            ConfigLoader.Raw r = new ConfigLoader.Raw();
            ConfigLoader.readFile(file, r);
            ConfigLoader.validate(r, 255);
        }).getMessage();
    }
}
