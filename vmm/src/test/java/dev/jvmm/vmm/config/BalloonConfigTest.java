package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.vmm.VmmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --balloon} and the config file's {@code "balloon"}: defaults, every key, errors naming the key, write-back. */
class BalloonConfigTest {
    @TempDir
    Path dir;

    static BalloonConfig cli(String text, long memory) {
        return DeviceSpecs.balloon(DeviceSpecs.balloonCli(text), memory);
    }

    static String error(String text, long memory) {
        return assertThrows(VmmException.class, () -> cli(text, memory)).getMessage();
    }

    @Test
    void cliForms() {
        assertEquals(new BalloonConfig(0, false, false, 0), cli("", 512L << 20), "the bare flag");
        assertEquals(new BalloonConfig(128L << 20, true, true, 5),
                cli("size=128M,free-page-reporting=on,deflate-on-oom=on,stats=5", 512L << 20));
        assertEquals(new BalloonConfig(64L << 20, false, false, 0), cli("64", 512L << 20), "a bare size in MiB");
        assertEquals(new BalloonConfig(1L << 30, false, true, 0), cli("1G,deflate-on-oom=true", 2L << 30));
    }

    @Test
    void errorsNameTheKey() {
        assertEquals("--balloon: size: 512M must be below the guest's RAM (512 MiB)", error("size=512M", 512L << 20));
        assertEquals("--balloon: size: 1000B is not a whole number of 4 KiB pages", error("size=1000B", 512L << 20));
        assertTrue(error("size=lots", 512L << 20).startsWith("--balloon: size: \"lots\" is not a size"));
        assertEquals("--balloon: stats: must be between 0 and 86400, got -1", error("stats=-1", 512L << 20));
        assertEquals("--balloon: free-page-reporting: \"maybe\" is not on/off", error("free-page-reporting=maybe", 512L << 20));
        assertTrue(error("target=1G", 512L << 20).startsWith("--balloon: unknown key \"target\" (expected size, "
                + "free-page-reporting, deflate-on-oom, stats)"));
    }

    @Test
    void configFileAndWriteBack() throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        ConfigLoader.Raw r = new ConfigLoader.Raw();
        ConfigLoader.readText("{\"kernel\": \"" + k + "\", \"memory\": 1024, \"balloon\": {\"size\": \"256M\", "
                + "\"free-page-reporting\": true, \"stats\": 10}}", "vm.json", r);
        VmConfig c = ConfigLoader.validate(r, 8);
        assertEquals(new BalloonConfig(256L << 20, true, false, 10), c.extras().balloon());
        String written = ConfigLoader.write(c, List.of(), List.of());
        ConfigLoader.Raw again = new ConfigLoader.Raw();
        ConfigLoader.readText(written, "written", again);
        assertEquals(c.extras().balloon(), ConfigLoader.validate(again, 8).extras().balloon(), written);

        ConfigLoader.Raw t = new ConfigLoader.Raw();
        ConfigLoader.readText("{\"kernel\": \"" + k + "\", \"balloon\": true}", "vm.json", t);
        assertEquals(new BalloonConfig(0, false, false, 0), ConfigLoader.validate(t, 8).extras().balloon());

        ConfigLoader.Raw none = new ConfigLoader.Raw();
        ConfigLoader.readText("{\"kernel\": \"" + k + "\"}", "vm.json", none);
        VmConfig n = ConfigLoader.validate(none, 8);
        assertNull(n.extras().balloon());
        assertFalse(ConfigLoader.write(n, List.of(), List.of()).contains("balloon"));

        ConfigLoader.Raw big = new ConfigLoader.Raw();
        ConfigLoader.readText("{\"kernel\": \"" + k + "\", \"balloon\": {\"size\": \"1G\"}}", "vm.json", big);
        assertEquals("vm.json: field \"balloon\": size: 1G must be below the guest's RAM (512 MiB)",
                assertThrows(VmmException.class, () -> ConfigLoader.validate(big, 8)).getMessage());

        // the CLI's --balloon wins over the file's
        ConfigLoader.Raw both = new ConfigLoader.Raw();
        both.balloon = DeviceSpecs.balloonCli("size=4M");
        ConfigLoader.readText("{\"kernel\": \"" + k + "\", \"balloon\": {\"size\": \"8M\"}}", "vm.json", both);
        assertEquals(4L << 20, ConfigLoader.validate(both, 8).extras().balloon().size());
    }
}
