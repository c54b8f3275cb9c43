package dev.jvmm.vmm.cli;

import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.api.ApiClient;
import dev.jvmm.vmm.api.ApiEndpoint;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jvmm remote --api-socket PATH VERB [ARG...]}: one request to a running jvmm's control API (docs/api.md),
 * with ch-remote's verbs. Turns the verb and its {@code key=value} arguments into an endpoint and a JSON body, sends
 * it with {@link ApiClient}, prints the answer's JSON on stdout.
 */
@Command(name = "remote", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Send one request to a running VM's control API (jvmm launch --api-socket PATH;"
                + " docs/api.md) and print the answer's JSON.",
            "VERB: ping, info, counters, pause, resume, shutdown [timeout=SECONDS], power-off, reboot,"
                + " add-disk PATH[,key=value...], add-net TAP[,...], add-nic key=value[,...],"
                + " add-device BDF[,...], remove-device ID [timeout=SECONDS], balloon, resize-balloon size=SIZE."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:done (2xx)",
            "1:the server refused (its message is printed), or it cannot be reached",
            "2:usage error: unknown verb, malformed argument"})
public final class RemoteCommand implements Callable<Integer> {
    @Option(names = "--api-socket", required = true, paramLabel = "PATH",
            description = "the socket of the VM's control API (jvmm launch --api-socket PATH)")
    Path socket;
    @Parameters(index = "0", paramLabel = "VERB", description = "what to do (see above)")
    String verb;
    @Parameters(index = "1..*", paramLabel = "ARG", description = "key=value, or a comma-separated list of them;"
            + " they become the request's JSON object (values as strings)")
    List<String> args;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** Where the quick path prints the answer (null: stdout); picocli's path prints to picocli's. */
    private PrintWriter quickOut;

    /**
     * {@code jvmm remote} without building the whole {@code jvmm} command tree: the launcher script execs this for
     * its {@code remote} subcommand, as it does {@link LaunchCommand#main} for {@code launch}, because picocli's
     * model of every subcommand is most of a cold JVM's start-up (and scripts in the lab's emulated host call
     * {@code jvmm remote} many times). Same options, help, errors and exit codes as under {@code jvmm}.
     */
    public static void main(String[] args) {
        dev.jvmm.vmm.log.StderrLoggerProvider.install();
        System.exit(run(args, null, null));
    }

    /**
     * Runs {@code jvmm remote args}: the {@link #quickParse quick path} when it takes the arguments and they are
     * valid, picocli otherwise (help, version, every usage error); prints to {@code out} and {@code err} (null: stdout,
     * stderr). The exit code.
     */
    static int run(String[] args, PrintWriter out, PrintWriter err) {
        RemoteCommand quick = quickParse(args);
        if (quick != null) {
            quick.quickOut = out;
            try {
                return quick.call();
            } catch (QuickUsage u) {
                // picocli parses again and says what is wrong, with the usage; nothing was sent
            } catch (InterruptedException | RuntimeException e) {
                return ErrorHandler.report(e, err != null ? err : picocliLike(System.err, "sun.stderr.encoding"), false);
            }
        }
        CommandLine cl = commandLine();
        if (out != null) {
            cl.setOut(out);
        }
        if (err != null) {
            cl.setErr(err);
        }
        return cl.execute(args);
    }

    /**
     * The common case without picocli's model (a third of {@code jvmm remote}'s start-up, seconds in the lab's
     * emulated host): {@code --api-socket PATH} or {@code --api-socket=PATH} once, anywhere, and the other arguments
     * VERB and ARGs. Null when any other argument starts with {@code -} (help, version, an unknown option, {@code --})
     * or {@code @} (picocli's argument files), or a part is missing: picocli parses those and says what is wrong.
     */
    static RemoteCommand quickParse(String[] args) {
        RemoteCommand c = new RemoteCommand();
        String socket = null;
        List<String> words = new java.util.ArrayList<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v;
            if (a.equals("--api-socket")) {
                v = i + 1 < args.length ? args[++i] : null;
            } else if (a.startsWith("--api-socket=")) {
                v = a.substring("--api-socket=".length());
            } else if (a.startsWith("-") || a.startsWith("@")) {
                return null;
            } else {
                words.add(a);
                continue;
            }
            if (socket != null || v == null || v.isEmpty() || v.startsWith("-") || v.startsWith("@")) {
                return null;
            }
            socket = v;
        }
        if (socket == null || words.isEmpty()) {
            return null;
        }
        try {
            c.socket = Path.of(socket);
        } catch (java.nio.file.InvalidPathException e) {
            return null;
        }
        c.verb = words.get(0);
        c.args = words.size() > 1 ? words.subList(1, words.size()) : null;
        return c;
    }

    /** This command alone, as {@code jvmm remote}, with jvmm's error handling (cause chain, exit codes). */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new RemoteCommand());
        cl.setCommandName("jvmm remote");
        cl.setExecutionExceptionHandler(new ErrorHandler());
        return cl;
    }

    @Override
    public Integer call() throws InterruptedException {
        ApiEndpoint e = ApiEndpoint.byVerb(verb);
        if (e == null) {
            throw usage("Unknown verb '" + verb + "' (expected one of: " + String.join(", ", ApiEndpoint.verbs())
                    + ")");
        }
        Map<String, Object> body = body(e, args == null ? List.of() : args);
        ApiClient.Reply reply;
        try (ApiClient client = ApiClient.open(socket)) {
            reply = client.call(e, body);
        } catch (ApiClient.Unreachable u) {
            throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, u.getMessage(), null);
        }
        if (!reply.ok()) {
            throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, errorMessage(reply), null);
        }
        PrintWriter out = out();
        out.print(reply.body());
        out.flush();
        return 0;
    }

    /** The JSON object {@code e} is sent with (null: no body), from the verb's arguments. */
    private Map<String, Object> body(ApiEndpoint e, List<String> words) {
        return switch (e) {
            case SHUTDOWN -> shutdownBody(words);
            case ADD_DISK -> deviceBody(e, words, "path");
            case ADD_NET -> deviceBody(e, words, "tap");
            case ADD_NIC -> deviceBody(e, words, "pf");
            case ADD_DEVICE -> deviceBody(e, words, "vfio");
            case REMOVE_DEVICE -> {
                Map<String, Object> m = pairs(e, words, "id");
                Object t = m.remove("timeout");
                if (m.size() != 1 || !m.containsKey("id")) {
                    throw usage("remove-device takes the device's id: remove-device ID [timeout=SECONDS]");
                }
                if (t != null) {
                    m.put("timeout_s", seconds("remove-device", (String) t));
                }
                yield m;
            }
            case SEND_MIGRATION -> {
                Map<String, Object> m = pairs(e, words, "destination");
                Object dest = m.remove("destination");
                if (!(dest instanceof String d)) {
                    throw usage("send-migration takes a destination: send-migration destination=unix:PATH|tcp:HOST:PORT"
                            + "[,tls-dir=DIR] [downtime_ms=MS] [timeout=SECONDS]");
                }
                Object tls = m.remove("tls-dir");
                Map<String, Object> b = new LinkedHashMap<>();
                b.put("destination", tls == null ? d : d + ",tls-dir=" + java.nio.file.Path.of((String) tls).toAbsolutePath());
                Object dt = m.remove("downtime_ms");
                if (dt != null) {
                    b.put("downtime_ms", number("send-migration", "downtime_ms", (String) dt));
                }
                Object t = m.remove("timeout");
                if (t != null) {
                    b.put("timeout_s", seconds("send-migration", (String) t));
                }
                if (!m.isEmpty()) {
                    throw usage("send-migration: unknown key '" + m.keySet().iterator().next() + "' (it takes destination, "
                            + "tls-dir, downtime_ms and timeout)");
                }
                yield b;
            }
            case RESIZE_BALLOON -> {
                Map<String, Object> m = pairs(e, words, "size");
                if (m.size() != 1 || !m.containsKey("size")) {
                    throw usage("resize-balloon takes the new target: resize-balloon size=SIZE (e.g. 128M; 0 empties it)");
                }
                yield m;
            }
            case SNAPSHOT -> {
                Map<String, Object> m = pairs(e, words, "destination");
                Object r = m.remove("resume");
                if (m.size() != 1 || !(m.get("destination") instanceof String d)) {
                    throw usage("snapshot takes a directory: snapshot destination=DIR [resume=on]");
                }
                m.put("destination", java.nio.file.Path.of(d).toAbsolutePath().toString());
                if (r != null) {
                    m.put("resume", switch (((String) r).trim().toLowerCase(Locale.ROOT)) {
                        case "on", "true", "yes" -> true;
                        case "off", "false", "no" -> false;
                        default -> throw usage("snapshot: resume=" + r + " is not on or off");
                    });
                }
                yield m;
            }
            default -> {
                if (!words.isEmpty()) {
                    throw usage(verb + " takes no arguments, got '" + words.get(0) + "'");
                }
                yield null;
            }
        };
    }

    /** {@code timeout=N} becomes {@code {"timeout_s": N}}; nothing, no body (the server's default). */
    private Map<String, Object> shutdownBody(List<String> words) {
        Map<String, Object> m = pairs(ApiEndpoint.SHUTDOWN, words, null);
        if (m.isEmpty()) {
            return null;
        }
        if (m.size() != 1 || !m.containsKey("timeout")) {
            throw usage("shutdown takes only timeout=SECONDS");
        }
        return new LinkedHashMap<>(Map.of("timeout_s", seconds("shutdown", (String) m.get("timeout"))));
    }

    private long number(String what, String key, String v) {
        try {
            return Long.parseLong(v.trim());
        } catch (NumberFormatException x) {
            throw usage(what + ": " + key + "=" + v + " is not a whole number");
        }
    }

    private long seconds(String what, String t) {
        try {
            return Long.parseLong(t.trim());
        } catch (NumberFormatException x) {
            throw usage(what + ": timeout=" + t + " is not a whole number of seconds");
        }
    }

    private Map<String, Object> deviceBody(ApiEndpoint e, List<String> words, String bareKey) {
        if (words.isEmpty()) {
            throw usage(e.verb() + " needs key=value arguments (the keys of " + e.deviceKind().option()
                    + ", and id=...)");
        }
        return pairs(e, words, bareKey);
    }

    /**
     * The {@code key=value} pairs of {@code words}, each a comma-separated list of them, in order; the first word's
     * first item may be a bare value, of {@code bareKey} (when the verb has one), as in the launch options.
     */
    private Map<String, Object> pairs(ApiEndpoint e, List<String> words, String bareKey) {
        Map<String, Object> m = new LinkedHashMap<>();
        boolean first = true;
        for (String word : words) {
            for (String item : word.split(",", -1)) {
                int eq = item.indexOf('=');
                String k;
                String v;
                if (eq < 0 && first && bareKey != null && !item.isEmpty()) {
                    k = bareKey;
                    v = item;
                } else if (eq <= 0) {
                    throw usage(e.verb() + ": '" + item + "' in '" + word + "' is not key=value");
                } else {
                    k = item.substring(0, eq).trim().toLowerCase(Locale.ROOT);
                    v = item.substring(eq + 1);
                }
                if (m.put(k, v) != null) {
                    throw usage(e.verb() + ": key '" + k + "' given twice");
                }
                first = false;
            }
        }
        return m;
    }

    /** The server's {@code "error"} message, or the status and body when the answer is not the API's error form. */
    static String errorMessage(ApiClient.Reply reply) {
        try {
            if (Json.parse(reply.body()) instanceof Map<?, ?> m && m.get("error") instanceof String s) {
                return s;
            }
        } catch (Json.ParseException notJson) {
            // said below
        }
        String b = reply.body().strip();
        if (b.length() > 200) {
            b = b.substring(0, 200) + "...";
        }
        return "HTTP " + reply.status() + (b.isEmpty() ? "" : ": " + b);
    }

    /** Where the answer is printed: picocli's stdout, or on the quick path stdout in the charset picocli would use. */
    private PrintWriter out() {
        if (spec != null) {
            return spec.commandLine().getOut();
        }
        return quickOut != null ? quickOut : picocliLike(System.out, "sun.stdout.encoding");
    }

    /** A writer on {@code s} in the charset picocli's {@code getOut()}/{@code getErr()} would use. */
    private static PrintWriter picocliLike(java.io.PrintStream s, String encodingProperty) {
        java.nio.charset.Charset cs = java.nio.charset.Charset.defaultCharset();
        String enc = System.getProperty(encodingProperty); // set by the JDK when the stream is a terminal
        if (enc != null) {
            try {
                cs = java.nio.charset.Charset.forName(enc.equalsIgnoreCase("cp65001") ? "UTF-8" : enc);
            } catch (IllegalArgumentException unknown) {
                // the default, as picocli does
            }
        }
        return new PrintWriter(new java.io.OutputStreamWriter(s, cs), true);
    }

    /** A usage error, reported by picocli; on the quick path (no picocli model) picocli is run to report it. */
    private CommandLine.ParameterException usage(String message) {
        if (spec == null) {
            throw new QuickUsage();
        }
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }

    /** The quick path met a usage error: {@link #run} has picocli parse the arguments again and report it. */
    private static final class QuickUsage extends RuntimeException {
        private static final long serialVersionUID = 1L;

        QuickUsage() {
            super(null, null, false, false);
        }
    }
}
