package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.json.Json;
import dev.jvmm.sys.pci.FakePciHost;
import dev.jvmm.sys.pci.VfioHost;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code jvmm vfio}: parsing, output, exit codes and one-line errors, on a fake sysfs tree (the logic is tested in sys). */
class VfioCommandTest {
    @TempDir
    Path tmp;
    FakePciHost host;
    Path records;

    @BeforeEach
    void fakeHost() throws Exception {
        host = new FakePciHost(tmp.resolve("sys"));
        host.driver("vfio-pci")
                .device("0000:03:00.0", "8086", "10d3", "020000", "e1000e").group(14, "0000:03:00.0")
                .device("0000:05:00.0", "1af4", "1041", "020000", "virtio-pci");
        Path proc = Files.createDirectories(tmp.resolve("proc"));
        records = tmp.resolve("run/jvmm/vfio");
        VfioCommand.host = () -> new VfioHost(host.sysfs, proc, records, false);
    }

    @AfterEach
    void realHost() {
        VfioCommand.host = VfioHost::system;
    }

    @Test
    void parsesTheSubcommands() {
        CommandLine.ParseResult pr = Jvmm.commandLine().parseArgs("vfio", "list", "--json");
        VfioCommand.ListCmd list = (VfioCommand.ListCmd) pr.subcommand().subcommand().commandSpec().userObject();
        assertTrue(list.json);
        pr = Jvmm.commandLine().parseArgs("vfio", "bind", "03:00.0");
        assertEquals("03:00.0", ((VfioCommand.Bind) pr.subcommand().subcommand().commandSpec().userObject()).bdf);
        CliRun help = CliRun.of("vfio", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("list") && help.out().contains("bind") && help.out().contains("unbind"), help.out());
        assertEquals(2, CliRun.of("vfio", "bind").code(), "BDF is required");
    }

    @Test
    void listsAsTableAndJson() throws Exception {
        CliRun t = CliRun.of("vfio", "list");
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().startsWith("BDF "), t.out());
        assertTrue(t.out().contains("0000:03:00.0  8086:10d3  020000  e1000e      14     -       not viable: 0000:03:00.0 (e1000e)\n"),
                t.out());
        CliRun j = CliRun.of("vfio", "list", "--json");
        assertEquals(0, j.code(), j.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> fs = (List<Map<String, Object>>) ((Map<String, Object>) Json.parse(j.out())).get("functions");
        assertEquals(List.of("0000:03:00.0", "0000:05:00.0"), fs.stream().map(m -> m.get("bdf")).toList());
        assertEquals("no-iommu", fs.get(1).get("viability"));
    }

    @Test
    void bindAndUnbindSayWhatTheyDid() {
        CliRun b = CliRun.of("vfio", "bind", "03:00.0");
        assertEquals(0, b.code(), b.err());
        assertEquals("0000:03:00.0: bound to vfio-pci (was e1000e); " + records.resolve("0000:03:00.0.json")
                + " remembers it for 'jvmm vfio unbind'\n", b.out());
        assertEquals("vfio-pci", host.driverOf("0000:03:00.0"));
        CliRun u = CliRun.of("vfio", "unbind", "0000:03:00.0");
        assertEquals(0, u.code(), u.err());
        assertEquals("0000:03:00.0: restored to e1000e, as recorded by 'jvmm vfio bind'\n", u.out());
        assertEquals("e1000e", host.driverOf("0000:03:00.0"));
    }

    @Test
    void badInputIsOneLineANonZeroExitAndNoChange() {
        CliRun bad = CliRun.of("vfio", "bind", "0000:03:00");
        assertEquals(2, bad.code());
        assertEquals("Error: '0000:03:00' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)\n",
                bad.err());
        CliRun missing = CliRun.of("vfio", "unbind", "0000:09:00.0");
        assertEquals(2, missing.code());
        assertEquals("Error: PCI device 0000:09:00.0 does not exist (" + host.dev("0000:09:00.0")
                + " is missing; lspci -D lists the devices)\n", missing.err());
        CliRun noGroup = CliRun.of("vfio", "bind", "0000:05:00.0");
        assertEquals(1, noGroup.code());
        assertEquals(1, noGroup.err().lines().count(), noGroup.err());
        assertTrue(noGroup.err().startsWith("Error: PCI device 0000:05:00.0 has no IOMMU group"), noGroup.err());
        assertEquals(List.of(), host.writes, "nothing written to sysfs");
        assertEquals("virtio-pci", host.driverOf("0000:05:00.0"));
        assertTrue(!Files.exists(records.resolve("0000:05:00.0.json")));
    }
}
