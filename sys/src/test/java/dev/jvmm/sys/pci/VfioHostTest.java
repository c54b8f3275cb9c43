package dev.jvmm.sys.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.json.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code jvmm vfio list|bind|unbind} underneath: a fake /sys, a fake /proc and a record directory. */
class VfioHostTest {
    private static final PciAddress NIC = PciAddress.parse("0000:03:00.0");
    private static final PciAddress VF = PciAddress.parse("0000:01:10.0");
    @TempDir
    Path tmp;
    FakePciHost host;
    Path proc;
    Path records;
    VfioHost vfio;

    @BeforeEach
    void tree() throws Exception {
        host = new FakePciHost(tmp.resolve("sys"));
        host.driver("vfio-pci")
                .device("0000:00:00.0", "8086", "29c0", "060000", null).group(0, "0000:00:00.0")
                .device("0000:01:10.0", "8086", "10ca", "020000", "vfio-pci").group(20, "0000:01:10.0")
                .device("0000:03:00.0", "8086", "10d3", "020000", "e1000e")
                .device("0000:03:00.1", "8086", "10d3", "020000", null).group(14, "0000:03:00.0", "0000:03:00.1")
                .netdev("0000:03:00.0", "eth1", "up")
                .device("0000:05:00.0", "1af4", "1041", "020000", "virtio-pci");
        proc = tmp.resolve("proc");
        process(1, "init", "/dev/null", "socket:[123]");
        process(4242, "java", "/dev/vfio/vfio", "/dev/vfio/20", "/dev/kvm");
        Files.createDirectories(proc.resolve("self"));
        records = tmp.resolve("run/jvmm/vfio");
        vfio = new VfioHost(host.sysfs, proc, records, false);
    }

    /** The fake fds point at /dev/vfio/N, outside the temporary directory: removed here, not by JUnit (it warns). */
    @AfterEach
    void removeFds() throws Exception {
        try (var s = Files.walk(proc)) {
            for (Path p : s.filter(Files::isSymbolicLink).toList()) {
                Files.delete(p);
            }
        }
    }

    private void process(int pid, String comm, String... fds) throws Exception {
        Path p = Files.createDirectories(proc.resolve(Integer.toString(pid)).resolve("fd"));
        Files.writeString(p.getParent().resolve("comm"), comm + "\n");
        for (int i = 0; i < fds.length; i++) {
            Files.createSymbolicLink(p.resolve(Integer.toString(i + 3)), Path.of(fds[i]));
        }
    }

    private VfioHost.Entry entry(VfioHost.Listing l, String bdf) {
        return l.entries().stream().filter(e -> e.function().address().toString().equals(bdf)).findFirst().orElseThrow();
    }

    @Test
    void listsGroupDriverViabilityAndWhoUsesIt() throws Exception {
        VfioHost.Listing l = vfio.list();
        assertEquals(5, l.entries().size());
        VfioHost.Entry vf = entry(l, "0000:01:10.0");
        assertEquals("vfio-pci", vf.function().driver());
        assertTrue(vf.viability().viable());
        assertEquals(List.of(new VfioUsers.User(4242, "java")), vf.users());
        VfioHost.Entry nic = entry(l, "0000:03:00.0");
        assertEquals(14, nic.function().iommuGroup());
        assertEquals(List.of("0000:03:00.0 (e1000e)"), nic.viability().notBoundToVfio());
        assertEquals(List.of("eth1"), nic.upNetdevs());
        assertEquals(List.of(), nic.users());
        assertNull(entry(l, "0000:05:00.0").viability(), "no IOMMU group");
        assertEquals(0, l.unreadableProcesses());

        assertEquals("""
                BDF           ID         CLASS   DRIVER      GROUP  IN USE           GROUP VIABILITY
                0000:00:00.0  8086:29c0  060000  -           0      -                viable
                0000:01:10.0  8086:10ca  020000  vfio-pci    20     pid 4242 (java)  viable
                0000:03:00.0  8086:10d3  020000  e1000e      14     host: eth1 up    not viable: 0000:03:00.0 (e1000e)
                0000:03:00.1  8086:10d3  020000  -           14     -                not viable: 0000:03:00.0 (e1000e)
                0000:05:00.0  1af4:1041  020000  virtio-pci  -      -                no IOMMU
                """, VfioReport.text(l));

        @SuppressWarnings("unchecked")
        Map<String, Object> json = (Map<String, Object>) Json.parse(VfioReport.json(l));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> fs = (List<Map<String, Object>>) json.get("functions");
        Map<String, Object> n = fs.stream().filter(m -> m.get("bdf").equals("0000:03:00.0")).findFirst().orElseThrow();
        assertEquals("e1000e", n.get("driver"));
        assertEquals(14L, n.get("iommuGroup"));
        assertEquals("not-viable", n.get("viability"));
        assertEquals(List.of("0000:03:00.0 (e1000e)"), n.get("inTheWay"));
        assertEquals(List.of("0000:03:00.0", "0000:03:00.1"), n.get("groupDevices"));
        assertEquals(List.of("eth1"), n.get("netdevsUp"));
        Map<String, Object> v = fs.stream().filter(m -> m.get("bdf").equals("0000:01:10.0")).findFirst().orElseThrow();
        assertEquals(List.of(Map.of("pid", 4242L, "comm", "java")), v.get("users"));
        assertEquals("no-iommu", fs.stream().filter(m -> m.get("bdf").equals("0000:05:00.0")).findFirst().orElseThrow()
                .get("viability"));
    }

    @Test
    void bindRemembersThePreviousDriverAndUnbindInAnotherProcessPutsItBack() throws Exception {
        VfioHost.Bound b = vfio.bind(NIC);
        assertTrue(b.changed());
        assertEquals(new DriverBinder.Binding("e1000e", null), b.before());
        assertEquals("vfio-pci", host.driverOf("0000:03:00.0"));
        assertEquals(records.resolve("0000:03:00.0.json"), b.record());
        assertTrue(b.viability().viable(), "03:00.1 has no driver, so the group is viable now");
        assertEquals("0000:03:00.0: bound to vfio-pci (was e1000e); " + b.record() + " remembers it for 'jvmm vfio unbind'\n",
                VfioReport.text(b));
        VfioHost.Entry listed = entry(vfio.list(), "0000:03:00.0");
        assertEquals(new DriverBinder.Binding("e1000e", null), listed.recorded());
        String table = VfioReport.text(vfio.list());
        assertTrue(table.contains("\n0000:03:00.0  8086:10d3  020000  vfio-pci (was e1000e)  14     -                viable\n"),
                table);
        assertTrue(table.endsWith("-                viable\n0000:05:00.0  1af4:1041  020000  virtio-pci             -      -"
                + "                no IOMMU\n"), table);

        host.writes.clear();
        VfioHost.Bound again = vfio.bind(NIC);
        assertFalse(again.changed());
        assertEquals(List.of(), host.writes);
        assertEquals("0000:03:00.0: already bound to vfio-pci (bound by jvmm, was e1000e); unchanged\n", VfioReport.text(again));

        VfioHost other = new VfioHost(host.sysfs, proc, records, false); // a later, separate jvmm process
        VfioHost.Unbound u = other.unbind(NIC);
        assertTrue(u.changed());
        assertEquals("e1000e", u.driver());
        assertEquals("e1000e", host.driverOf("0000:03:00.0"));
        assertEquals("(null)", host.overrideOf("0000:03:00.0"));
        assertFalse(Files.exists(b.record()), "record removed");
        assertEquals("0000:03:00.0: restored to e1000e, as recorded by 'jvmm vfio bind'\n", VfioReport.text(u));
        VfioHost.Unbound nothing = other.unbind(NIC);
        assertFalse(nothing.changed());
        assertEquals("0000:03:00.0: not bound to vfio-pci and no record of a bind; unchanged (e1000e)\n",
                VfioReport.text(nothing));
    }

    @Test
    void unbindWithoutARecordReprobesWithAnEmptyOverride() {
        host.attr("0000:01:10.0", "driver_override", "vfio-pci");
        VfioHost v = new VfioHost(host.sysfs, proc.resolve("self"), records, false); // nobody holds /dev/vfio/20 here
        VfioHost.Unbound u = v.unbind(VF);
        assertNull(u.recorded());
        assertEquals("vfio-pci", u.driver(), "the fake's host driver of this VF is vfio-pci itself");
        assertEquals("(null)", host.overrideOf("0000:01:10.0"));
        assertTrue(VfioReport.text(u).startsWith("0000:01:10.0: unbound from vfio-pci, driver_override cleared; "),
                VfioReport.text(u));
    }

    @Test
    void aDeviceHeldOpenIsNotUnbound() {
        host.writes.clear();
        PciException e = assertThrows(PciException.class, () -> vfio.unbind(VF));
        assertEquals(PciException.Reason.IN_USE, e.reason());
        assertEquals("0000:01:10.0 is in use: /dev/vfio/20 is held open by pid 4242 (java); stop it first (unbinding"
                + " now would wait in the kernel until the device is closed)", e.getMessage());
        assertEquals(List.of(), host.writes);
    }

    @Test
    void badInputChangesNothing() throws Exception {
        PciException missing = assertThrows(PciException.class, () -> vfio.bind(PciAddress.parse("0000:09:00.0")));
        assertEquals(PciException.Reason.DEVICE_NOT_FOUND, missing.reason());
        PciException noGroup = assertThrows(PciException.class, () -> vfio.bind(PciAddress.parse("0000:05:00.0")));
        assertEquals(PciException.Reason.NO_IOMMU_GROUP, noGroup.reason());
        assertEquals(PciException.Reason.DEVICE_NOT_FOUND,
                assertThrows(PciException.class, () -> vfio.unbind(PciAddress.parse("0000:09:00.0"))).reason());
        // the record cannot be written: refused before the device is touched
        Files.createDirectories(records.getParent());
        Files.writeString(records, "a file where the directory should be");
        PciException rec = assertThrows(PciException.class, () -> vfio.bind(NIC));
        assertEquals(PciException.Reason.SYSFS, rec.reason());
        assertTrue(rec.getMessage().startsWith("cannot write the bind record " + records.resolve("0000:03:00.0.json")
                + " (nothing was changed): "), rec.getMessage());
        assertEquals(List.of(), host.writes);
        assertEquals("e1000e", host.driverOf("0000:03:00.0"));
    }

    @Test
    void aFailedBindLeavesNoRecord() {
        host.failWrite.put("drivers_probe <- 0000:03:00.0", dev.jvmm.sys.Errno.ENODEV);
        assertThrows(PciException.class, () -> vfio.bind(NIC));
        assertFalse(Files.exists(vfio.recordFile(NIC)));
    }

    @Test
    void aMalformedRecordIsReported() throws Exception {
        Files.createDirectories(records);
        Files.writeString(vfio.recordFile(NIC), "{\"bdf\": \"0000:03:00.1\", \"driver\": null}");
        PciException e = assertThrows(PciException.class, () -> vfio.unbind(NIC));
        assertEquals("bind record " + vfio.recordFile(NIC) + " does not describe 0000:03:00.0; delete it and give the"
                + " device back by hand", e.getMessage());
        Files.writeString(vfio.recordFile(NIC), "{");
        assertTrue(assertThrows(PciException.class, () -> vfio.unbind(NIC)).getMessage()
                .startsWith("cannot read the bind record "));
        assertNull(entry(vfio.list(), "0000:03:00.0").recorded(), "list shows no record rather than failing");
    }

    @Test
    void processesThatCannotBeReadAreCounted() throws Exception {
        Path fd = proc.resolve("4243/fd");
        Files.createDirectories(fd);
        fd.toFile().setReadable(false);
        try {
            VfioUsers u = VfioUsers.scan(proc);
            boolean root = "root".equals(System.getProperty("user.name"));
            assertEquals(root ? 0 : 1, u.unreadable());
            assertTrue(VfioReport.text(vfio.list()).contains(root ? "" : "note: the open files of 1 processes could not be read"));
        } finally {
            fd.toFile().setReadable(true);
        }
    }
}
