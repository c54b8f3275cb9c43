package dev.jvmm.lab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jvmm.lab.junit.LabTest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The command channel itself: exit codes, streaming, timeouts, writable places, Java from the test class path. */
@LabTest
class LabSessionLabTest {

    @Test
    void exitCodesAndStreamedLines(LabSession lab) {
        List<String> seen = new ArrayList<>();
        CommandResult r = lab.run("echo one; echo two >&2; printf 'no-newline'; exit 7", Duration.ofSeconds(60),
                seen::add);
        assertEquals(7, r.exitCode());
        assertEquals(List.of("one", "two", "no-newline"), seen);
        assertFalse(r.timedOut());
    }

    @Test
    void timedOutCommandIsKilledAndTheSessionGoesOn(LabSession lab) {
        CommandResult r = lab.run("echo started; sleep 600 & sleep 600; echo never", Duration.ofSeconds(3));
        assertTrue(r.timedOut());
        assertEquals(137, r.exitCode());
        assertTrue(r.output().contains("started") && !r.output().contains("never"), r.output());
        lab.run("true", Duration.ofSeconds(60)).assertOk();
        // the whole process group went, including the background sleep
        CommandResult ps = lab.run("ps -eo args | grep -c '^sleep 600' || true", Duration.ofSeconds(60));
        assertEquals("0", ps.output().strip());
    }

    @Test
    void scratchDiskTakesODirectAndTmpIsWritable(LabSession lab) {
        lab.run("dd if=/dev/zero of=$JVMM_LAB_SCRATCH/direct.img bs=1M count=4 oflag=direct status=none"
                + " && rm $JVMM_LAB_SCRATCH/direct.img && f=$(mktemp) && echo x > $f && cat $f", Duration.ofSeconds(60)).assertOk();
        assertEquals(lab.scratchDir().toString(),
                lab.run("echo $JVMM_LAB_SCRATCH", Duration.ofSeconds(30)).assertOk().output().strip());
    }

    @Test
    void javaMainFromTheTestClassPathRunsInL1(LabSession lab) {
        CommandResult r = lab.runJava(L1JavaProbe.class.getName(), List.of("hello"), Duration.ofMinutes(2)).assertOk();
        assertTrue(r.output().contains("L1-JAVA-PROBE hello kvm=true kernel=" + lab.kit().release()), r.output());
    }
}
