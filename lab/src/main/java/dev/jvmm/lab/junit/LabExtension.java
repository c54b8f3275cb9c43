package dev.jvmm.lab.junit;

import dev.jvmm.lab.GuestKit;
import dev.jvmm.lab.HostPrereqs;
import dev.jvmm.lab.LabConfig;
import dev.jvmm.lab.LabException;
import dev.jvmm.lab.LabPolicy;
import dev.jvmm.lab.LabSession;
import dev.jvmm.lab.LabSetup;
import java.util.List;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.ParameterContext;
import org.junit.jupiter.api.extension.ParameterResolver;
import org.opentest4j.TestAbortedException;

/**
 * The lab tier's JUnit extension (use it through {@link LabTest}). Before a lab test class: checks the host; when
 * pieces are missing, installs them where {@link LabPolicy#autoSetup} allows, then fails (CI / JVMM_REQUIRE_LAB=1)
 * or skips with the reason and the fixing command. A missing kit is never a reason to skip: it is built.
 * Resolves {@link LabSession} (one L1 per test run, booted on first use, rebooted if it died) and
 * {@link GuestKit.Kit} parameters.
 */
public final class LabExtension implements BeforeAllCallback, ParameterResolver {

    private static final ExtensionContext.Namespace NS = ExtensionContext.Namespace.create(LabExtension.class);

    @Override
    public void beforeAll(ExtensionContext context) {
        String problem = context.getRoot().getStore(NS).getOrComputeIfAbsent("hostCheck", k -> checkHost(),
                String.class);
        if (problem.isEmpty()) {
            return;
        }
        if (LabPolicy.fromEnvironment().required()) {
            throw new LabException(LabException.Reason.MISSING_PREREQUISITE, problem);
        }
        System.err.println("[lab] skipping lab-tier tests: " + problem);
        throw new TestAbortedException("lab tier skipped: " + problem);
    }

    /** Empty string when the host is ready, else the description of what is missing. */
    private static String checkHost() {
        LabConfig cfg = LabConfig.fromEnvironment();
        List<HostPrereqs.Missing> missing = LabSetup.installMissing(() -> HostPrereqs.checkAll(cfg),
                LabPolicy.fromEnvironment().autoSetup(LabSetup.canInstall()), line -> System.err.println("[lab] " + line));
        return missing.isEmpty() ? "" : HostPrereqs.describe(missing);
    }

    @Override
    public boolean supportsParameter(ParameterContext pc, ExtensionContext ec) {
        Class<?> t = pc.getParameter().getType();
        return t == LabSession.class || t == GuestKit.Kit.class;
    }

    @Override
    public Object resolveParameter(ParameterContext pc, ExtensionContext ec) {
        LabSession s = session(ec);
        return pc.getParameter().getType() == LabSession.class ? s : s.kit();
    }

    /** The shared session of this test run. */
    public static synchronized LabSession session(ExtensionContext ec) {
        ExtensionContext.Store store = ec.getRoot().getStore(NS);
        LabSession s = store.get("session", LabSession.class);
        if (s != null && s.isAlive()) {
            return s;
        }
        if (s != null) {
            System.err.println("[lab] L1 died; booting a new one. Last console lines:\n" + s.consoleTail());
            s.close();
        }
        boolean verbose = "1".equals(System.getenv("JVMM_LAB_VERBOSE"));
        s = LabSession.start(LabConfig.fromEnvironment(), m -> System.err.println("[lab] " + m),
                verbose ? System.err::println : null);
        store.put("session", s); // AutoCloseable: JUnit closes it when the run ends
        return s;
    }
}
