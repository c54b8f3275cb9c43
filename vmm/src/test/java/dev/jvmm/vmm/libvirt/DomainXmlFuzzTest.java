package dev.jvmm.vmm.libvirt;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.config.BalloonConfig;
import dev.jvmm.vmm.config.DeviceSpecs;
import dev.jvmm.vmm.config.DiskConfig;
import dev.jvmm.vmm.config.NetConfig;
import dev.jvmm.vmm.config.NicConfig;
import dev.jvmm.vmm.config.VfioConfig;
import dev.jvmm.vmm.config.VsockConfig;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Fuzz target: a libvirt domain XML that someone else wrote ({@code jvmm launch --libvirt}), through the secured
 * parser and the translation, strict or lenient.
 * <p>Invariant: the input translates into launch options, or fails with a {@link VmmException} of reason CONFIG whose
 * message starts with the file's name; never another exception. The options start with {@code --kernel} and
 * {@code --memory}, and each device option's value splits into the option's own keys, each given once (the
 * translation never writes a value the option's key=value form cannot carry).
 */
class DomainXmlFuzzTest {
    private static final String WHERE = "fuzz.xml";

    @FuzzTest(maxDuration = "5m")
    void domainXml(FuzzedDataProvider in) {
        boolean lenient = in.consumeBoolean();
        byte[] xml = in.consumeRemainingAsBytes();
        List<String> warnings = new ArrayList<>();
        List<LaunchArg> args;
        try {
            args = DomainXml.translate(WHERE, xml, lenient, warnings::add);
        } catch (VmmException e) {
            assertEquals(VmmException.Reason.CONFIG, e.reason(), e.getMessage());
            assertTrue(e.getMessage().startsWith(WHERE + ": "), e.getMessage());
            return;
        }
        if (!lenient) {
            assertEquals(List.of(), warnings);
        }
        warnings.forEach(w -> assertTrue(w.startsWith("warning: " + WHERE + ": "), w));
        assertEquals("--kernel", args.get(0).option());
        assertNotNull(args.get(0).value());
        assertTrue(args.stream().anyMatch(a -> a.option().equals("--memory")));
        for (LaunchArg a : args) {
            List<String> keys = switch (a.option()) {
                case "--disk" -> plus(DiskConfig.KEYS, "format");
                case "--net" -> NetConfig.KEYS;
                case "--nic" -> NicConfig.KEYS;
                case "--device" -> VfioConfig.KEYS;
                case "--vsock" -> VsockConfig.KEYS;
                case "--balloon" -> BalloonConfig.KEYS;
                case "--rng" -> List.of("source", "max-bytes", "period-ms");
                case "--console-port" -> List.of("name", "socket");
                default -> null;
            };
            if (keys != null && !a.value().isEmpty()) {
                try {
                    DeviceSpecs.parseCli(a.option(), a.value(), "-", keys);
                } catch (VmmException e) {
                    throw new AssertionError(a.shellForm() + ": " + e.getMessage(), e);
                }
            }
        }
        String line = LaunchArgs.commandLine(args);
        assertTrue(line.startsWith("jvmm launch --kernel "), line);
        Map<String, Object> cfg = LaunchArgs.config(args);
        assertTrue(cfg.containsKey("kernel") && cfg.containsKey("memory"), cfg.toString());
    }

    private static List<String> plus(List<String> l, String k) {
        List<String> out = new ArrayList<>(l);
        out.add(k);
        return out;
    }
}
