package dev.jvmm.probe;

import dev.jvmm.sys.json.Json;
import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Unit tier: JSON schema, table rendering, size and use-case parsing. */
@Tag("unit")
class OutputTest {
    @TempDir
    Path tmp;

    @Test
    @SuppressWarnings("unchecked")
    void jsonFollowsTheDocumentedSchema() throws Exception {
        ProbeReport r = FakeHost.labLike(tmp).probe(FakeHost.kvm(2e9));
        Map<String, Object> j = (Map<String, Object>) Json.parse(ReportJson.write(r));
        assertEquals("jvmm-probe/1", j.get("schema"));
        assertEquals(List.of("schema", "host", "options", "verdicts", "checks", "kvmSpeed", "iommuGroups", "sriov",
                "postedInterrupts"),
                List.copyOf(j.keySet()));
        Map<String, Object> verdicts = (Map<String, Object>) j.get("verdicts");
        assertEquals(List.of("virtio", "passthrough", "sriov"), List.copyOf(verdicts.keySet()));
        Map<String, Object> pt = (Map<String, Object>) verdicts.get("passthrough");
        assertEquals(true, pt.get("ready"));
        List<Object> checks = (List<Object>) j.get("checks");
        assertEquals(r.checks().size(), checks.size());
        Map<String, Object> first = (Map<String, Object>) checks.get(0);
        assertEquals(List.of("id", "category", "status", "title", "evidence", "remedy"), List.copyOf(first.keySet()));
        List<Object> sriov = (List<Object>) j.get("sriov");
        Map<String, Object> igb = (Map<String, Object>) sriov.get(0);
        assertEquals("8086", igb.get("vendor"));
        assertEquals("10c9", igb.get("device"));
        assertEquals(7L, igb.get("totalVfs"));
        assertEquals(List.of("eth0"), igb.get("netdevs"));
        List<Object> groups = (List<Object>) j.get("iommuGroups");
        assertEquals(5, groups.size());
        Map<String, Object> speed = (Map<String, Object>) j.get("kvmSpeed");
        assertEquals(true, speed.get("hardwareSpeed"));
    }

    @Test
    void jsonEscapes() {
        assertEquals("{\n  \"a\\\"b\": \"x\\ny\\u0001\\\\\"\n}\n", Json.write(Map.of("a\"b", "x\ny\u0001\\")));
        assertEquals("[]\n", Json.write(List.of()));
    }

    @Test
    void tableHasColourOnlyWhenAsked() {
        FakeHost f = FakeHost.labLike(tmp);
        f.remove("dev/vhost-net");
        ProbeReport r = f.probe(FakeHost.kvm(2e9));
        String plain = ReportTable.render(r, false, false);
        assertFalse(plain.contains("\u001b["));
        assertTrue(plain.contains("WARN devices.vhost-net"), plain);
        assertTrue(plain.contains("remedy: modprobe vhost_net"));
        assertTrue(plain.contains("  passthrough  READY"));
        assertTrue(plain.contains("warning    devices.vhost-net"));
        String colour = ReportTable.render(r, true, false);
        assertTrue(colour.contains("\u001b[33mWARN"));
        // PASS evidence only with verbose
        assertFalse(plain.contains("KVM_GET_API_VERSION: 12"));
        assertTrue(ReportTable.render(r, false, true).contains("KVM_GET_API_VERSION: 12"));
    }

    @Test
    void useCases() {
        assertEquals(UseCase.PASSTHROUGH, UseCase.parse("Passthrough"));
        ProbeException e = assertThrows(ProbeException.class, () -> UseCase.parse("gpu"));
        assertEquals("unknown use case 'gpu'; expected one of virtio, passthrough, sriov", e.getMessage());
    }
}
