package dev.jvmm.sriov;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.sys.json.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fuzz target: the spec file of {@code jvmm sriov apply} as a user writes it, parsed by {@link SriovSpec#parse}
 * (JSON, then the strict schema: PFs, VF counts, per-VF MAC, VLAN, QoS, protocol, rates, link state, driver).
 * <p>Invariants: the spec parses, or fails with a {@link SriovException} of reason INVALID_ARGUMENT whose message
 * names what is wrong (a JSON error, or the JSON path of the bad value), never another exception; a parsed spec keeps
 * each VF index below its PF's numVfs and each PF once; a parsed spec written the way the state file writes it
 * ({@link SriovSpec#toJson}) parses back to the same spec.
 */
class SriovSpecFuzzTest {
    @FuzzTest(maxDuration = "5m")
    void spec(FuzzedDataProvider in) {
        String json = in.consumeRemainingAsString();
        SriovSpec spec;
        try {
            spec = SriovSpec.parse(json);
        } catch (SriovException e) {
            assertEquals(SriovException.Reason.INVALID_ARGUMENT, e.reason(), e.getMessage());
            assertTrue(e.getMessage().startsWith("spec ") || e.getMessage().startsWith("$.pfs["), e.getMessage());
            return;
        }
        List<Object> pfs = new ArrayList<>();
        for (SriovSpec.PfSpec p : spec.pfs()) {
            assertTrue(p.numVfs() >= 0 && p.numVfs() <= 4096);
            for (SriovSpec.VfSpec v : p.vfs()) {
                assertTrue(v.index() >= 0 && v.index() < p.numVfs(), "VF " + v.index() + " of " + p.numVfs());
            }
            pfs.add(SriovSpec.toJson(p));
        }
        Map<String, Object> top = new LinkedHashMap<>();
        top.put("pfs", pfs);
        String written = Json.write(top);
        assertEquals(spec, SriovSpec.parse(written), written);
    }
}
