package dev.jvmm.vmm.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;

/** The CLI's logger: slf4j-simple's level properties and line format, without slf4j-simple. */
class StderrLoggerTest {
    private static final String DEFAULT = "org.slf4j.simpleLogger.defaultLogLevel";
    private static final String BLK = "org.slf4j.simpleLogger.log.dev.jvmm.virtio.blk";

    @AfterEach
    void clear() {
        System.clearProperty(DEFAULT);
        System.clearProperty(BLK);
    }

    @Test
    void levelsComeFromTheLongestMatchingPropertyThenTheDefault() {
        Logger plain = new StderrLogger("dev.jvmm.vmm.Vm");
        assertTrue(plain.isInfoEnabled());
        assertFalse(plain.isDebugEnabled());

        System.setProperty(BLK, "debug");
        System.setProperty(DEFAULT, "warn");
        Logger blk = new StderrLogger("dev.jvmm.virtio.blk.VirtioBlk");
        Logger net = new StderrLogger("dev.jvmm.virtio.net.VirtioNet");
        assertTrue(blk.isDebugEnabled());
        assertFalse(blk.isTraceEnabled());
        assertFalse(net.isInfoEnabled());
        assertTrue(net.isWarnEnabled());

        System.setProperty(DEFAULT, "off");
        assertFalse(new StderrLogger("x").isErrorEnabled());
        System.setProperty(DEFAULT, "bogus");
        assertTrue(new StderrLogger("x").isInfoEnabled(), "an unknown level falls back to info");
    }

    @Test
    void linesHaveSlf4jSimplesFormatAndCauses() {
        PrintStream saved = System.err;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setErr(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            Logger log = new StderrLogger("dev.jvmm.vmm.VmRunner");
            log.info("{}; restarting the VM (boot {})", "guest requested a reset", 2);
            log.debug("not shown");
            log.warn("failed", new IllegalStateException("boom"));
        } finally {
            System.setErr(saved);
        }
        String out = buf.toString(StandardCharsets.UTF_8);
        String thread = Thread.currentThread().getName();
        assertTrue(out.startsWith("[" + thread + "] INFO dev.jvmm.vmm.VmRunner - guest requested a reset;"
                + " restarting the VM (boot 2)\n"), out);
        assertFalse(out.contains("not shown"), out);
        assertTrue(out.contains("[" + thread + "] WARN dev.jvmm.vmm.VmRunner - failed\n"
                + "java.lang.IllegalStateException: boom"), out);
    }

    @Test
    void installNamesTheProviderOnlyWhenNoneIsSet() {
        String before = System.getProperty("slf4j.provider");
        try {
            System.setProperty("slf4j.provider", "some.Other");
            StderrLoggerProvider.install();
            assertEquals("some.Other", System.getProperty("slf4j.provider"));
            System.clearProperty("slf4j.provider");
            StderrLoggerProvider.install();
            assertEquals(StderrLoggerProvider.class.getName(), System.getProperty("slf4j.provider"));
            assertTrue(new StderrLoggerProvider().getLoggerFactory().getLogger("a.B") instanceof StderrLogger);
        } finally {
            if (before == null) {
                System.clearProperty("slf4j.provider");
            } else {
                System.setProperty("slf4j.provider", before);
            }
        }
    }
}
