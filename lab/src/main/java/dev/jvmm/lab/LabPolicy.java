package dev.jvmm.lab;

import java.util.List;
import java.util.Map;

/**
 * Whether this machine is meant to run the lab tier. With {@code CI=true} or {@code JVMM_REQUIRE_LAB=1} a missing
 * prerequisite fails the lab tests; otherwise (a user's machine) they are skipped with the reason printed. On a
 * machine meant to run them, as root, a missing prerequisite is first installed with {@link LabSetup} (a fresh Debian
 * 12 CI machine sets itself up); {@code JVMM_LAB_SETUP=1} asks for that anywhere, {@code JVMM_LAB_SETUP=0} never.
 */
public final class LabPolicy {

    private final Map<String, String> env;

    public LabPolicy(Map<String, String> env) {
        this.env = env;
    }

    public static LabPolicy fromEnvironment() {
        return new LabPolicy(System.getenv());
    }

    public boolean required() {
        return "true".equalsIgnoreCase(env.getOrDefault("CI", "")) || "1".equals(env.get("JVMM_REQUIRE_LAB"));
    }

    public boolean autoSetup(boolean root) {
        String s = env.getOrDefault("JVMM_LAB_SETUP", "");
        if (s.equals("0")) {
            return false;
        }
        return root && (s.equals("1") || required());
    }

    /** What to do about missing pieces. */
    public enum Verdict { READY, SKIP, FAIL }

    public Verdict verdict(List<HostPrereqs.Missing> missing) {
        if (missing.isEmpty()) {
            return Verdict.READY;
        }
        return required() ? Verdict.FAIL : Verdict.SKIP;
    }
}
