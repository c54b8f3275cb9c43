package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.vmm.VmmException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --vsock cid=N} and the config file's {@code "vsock"}: parsed, validated, written back, errors named. */
class VsockConfigTest {
    @TempDir
    Path dir;

    private VmConfig load(String vsock, String file) throws Exception {
        Path k = Files.writeString(dir.resolve("k"), "x");
        ConfigLoader.Raw r = ConfigLoader.fromCli(k.toString(), null, null, null, null, null, null);
        DeviceSpecs.vsockFromCli(r, vsock == null ? null : List.of(vsock));
        if (file != null) {
            ConfigLoader.readText(file.replace("KERNEL", k.toString()), "vm.json", r);
        }
        return ConfigLoader.validate(r, 255);
    }

    private String fail(String vsock) {
        return assertThrows(VmmException.class, () -> load(vsock, null)).getMessage();
    }

    @Test
    void cliAndFileGiveTheCidAndTheCliWins() throws Exception {
        assertNull(load(null, null).extras().vsock(), "no --vsock, no device");
        assertEquals(new VsockConfig(3), load("cid=3", null).extras().vsock());
        assertEquals(new VsockConfig(4294967294L), load("4294967294", null).extras().vsock(), "a bare value is the cid");
        assertEquals(new VsockConfig(7), load(null, "{\"kernel\": \"KERNEL\", \"vsock\": {\"cid\": 7}}").extras().vsock());
        assertEquals(new VsockConfig(8), load(null, "{\"kernel\": \"KERNEL\", \"vsock\": \"cid=8\"}").extras().vsock());
        assertEquals(new VsockConfig(9), load("cid=9", "{\"kernel\": \"KERNEL\", \"vsock\": {\"cid\": 7}}").extras().vsock(),
                "--vsock overrides the file (a migration on one host gives the destination another CID)");
    }

    @Test
    void badValuesAreNamed() {
        assertEquals("--vsock: cid=N is required (the guest's context id, 3 to 4294967294, unique on this host)",
                assertThrows(VmmException.class, () -> DeviceSpecs.vsock(new DeviceSpecs.Spec("--vsock",
                        new java.util.LinkedHashMap<>()))).getMessage());
        assertEquals("--vsock: cid \"x3\" is not a number", fail("cid=x3"));
        assertTrue(fail("cid=2").startsWith("--vsock: vsock cid 2 is reserved or out of range: a guest's CID is 3 to "
                + "4294967294"), fail("cid=2"));
        assertTrue(fail("cid=4294967295").startsWith("--vsock: vsock cid 4294967295 is reserved"));
        assertTrue(fail("cid=99999999999").startsWith("--vsock: vsock cid 99999999999 is reserved"));
        assertTrue(fail("cid=-1").contains("is reserved or out of range"), fail("cid=-1"));
        assertEquals("--vsock: unknown key \"port\" (expected cid)", fail("cid=3,port=5"));
        assertEquals("--vsock: is empty (expected cid=...)", fail(""));
        ConfigLoader.Raw r = ConfigLoader.fromCli("k", null, null, null, null, null, null);
        assertEquals("--vsock: given 2 times (a VM has one vsock device)", assertThrows(VmmException.class,
                () -> DeviceSpecs.vsockFromCli(r, List.of("cid=3", "cid=4"))).getMessage());
        assertEquals("vm.json: field \"vsock\": unknown key \"guest_cid\" (expected cid)", assertThrows(
                VmmException.class, () -> load(null, "{\"kernel\": \"KERNEL\", \"vsock\": {\"guest_cid\": 3}}")).getMessage());
    }

    @Test
    void theSavedConfigKeepsTheVsockDevice() throws Exception {
        VmConfig c = load("cid=42", null);
        String json = ConfigLoader.write(c, List.of(), List.of());
        assertTrue(json.contains("\"vsock\""), json);
        Path k = Files.writeString(dir.resolve("k"), "x");
        ConfigLoader.Raw r = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        ConfigLoader.readText(json, "saved", r);
        assertEquals(new VsockConfig(42), ConfigLoader.validate(r, 255).extras().vsock());
        assertEquals(k, k);
    }
}
