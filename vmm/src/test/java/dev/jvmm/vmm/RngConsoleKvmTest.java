package dev.jvmm.vmm;

import static org.junit.jupiter.api.Assertions.*;

import dev.jvmm.sys.testing.KvmTest;
import dev.jvmm.sys.testing.OpenFds;
import dev.jvmm.vmm.config.ConfigLoader;
import dev.jvmm.vmm.config.ConsoleSpec;
import dev.jvmm.vmm.config.RngConfig;
import dev.jvmm.vmm.config.VirtioConsoleConfig;
import dev.jvmm.vmm.config.VirtioExtras;
import dev.jvmm.vmm.config.VmConfig;
import dev.jvmm.vmm.devices.DeviceManager;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * virtio-rng and virtio-console in a VM built on /dev/kvm (a tiny kernel, not run): plugged after the other devices
 * with their PCI ids, their ports' sockets made by the run's {@link Console}, the VM's state and config captured
 * and a second VM built from them with the devices where they were (the "devices" layout names kinds by prefix); a
 * source that cannot be opened and a socket path taken by a file fail the build naming the option, with no fd left.
 */
@KvmTest
class RngConsoleKvmTest {
    @TempDir Path tmp;

    VmConfig config(VirtioExtras extras) throws Exception {
        Path k = FakeKernel.write(tmp, "k.bzImage", FakeKernel.HELLO_POWEROFF);
        return new VmConfig(k, null, "Zcmdline", 64L << 20, 1, new ConsoleSpec(ConsoleSpec.Kind.FILE,
                tmp.resolve("serial.txt")), VmConfig.OnReboot.EXIT).withExtras(extras);
    }

    VirtioConsoleConfig console() {
        return new VirtioConsoleConfig(new ConsoleSpec(ConsoleSpec.Kind.SOCKET, tmp.resolve("hvc0.sock")),
                List.of(new VirtioConsoleConfig.Port("org.example.0", tmp.resolve("p0.sock"))));
    }

    @Test
    void theDevicesArePluggedSavedAndBuiltAgainWhereTheyWere() throws Exception {
        VmConfig cfg = config(VirtioExtras.NONE.withRng(RngConfig.DEFAULT).withConsole(console()));
        Map<Integer, String> before = OpenFds.now();
        Map<String, byte[]> sections;
        String json;
        List<String> where;
        try (Console c = Console.open(cfg.console()); Vm vm = VmBuilder.build(cfg, c)) {
            List<DeviceManager.Plugged> ps = vm.devices().devices();
            assertEquals(List.of("virtio-rng-0", "virtio-console-0"), ps.stream().map(DeviceManager.Plugged::id).toList());
            assertEquals(List.of(DeviceManager.Kind.RNG, DeviceManager.Kind.CONSOLE),
                    ps.stream().map(DeviceManager.Plugged::kind).toList());
            assertEquals(0x1af4 | 0x1044 << 16, ps.get(0).transport().configRead(0, 4), "virtio 1.0 entropy device");
            assertEquals(0x1af4 | 0x1043 << 16, ps.get(1).transport().configRead(0, 4), "virtio 1.0 console");
            assertTrue(Files.exists(tmp.resolve("hvc0.sock")) && Files.exists(tmp.resolve("p0.sock")));
            where = ps.stream().map(p -> p.id() + "@" + p.bdf()).toList();
            vm.devices().setQuiesced(true);
            sections = VmSnapshot.state(vm);
            json = VmSnapshot.config(vm, cfg);
        }
        assertFalse(Files.exists(tmp.resolve("hvc0.sock")), "the console's sockets go with it");
        assertTrue(json.contains("\"rng\"") && json.contains("\"console_ports\""), json);

        ConfigLoader.Raw raw = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        ConfigLoader.readText(json, "config.json", raw);
        VmConfig again = ConfigLoader.validate(raw, 255);
        assertEquals(cfg.extras().rng(), again.extras().rng());
        try (Console c = Console.open(again.console());
                Vm vm = VmBuilder.build(again, c, List.of(), new VmSnapshot.Restore(sections, null, "the test", false))) {
            assertEquals(where, vm.devices().devices().stream().map(p -> p.id() + "@" + p.bdf()).toList());
        }
        assertEquals(List.of(), OpenFds.leaked(before), "every fd of both VMs is closed");

        // a restore whose config lost the rng is refused, naming it
        try (Console c = Console.open(again.console())) {
            VmmException e = assertThrows(VmmException.class, () -> VmBuilder.build(again.withExtras(
                    again.extras().withRng(null)), c, List.of(), new VmSnapshot.Restore(sections, null, "the test", false)));
            assertEquals("the test: the saved VM has 1 virtio-rng device(s); the config gives 0 (--rng)", e.getMessage());
        }
        assertEquals(List.of(), OpenFds.leaked(before));
    }

    @Test
    void aSourceThatCannotBeOpenedOrASocketPathTakenFailsTheBuildNamingTheOption() throws Exception {
        Map<Integer, String> before = OpenFds.now();
        VmConfig noSource = config(VirtioExtras.NONE.withRng(new RngConfig(tmp.resolve("gone"), 0, 0)));
        try (Console c = Console.open(noSource.console())) {
            VmmException e = assertThrows(VmmException.class, () -> VmBuilder.build(noSource, c));
            assertEquals(VmmException.Reason.CONFIG, e.reason());
            assertTrue(e.getMessage().startsWith("--rng: cannot open the entropy source " + tmp.resolve("gone")
                    + ": open failed: ENOENT"), e.getMessage());
        }
        Files.writeString(tmp.resolve("p0.sock"), "a file, not a socket");
        VmConfig taken = config(VirtioExtras.NONE.withConsole(console()));
        try (Console c = Console.open(taken.console())) {
            VmmException e = assertThrows(VmmException.class, () -> VmBuilder.build(taken, c));
            assertEquals("--console-port org.example.0: " + tmp.resolve("p0.sock") + " exists and is not a socket "
                    + "(jvmm replaces only a stale socket there)", e.getMessage());
        }
        assertEquals("a file, not a socket", Files.readString(tmp.resolve("p0.sock")), "left alone");
        assertFalse(Files.exists(tmp.resolve("hvc0.sock")), "the port made before it was closed again");
        assertEquals(List.of(), OpenFds.leaked(before), "the failed builds unwound every fd");
    }
}
