package dev.jvmm.vmm.libvirt;

import dev.jvmm.sys.json.Json;
import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.cli.ExitCodeException;
import dev.jvmm.vmm.cli.LaunchCommand;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * {@code jvmm launch --libvirt domain.xml [--lenient]}: the domain XML becomes launch options ({@link DomainXml}),
 * the options given on the command line are merged in ({@link LaunchArgs#merge}), and the result is parsed by the
 * launch command as if typed, which then validates and runs (or with {@code --dry-run} prints) it. A picocli mixin:
 * launch holds one field and one call.
 */
public final class LibvirtOptions {
    @Option(names = "--libvirt", paramLabel = "FILE", description = "a libvirt domain XML (kernel boot): its devices "
            + "become launch options; options given here replace the XML's, --disk/--net/--nic/--device add to them "
            + "(docs/launch.md)")
    Path file;
    @Option(names = "--lenient", description = "with --libvirt: what jvmm does not support is a warning and "
            + "skipped, not an error")
    boolean lenient;

    /** Whether {@code --libvirt} (or {@code --lenient}) was given. */
    public boolean given() {
        return file != null || lenient;
    }

    /**
     * Translates the XML, merges the user's options, parses the result onto the launch command ({@code spec}'s
     * object) and runs it with {@code launch}. With {@code --dry-run} the command line is printed first (with
     * {@code --json}: one JSON object with the arguments, the config file form and the NIC plan); without, it goes
     * to stderr.
     */
    public int launch(CommandSpec spec, Supplier<Integer> launch) {
        try {
            return launchOrFail(spec, launch);
        } catch (VmmException e) {
            throw new ExitCodeException(e.reason() == VmmException.Reason.CONFIG ? LaunchCommand.EXIT_CONFIG
                    : 1, e.getMessage(), e.getCause());
        }
    }

    private int launchOrFail(CommandSpec spec, Supplier<Integer> launch) {
        CommandLine cl = spec.commandLine();
        CommandLine.ParseResult pr = cl.getParseResult();
        if (lenient && file == null) {
            throw new VmmException(VmmException.Reason.CONFIG, "--lenient goes with --libvirt");
        }
        for (String o : new String[] {"--restore", "--incoming"}) {
            if (pr.hasMatchedOption(o)) {
                throw new VmmException(VmmException.Reason.CONFIG, "--libvirt describes a new VM: " + o
                        + " brings its own (they cannot go together)");
            }
        }
        PrintWriter out = cl.getOut();
        PrintWriter err = cl.getErr();
        Path xml = file;
        List<LaunchArg> translated = DomainXml.translate(xml, lenient, w -> {
            err.println("jvmm: " + w);
            err.flush();
        });
        List<LaunchArg> args = LaunchArgs.merge(translated, userArgs(pr));
        boolean dryRun = pr.hasMatchedOption("--dry-run");
        boolean json = dryRun && pr.hasMatchedOption("--json");
        if (dryRun && !json) {
            out.println(LaunchArgs.commandLine(args));
            out.flush();
        } else if (!dryRun) {
            err.println("jvmm: " + xml + ": " + LaunchArgs.commandLine(args));
            err.flush();
        }
        // parsed again by the same command line, so that every option starts from its default, --libvirt included
        StringWriter plan = new StringWriter();
        if (json) {
            cl.setOut(new PrintWriter(plan));
        }
        int rc;
        try {
            try {
                cl.parseArgs(LaunchArgs.parseForm(args));
            } catch (CommandLine.ParameterException e) {
                throw new VmmException(VmmException.Reason.CONFIG, xml + ": the launch options it gives: "
                        + e.getMessage());
            }
            rc = launch.get();
        } finally {
            cl.setOut(out);
        }
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("command", new ArrayList<Object>(LaunchArgs.argv(args)));
            m.put("config", LaunchArgs.config(args));
            try {
                String p = plan.toString();
                m.put("nics", p.isBlank() ? List.of() : Json.parse(p));
            } catch (Json.ParseException e) {
                throw new IllegalStateException("the NIC plan is not JSON: " + e.getMessage(), e);
            }
            out.print(Json.write(m));
            out.flush();
        }
        return rc;
    }

    /** The options the user gave, in order, as arguments, without --libvirt and --lenient. */
    static List<LaunchArg> userArgs(CommandLine.ParseResult pr) {
        List<LaunchArg> out = new ArrayList<>();
        java.util.Set<OptionSpec> seen = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (OptionSpec o : pr.matchedOptions()) {
            String name = o.longestName();
            if (!seen.add(o) || name.equals("--libvirt") || name.equals("--lenient")) {
                continue;
            }
            if (o.arity().max() == 0) {
                out.add(new LaunchArg(name, null));
                continue;
            }
            List<String> values = o.originalStringValues();
            if (values.isEmpty()) {
                out.add(new LaunchArg(name, "")); // an optional value left out (--balloon)
            }
            for (String v : values) {
                out.add(new LaunchArg(name, v));
            }
        }
        return out;
    }
}
