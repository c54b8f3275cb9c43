package dev.jvmm.vmm.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The launch fast path parses exactly what picocli would, and hands everything else to picocli. */
class LaunchCommandTest {
    private static final String[] ARGS = {"--kernel", "/k", "--initrd=/i", "--cmdline", "console=ttyS0 quiet",
        "-m", "1G", "--cpus=2", "--console", "file=/tmp/c", "--on-reboot", "restart", "--config", "vm.json", "--api-socket=/run/jvmm/vm1.sock", "--debug", "--migratable", "--dry-run", "--json"};

    @Test
    void quickParseMatchesPicocli() {
        LaunchCommand q = LaunchCommand.quickParse(ARGS);
        assertNotNull(q);
        LaunchCommand p = new LaunchCommand();
        new CommandLine(p).parseArgs(ARGS);
        for (LaunchCommand c : new LaunchCommand[] {q, p}) {
            assertEquals("/k", c.kernel);
            assertEquals("/i", c.initrd);
            assertEquals("console=ttyS0 quiet", c.cmdline);
            assertEquals("1G", c.memory);
            assertEquals("2", c.cpus);
            assertEquals("file=/tmp/c", c.console);
            assertEquals("restart", c.onReboot);
            assertEquals(Path.of("vm.json"), c.config);
            assertEquals("/run/jvmm/vm1.sock", c.apiSocket);
            assertTrue(c.debug);
            assertTrue(c.migratable);
            assertTrue(c.dryRun);
            assertTrue(c.json);
        }
    }

    @Test
    void aStatsFileInAMissingDirectoryIsAConfigErrorBeforeAnythingRuns() {
        LaunchCommand c = LaunchCommand.quickParse(new String[] {"--kernel", "/nonexistent/vmlinuz", "--stats",
            "/nonexistent-jvmm-dir/stats.json"});
        assertNotNull(c);
        ExitCodeException e = org.junit.jupiter.api.Assertions.assertThrows(ExitCodeException.class, c::call);
        org.junit.jupiter.api.Assertions.assertEquals(LaunchCommand.EXIT_CONFIG, e.exitCode());
        org.junit.jupiter.api.Assertions.assertEquals(
                "--stats /nonexistent-jvmm-dir/stats.json: the directory /nonexistent-jvmm-dir does not exist", e.getMessage());
    }

    @Test
    void anythingElseGoesToPicocli() {
        assertNull(LaunchCommand.quickParse(new String[] {"--help"}));
        assertNull(LaunchCommand.quickParse(new String[] {"-V"}));
        assertNull(LaunchCommand.quickParse(new String[] {"--kernel"}), "missing value");
        assertNull(LaunchCommand.quickParse(new String[] {"--bogus", "x"}), "unknown option");
        assertNull(LaunchCommand.quickParse(new String[] {"--kernel", "a", "--kernel", "b"}), "repeated option");
        assertNull(LaunchCommand.quickParse(new String[] {"--debug=true"}));
        assertNull(LaunchCommand.quickParse(new String[] {"--dry-run=true"}));
        assertNull(LaunchCommand.quickParse(new String[] {"--json", "--json"}), "repeated flag");
        assertNull(LaunchCommand.quickParse(new String[] {"--nic", "pf=enp1s0"}), "repeatable: picocli");
        assertNull(LaunchCommand.quickParse(new String[] {"stray"}));
        assertNotNull(LaunchCommand.quickParse(new String[0]));
    }

    /** The fast path's option table names exactly the single-valued options (and --debug) that picocli has. */
    @Test
    void quickTableMatchesTheAnnotations() {
        java.util.Set<String> fromAnnotations = new java.util.TreeSet<>();
        for (java.lang.reflect.Field f : LaunchCommand.class.getDeclaredFields()) {
            CommandLine.Option o = f.getAnnotation(CommandLine.Option.class);
            if (o != null && !o.usageHelp() && !o.versionHelp() && f.getType() != java.util.List.class) {
                fromAnnotations.add(String.join(",", o.names()));
            }
        }
        java.util.Set<String> table = new java.util.TreeSet<>();
        for (String[] names : LaunchCommand.QUICK_OPTIONS) {
            table.add(String.join(",", names));
        }
        assertEquals(fromAnnotations, table);
        assertEquals("--debug", LaunchCommand.QUICK_OPTIONS[LaunchCommand.QUICK_DEBUG][0]);
        assertNull(LaunchCommand.quickParse(new String[] {"--disk", "path=/d"}), "repeatable: picocli");
    }
}
