package dev.jvmm.lab;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Chooses the Debian kernel package for the guest kit from {@code apt-cache search --names-only} output: the newest
 * generic {@code linux-image-<abi>-amd64-unsigned}, else the newest signed {@code linux-image-<abi>-amd64}. Cloud,
 * rt, dbg and meta packages are never chosen (cloud has no 9p/igb, see docs/lab.md).
 */
public final class KernelPackages {

    /** {@code linux-image-6.1.0-56-amd64-unsigned}, {@code linux-image-6.12.117+deb12-amd64}. */
    private static final Pattern NAME = Pattern.compile(
            "^linux-image-(\\d+\\.\\d+(?:\\.\\d+)?(?:-\\d+|\\+deb\\d+(?:\\.\\d+)?))-amd64(-unsigned)?$");

    /** One candidate: the package name, its kernel ABI version ({@code 6.12.117+deb12}) and whether it is unsigned. */
    public record Candidate(String packageName, String abi, boolean unsigned) {
        /** The module directory name / {@code uname -r}: {@code 6.12.117+deb12-amd64}. */
        public String release() {
            return abi + "-amd64";
        }

        /** {@code 6.12} or {@code 6.1}. */
        public String series() {
            String[] p = abi.split("[.+-]");
            return p[0] + "." + p[1];
        }
    }

    private KernelPackages() {
    }

    /** Parses {@code apt-cache search} lines ({@code name - description}) into generic amd64 kernel candidates. */
    public static List<Candidate> parse(String aptCacheSearchOutput) {
        List<Candidate> out = new ArrayList<>();
        for (String line : aptCacheSearchOutput.split("\n")) {
            String name = line.strip().split("\\s+", 2)[0];
            Matcher m = NAME.matcher(name);
            if (m.matches()) {
                out.add(new Candidate(name, m.group(1), m.group(2) != null));
            }
        }
        return out;
    }

    /**
     * The newest candidate, preferring unsigned at equal version.
     *
     * @param seriesPrefix when not null, only versions in that series ({@code "6.1"} matches 6.1.x, not 6.12)
     */
    public static Optional<Candidate> newest(List<Candidate> candidates, String seriesPrefix) {
        return candidates.stream()
                .filter(c -> seriesPrefix == null || seriesPrefix.isBlank() || c.series().equals(seriesPrefix.strip()))
                .max(Comparator.comparing(Candidate::abi, KernelPackages::compareVersions)
                        .thenComparing(Candidate::unsigned));
    }

    /** Compares versions number by number ({@code 6.12.117+deb12 > 6.1.0-56}, {@code 6.1.0-56 > 6.1.0-9}). */
    public static int compareVersions(String a, String b) {
        List<Object> x = tokens(a);
        List<Object> y = tokens(b);
        for (int i = 0; i < Math.min(x.size(), y.size()); i++) {
            Object p = x.get(i);
            Object q = y.get(i);
            int c;
            if (p instanceof Long lp && q instanceof Long lq) {
                c = Long.compare(lp, lq);
            } else if (p instanceof Long) {
                c = 1;
            } else if (q instanceof Long) {
                c = -1;
            } else {
                c = ((String) p).compareTo((String) q);
            }
            if (c != 0) {
                return c;
            }
        }
        return Integer.compare(x.size(), y.size());
    }

    private static List<Object> tokens(String v) {
        List<Object> t = new ArrayList<>();
        Matcher m = Pattern.compile("\\d+|[A-Za-z]+").matcher(v);
        while (m.find()) {
            String s = m.group();
            t.add(Character.isDigit(s.charAt(0)) ? (Object) Long.parseLong(s) : s);
        }
        return t;
    }
}
