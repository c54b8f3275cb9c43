package dev.jvmm.lab;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads the progress markers the kit's /init prints on its console: lines {@code JVMM-LAB: <event> [k=v ...]}, e.g.
 * {@code JVMM-LAB: scenario-exit rc=0 uptime=18.37}. A marker must start its line (carriage returns aside), so
 * program output that merely mentions the text does not count.
 */
public final class InitMarkers {

    public static final String PREFIX = "JVMM-LAB: ";
    private static final Pattern LINE = Pattern.compile("^\\r*JVMM-LAB: (\\S+)(.*)$");
    private static final Pattern RC = Pattern.compile("(?:^|\\s)rc=(-?\\d+)(?:\\s|$)");

    /** One marker: its event name and the rest of the line. */
    public record Marker(String event, String rest) {
        /** The value of {@code key=value} in the rest, if present. */
        public Optional<String> value(String key) {
            Matcher m = Pattern.compile("(?:^|\\s)" + Pattern.quote(key) + "=(\\S*)").matcher(rest);
            return m.find() ? Optional.of(m.group(1)) : Optional.empty();
        }
    }

    private InitMarkers() {
    }

    public static List<Marker> parse(String consoleOutput) {
        List<Marker> out = new ArrayList<>();
        for (String line : consoleOutput.split("\n")) {
            Matcher m = LINE.matcher(line.stripTrailing());
            if (m.matches()) {
                out.add(new Marker(m.group(1), m.group(2).strip()));
            }
        }
        return out;
    }

    /** The exit code of the last {@code scenario-exit} marker, if the scenario finished. */
    public static Optional<Integer> scenarioExit(String consoleOutput) {
        Optional<Integer> rc = Optional.empty();
        for (Marker m : parse(consoleOutput)) {
            if (m.event().equals("scenario-exit")) {
                Matcher r = RC.matcher(m.rest());
                if (r.find()) {
                    rc = Optional.of(Integer.parseInt(r.group(1)));
                }
            }
        }
        return rc;
    }

    /** Whether the scenario's output between its start and exit markers contains a line equal to or starting with {@code text}. */
    public static boolean scenarioPrinted(String consoleOutput, String text) {
        boolean in = false;
        for (String line : consoleOutput.split("\n")) {
            String l = line.replace("\r", "");
            if (l.startsWith(PREFIX + "scenario-start")) {
                in = true;
            } else if (l.startsWith(PREFIX + "scenario-exit")) {
                in = false;
            } else if (in && l.startsWith(text)) {
                return true;
            }
        }
        return false;
    }
}
