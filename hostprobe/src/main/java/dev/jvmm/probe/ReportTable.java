package dev.jvmm.probe;

import java.util.Locale;

/**
 * The human-readable report: one line per check (status, id, title), its evidence and remedy indented below,
 * then the verdicts. ANSI colour only when asked for (the CLI asks when stdout is a terminal and NO_COLOR is unset).
 */
public final class ReportTable {
    private static final String RESET = "\u001b[0m";

    private ReportTable() {
    }

    /** True when colour should be used: a console is attached and NO_COLOR is unset or empty. */
    public static boolean colourWanted() {
        String nc = System.getenv("NO_COLOR");
        return System.console() != null && (nc == null || nc.isEmpty());
    }

    public static String render(ProbeReport r, boolean colour, boolean verbose) {
        StringBuilder sb = new StringBuilder();
        String category = "";
        for (Check c : r.checks()) {
            if (!c.category().equals(category)) {
                category = c.category();
                sb.append(bold(category.toUpperCase(Locale.ROOT), colour)).append('\n');
            }
            sb.append("  ").append(status(c.status(), colour)).append(' ')
                    .append(String.format("%-26s", c.id())).append(' ').append(c.title()).append('\n');
            if (verbose || c.status() == Status.FAIL || c.status() == Status.WARN) {
                for (Evidence e : c.evidence()) {
                    sb.append("         ").append(dim(e.source() + ": ", colour)).append(e.value()).append('\n');
                }
            }
            if (!c.remedy().isEmpty()) {
                sb.append("         ").append(colour ? "\u001b[36m" : "").append("remedy: ").append(c.remedy())
                        .append(colour ? RESET : "").append('\n');
            }
        }
        sb.append(bold("VERDICTS", colour)).append('\n');
        for (UseCase u : UseCase.values()) {
            Verdict v = r.verdict(u);
            String word = v.ready() ? "READY" : "NOT READY";
            if (colour) {
                word = (v.ready() ? "\u001b[32m" : "\u001b[31m") + word + RESET;
            }
            sb.append(String.format("  %-12s ", u.id())).append(word).append('\n');
            for (Verdict.Reason b : v.blocking()) {
                sb.append("      blocked by ").append(b.check()).append(": ").append(b.text()).append('\n');
            }
            for (Verdict.Reason w : v.warnings()) {
                sb.append("      warning    ").append(w.check()).append(": ").append(w.text()).append('\n');
            }
        }
        return sb.toString();
    }

    private static String status(Status s, boolean colour) {
        String t = String.format("%-4s", s.name());
        if (!colour) {
            return t;
        }
        String c = switch (s) {
            case PASS -> "\u001b[32m";
            case WARN -> "\u001b[33m";
            case FAIL -> "\u001b[1;31m";
            case INFO -> "\u001b[34m";
        };
        return c + t + RESET;
    }

    private static String bold(String s, boolean colour) {
        return colour ? "\u001b[1m" + s + RESET : s;
    }

    private static String dim(String s, boolean colour) {
        return colour ? "\u001b[2m" + s + RESET : s;
    }
}
