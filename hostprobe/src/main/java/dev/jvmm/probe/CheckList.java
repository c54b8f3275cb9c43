package dev.jvmm.probe;

import java.util.ArrayList;
import java.util.List;

/** Collects checks in the order they are made. */
final class CheckList {
    private final List<Check> checks = new ArrayList<>();

    Check add(String id, String category, Status status, String title, String remedy, List<Evidence> evidence) {
        Check c = new Check(id, category, status, title, evidence,
                status == Status.PASS || status == Status.INFO ? "" : remedy);
        checks.add(c);
        return c;
    }

    List<Check> all() {
        return List.copyOf(checks);
    }

    static Evidence ev(String source, Object value) {
        return new Evidence(source, String.valueOf(value));
    }
}
