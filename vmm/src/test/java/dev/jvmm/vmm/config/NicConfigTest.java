package dev.jvmm.vmm.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.sys.netlink.Macs;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.NicConfig.Mode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --nic / "nics" and --migratable / "migratable": parsing, defaults, and errors that name the NIC and the key. */
class NicConfigTest {
    @TempDir
    Path dir;
    Path kernel;

    @BeforeEach
    void kernel() throws Exception {
        kernel = Files.writeString(dir.resolve("k"), "x");
    }

    private VmConfig cli(boolean migratable, String... nics) {
        ConfigLoader.Raw r = ConfigLoader.fromCli(kernel.toString(), null, null, null, null, null, null);
        DeviceSpecs.nicsFromCli(r, List.of(nics), migratable);
        return ConfigLoader.validate(r, 8);
    }

    private String fail(boolean migratable, String... nics) {
        return assertThrows(VmmException.class, () -> cli(migratable, nics)).getMessage();
    }

    private String fail(String... nics) {
        return fail(false, nics);
    }

    @Test
    void everyKeyIsParsed() {
        VmConfig c = cli(false, "id=wan,mode=passthrough,pf=enp1s0,mac=52:54:00:AA:bb:01,vlan=100,qos=5,spoofchk=off,"
                + "trust=on,rate=1000", "mode=virtio,tap=jt0,queues=4", "id=lan,vf=01:10.2,bridge=br0",
                "pf=0000:01:00.0,macvtap=on", "enp2s0");
        assertEquals(new NicConfig("wan", Mode.PASSTHROUGH, "enp1s0", null, "52:54:00:aa:bb:01", 100, 5, false, true, 1000,
                null, false, null, null), c.nics().get(0));
        NicConfig tap = c.nics().get(1);
        assertEquals("eth1", tap.id(), "named by its position");
        assertEquals(Mode.VIRTIO, tap.mode());
        assertEquals("jt0", tap.tap());
        assertEquals(4, tap.queuePairs());
        NicConfig lan = c.nics().get(2);
        assertEquals(Mode.AUTO, lan.mode(), "the default mode");
        assertEquals("0000:01:10.2", lan.vf(), "canonical");
        assertEquals("br0", lan.bridge());
        assertEquals(1, lan.queuePairs());
        assertEquals("0000:01:00.0", c.nics().get(3).pf());
        assertTrue(c.nics().get(3).macvtap());
        assertEquals("enp2s0", c.nics().get(4).pf(), "a bare word is the pf");
        assertEquals("eth4", c.nics().get(4).id());
        assertFalse(c.migratable());
        assertTrue(cli(true, "pf=enp1s0").migratable());
    }

    @Test
    void aGeneratedMacIsLocallyAdministeredUnicastAndStablePerVmAndNic() throws Exception {
        String a = cli(false, "pf=enp1s0").nics().get(0).mac();
        byte[] b = Macs.parse(a);
        assertEquals(2, b[0] & 3, "locally administered (bit 1), unicast (bit 0 clear): " + a);
        assertEquals(a, cli(false, "pf=enp1s0").nics().get(0).mac(), "the same VM and NIC: the same MAC");
        assertEquals(a, cli(false, "id=eth0,mode=virtio").nics().get(0).mac(), "it depends on the id, not the rest");
        assertNotEquals(a, cli(false, "id=eth1").nics().get(0).mac(), "another NIC");
        Path other = Files.writeString(dir.resolve("k2"), "x");
        ConfigLoader.Raw r = ConfigLoader.fromCli(other.toString(), null, null, null, null, null, null);
        DeviceSpecs.nicsFromCli(r, List.of("pf=enp1s0"), false);
        assertNotEquals(a, ConfigLoader.validate(r, 8).nics().get(0).mac(), "another VM");
        assertEquals("52:54:00:00:00:01", cli(false, "mac=52:54:00:00:00:01").nics().get(0).mac(), "mac= wins");
        Path img = Files.write(dir.resolve("d.img"), new byte[512]);
        ConfigLoader.Raw withDisk = ConfigLoader.fromCli(kernel.toString(), null, null, null, null, null, null);
        DeviceSpecs.fromCli(withDisk, List.of(img.toString()), null);
        assertEquals("kernel " + kernel + "\ndisk " + img, ConfigLoader.identity(withDisk, kernel,
                ConfigLoader.validate(withDisk, 8).disks()));
    }

    /**
     * A saved VM's config: the virtio-nets of --nic NICs go back as NICs (virtio again, on the same kind of backend,
     * with the MAC they have), a failover standby as a failover NIC with its PF and VF settings; plain --net TAPs as
     * nets. Read back, it validates to the same NICs.
     */
    @Test
    void aSavedConfigKeepsNicsAsNicsAndFailoverPairsAsPairs() {
        VmConfig launched = cli(true, "id=wan,pf=enp1s0,failover=on,vlan=100,qos=5,spoofchk=off,trust=on,rate=1000",
                "id=lan,mode=virtio,tap=jt0,queues=2", "id=dmz,mode=virtio,bridge=br0", "id=mv,mode=virtio,pf=enp2s0");
        byte[] m1 = {0x52, 0x54, 0, 0, 0x15, 1};
        byte[] m2 = {0x52, 0x54, 0, 0, 0x15, 2};
        byte[] m3 = {0x52, 0x54, 0, 0, 0x15, 3};
        byte[] m4 = {0x52, 0x54, 0, 0, 0x15, 4};
        byte[] m5 = {0x52, 0x54, 0, 0, 0x15, 5};
        List<NetConfig> nets = List.of(new NetConfig("plain0", m5, 1),
                new NetConfig(null, m1, 1, null, "enp1s0", "--nic wan", new NetConfig.Standby("wan", null)),
                new NetConfig("jt0", m2, 2, null, null, "--nic lan"),
                new NetConfig(null, m3, 1, "br0", null, "--nic dmz"),
                new NetConfig(null, m4, 1, null, "enp2s0", "--nic mv"));
        String json = ConfigLoader.write(launched, List.of(), nets);
        ConfigLoader.Raw r = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        ConfigLoader.readText(json, "saved", r);
        VmConfig back = ConfigLoader.validate(r, 8);
        assertTrue(back.migratable(), json);
        assertEquals(1, back.nets().size(), json);
        assertEquals("plain0", back.nets().get(0).tap());
        assertEquals(List.of(
                new NicConfig("wan", Mode.AUTO, "enp1s0", null, "52:54:00:00:15:01", 100, 5, false, true, 1000, null,
                        false, null, 1, true),
                new NicConfig("lan", Mode.VIRTIO, null, null, "52:54:00:00:15:02", null, null, null, null, null, "jt0",
                        false, null, 2, false),
                new NicConfig("dmz", Mode.VIRTIO, null, null, "52:54:00:00:15:03", null, null, null, null, null, null,
                        false, "br0", 1, false),
                new NicConfig("mv", Mode.VIRTIO, "enp2s0", null, "52:54:00:00:15:04", null, null, null, null, null, null,
                        false, null, 1, false)), back.nics(), json);
        // a --net NIC on a macvtap has no place in the form
        VmmException e = assertThrows(VmmException.class, () -> ConfigLoader.write(launched, List.of(),
                List.of(new NetConfig(null, m1, 1, null, "enp1s0", null))));
        assertTrue(e.getMessage().contains("cannot be saved"), e.getMessage());
    }

    @Test
    void errorsNameTheNicAndTheKey() {
        assertEquals("--nic eth1: vlan: must be between 0 and 4095, got 5000", fail("id=eth1,pf=enp1s0,vlan=5000"));
        assertEquals("--nic eth1: mac: 01:00:5e:00:00:01 is a multicast address (the first byte must be even)",
                fail("id=eth1,mac=01:00:5e:00:00:01"));
        assertEquals("--nic eth1: mac: \"52:54\" is not a MAC address (use e.g. 52:54:00:12:34:56)",
                fail("id=eth1,mac=52:54"));
        assertEquals("--nic eth1: pf= and vf= are both given (a VF's PF is known from the VF: give one)",
                fail("id=eth1,pf=enp1s0,vf=0000:01:10.0"));
        assertEquals("--nic eth1: mode=passthrough needs pf= or vf=", fail("id=eth1,mode=passthrough"));
        assertEquals("--nic eth1: tap=, macvtap=on and bridge= are alternatives; give one",
                fail("id=eth1,tap=t0,bridge=br0"));
        assertEquals("--nic eth1: tap=, macvtap=on and bridge= are alternatives; give one",
                fail("id=eth1,pf=enp1s0,macvtap=on,bridge=br0"));
        assertEquals("--nic eth1: mode=passthrough on a --migratable VM: a passed-through VF cannot be migrated "
                + "(use mode=auto or virtio)", fail(true, "id=eth1,mode=passthrough,pf=enp1s0"));
        assertEquals("--nic eth1: qos: the 802.1p priority of a VLAN tag needs vlan=", fail("id=eth1,pf=enp1s0,qos=3"));
        assertEquals("--nic eth1: qos: must be between 0 and 7, got 8", fail("id=eth1,pf=enp1s0,vlan=1,qos=8"));
        assertEquals("--nic eth1: queues: must be between 1 and 16, got 17", fail("id=eth1,queues=17"));
        assertEquals("--nic eth1: queues: must be between 1 and 16, got 0", fail("id=eth1,queues=0"));
        assertEquals("--nic eth1: rate: must be between 0 and 1000000, got 2000000", fail("id=eth1,pf=p0,rate=2000000"));
        assertEquals("--nic eth1: unknown key \"vlna\" (expected id, mode, pf, vf, mac, vlan, qos, spoofchk, trust, rate,"
                + " tap, macvtap, bridge, queues, failover)", fail("id=eth1,vlna=3"));
        assertEquals("--nic eth1: key \"vlan\" given twice", fail("id=eth1,vlan=3,vlan=4"));
        assertEquals("--nic eth1: mode: \"fast\" is not a mode (expected passthrough, virtio or auto)",
                fail("id=eth1,mode=fast"));
        assertEquals("--nic eth1: spoofchk: \"maybe\" is not on/off", fail("id=eth1,pf=p0,spoofchk=maybe"));
        assertEquals("--nic eth1: vf: 'x' is not a PCI address (expected DDDD:BB:DD.F, for example 0000:01:00.0)",
                fail("id=eth1,vf=x"));
        assertEquals("--nic eth1: pf: \"a/b\" is not an interface name (1 to 15 characters, no '/' or spaces)",
                fail("id=eth1,pf=a/b"));
        assertEquals("--nic eth1: bridge: \"a b\" is not an interface name (1 to 15 characters, no '/' or spaces)",
                fail("id=eth1,bridge=a b"));
        assertEquals("--nic e f: id: \"e f\" must be 1 to 15 letters, digits, '_', '.' or '-'", fail("id=e f"));
    }

    @Test
    void modeSpecificKeysAreRefusedWhereTheyCannotApply() {
        assertEquals("--nic eth1: queues: mode=passthrough gives the guest a VF; tap=, macvtap=, bridge= and queues= are"
                + " for virtio-net (mode=auto falls back to it)", fail("id=eth1,mode=passthrough,pf=p0,queues=2"));
        assertEquals("--nic eth1: tap: mode=passthrough gives the guest a VF; tap=, macvtap=, bridge= and queues= are for"
                + " virtio-net (mode=auto falls back to it)", fail("id=eth1,mode=passthrough,pf=p0,tap=t0"));
        assertEquals("--nic eth1: vf: mode=virtio takes no VF (pf= puts virtio-net on a macvtap over the PF)",
                fail("id=eth1,mode=virtio,vf=01:10.0"));
        assertEquals("--nic eth1: trust: a VF setting, and mode=virtio has no VF", fail("id=eth1,mode=virtio,trust=on"));
        assertEquals("--nic eth1: macvtap: macvtap=on needs pf= (the interface the macvtap sits on)",
                fail("id=eth1,macvtap=on"));
        assertEquals("--nic eth1: vlan: jvmm does not manage the network behind tap=t0 (set it up there, or use "
                + "macvtap=on or bridge=)", fail("id=eth1,pf=p0,tap=t0,vlan=10"));
        assertNull(cli(false, "pf=p0,macvtap=off,tap=t0").nics().get(0).bridge(), "macvtap=off is no alternative");
    }

    @Test
    void aNicWithoutIdIsNamedByItsPosition() {
        assertEquals("--nic #2: vlan: must be between 0 and 4095, got -1", fail("pf=p0", "pf=p1,vlan=-1"));
        assertEquals("--nic #1: unknown key \"colour\" (expected id, mode, pf, vf, mac, vlan, qos, spoofchk, trust, rate,"
                + " tap, macvtap, bridge, queues, failover)", fail("colour=red"));
        assertEquals(List.of("eth0", "wan", "eth2"), cli(false, "pf=p0", "id=wan,pf=p1", "pf=p2").nics().stream()
                .map(NicConfig::id).toList());
    }

    @Test
    void idsAndVfsAreUnique() {
        assertEquals("--nic wan: id: wan is given to two NICs", fail("id=wan,pf=p0", "id=wan,pf=p1"));
        assertEquals("--nic eth0: id: eth0 is also the id of --nic #1, which has no id= and is named by its position; "
                + "give one of them another id=", fail("pf=p0", "id=eth0,pf=p1"));
        assertEquals("--nic #2: id: this NIC has no id= and is named eth1 by its position, but --nic eth1 has that id; "
                + "give one of them another id=", fail("id=eth1,pf=p0", "pf=p1"));
        assertEquals("--nic b: vf: 0000:01:10.0 is given to two NICs (--nic a too)", fail("id=a,vf=01:10.0",
                "id=b,vf=0000:01:10.0"));
    }

    @Test
    void theConfigFileHasNicsAndMigratableAndTheCliWins() throws Exception {
        Path json = Files.writeString(dir.resolve("vm.json"), "{\"kernel\": \"" + kernel + "\", \"migratable\": true, "
                + "\"nics\": [{\"id\": \"wan\", \"pf\": \"enp1s0\", \"vlan\": 10, \"spoofchk\": false}, "
                + "\"mode=virtio,tap=jt0\"]}");
        ConfigLoader.Raw r = new ConfigLoader.Raw();
        ConfigLoader.readFile(json, r);
        VmConfig c = ConfigLoader.validate(r, 8);
        assertTrue(c.migratable());
        assertEquals(2, c.nics().size());
        assertEquals(10, c.nics().get(0).vlan());
        assertEquals(false, c.nics().get(0).spoofchk());
        assertEquals("eth1", c.nics().get(1).id());
        assertEquals("jt0", c.nics().get(1).tap());
        String fileMac = c.nics().get(0).mac();

        ConfigLoader.Raw cli = ConfigLoader.fromCli(null, null, null, null, null, null, null);
        DeviceSpecs.nicsFromCli(cli, List.of("id=wan,mode=virtio"), false);
        ConfigLoader.readFile(json, cli);
        VmConfig c2 = ConfigLoader.validate(cli, 8);
        assertEquals(1, c2.nics().size(), "--nic replaces the file's nics");
        assertEquals(Mode.VIRTIO, c2.nics().get(0).mode());
        assertEquals(fileMac, c2.nics().get(0).mac(), "a VM with a config file is identified by it");
        assertTrue(c2.migratable(), "without --migratable the file decides");
    }

    @Test
    void configFileErrorsNameTheElementItsIdAndTheKey() throws Exception {
        String[][] cases = {
            {"\"nics\": [{\"pf\": \"p0\"}, {\"id\": \"eth1\", \"vlan\": 5000}]",
                "vm.json: field \"nics\"[1] (eth1): vlan: must be between 0 and 4095, got 5000"},
            {"\"nics\": [\"id=wan,mac=01:00:5e:00:00:01\"]",
                "vm.json: field \"nics\"[0] (wan): mac: 01:00:5e:00:00:01 is a multicast address (the first byte must be even)"},
            {"\"nics\": [{\"pf\": \"p0\", \"speed\": 10}]", "vm.json: field \"nics\"[0]: unknown key \"speed\" (expected id, "
                + "mode, pf, vf, mac, vlan, qos, spoofchk, trust, rate, tap, macvtap, bridge, queues, failover)"},
            {"\"nics\": {\"pf\": \"p0\"}", "vm.json: field \"nics\": must be an array [...]"},
            {"\"migratable\": \"yes\"", "vm.json: field \"migratable\": must be true or false, got string"},
            {"\"migratable\": true, \"nics\": [{\"mode\": \"passthrough\", \"pf\": \"p0\"}]",
                "vm.json: field \"nics\"[0]: mode=passthrough on a --migratable VM: a passed-through VF cannot be "
                    + "migrated (use mode=auto or virtio)"},
        };
        for (String[] c : cases) {
            assertEquals(c[1], DeviceSpecsTest.fileError(dir.resolve("vm.json"), "{\"kernel\": \"" + kernel + "\", "
                    + c[0] + "}"));
        }
    }
}
