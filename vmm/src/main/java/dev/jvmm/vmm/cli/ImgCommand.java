package dev.jvmm.vmm.cli;

import dev.jvmm.sys.json.Json;
import dev.jvmm.virtio.VirtioException;
import dev.jvmm.virtio.blk.qcow2.ImageTool;
import dev.jvmm.virtio.blk.qcow2.Qcow2Check;
import java.io.PrintStream;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jvmm img}: make, describe and check disk images (raw, qcow2); parses and delegates to
 * {@code dev.jvmm.virtio.blk.qcow2.ImageTool}. Options and exit codes follow {@code qemu-img}'s.
 */
@Command(name = "img", mixinStandardHelpOptions = true,
        description = "Create, describe and check disk images (raw and qcow2; see docs/qcow2.md).",
        subcommands = {ImgCommand.Create.class, ImgCommand.Info.class, ImgCommand.Check.class})
public final class ImgCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** Bad input (a file that is not an image, an option out of range) is a usage error: exit code 1. */
    static ExitCodeException failed(VirtioException e) {
        return new ExitCodeException(1, e.getMessage(), e.getCause());
    }

    /** {@code 10G}, {@code 512M}, {@code 4k}, {@code 1048576}: bytes (binary suffixes, as qemu-img takes them). */
    static long size(String s) {
        String t = s.trim();
        long mul = 1;
        if (!t.isEmpty() && Character.isLetter(t.charAt(t.length() - 1))) {
            char c = Character.toUpperCase(t.charAt(t.length() - 1));
            int i = "BKMGTPE".indexOf(c);
            if (i < 0) {
                throw new CommandLine.ParameterException(new CommandLine(new Create()), "SIZE \"" + s
                        + "\": unknown suffix (use K, M, G, T, P or E)");
            }
            mul = 1L << (10 * i);
            t = t.substring(0, t.length() - 1);
        }
        try {
            double v = Double.parseDouble(t);
            if (v < 0 || v * mul > Long.MAX_VALUE / 2) {
                throw new NumberFormatException();
            }
            return (long) Math.ceil(v * mul);
        } catch (NumberFormatException e) {
            throw new CommandLine.ParameterException(new CommandLine(new Create()), "SIZE \"" + s
                    + "\" is not a size (like 10G, 512M, 4096)");
        }
    }

    @Command(name = "create", mixinStandardHelpOptions = true,
            description = "Create a raw or qcow2 image (replacing FILE). With -b, a qcow2 image whose unallocated "
                    + "clusters read from the backing file; SIZE then defaults to the backing file's.",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:created", "1:bad option, backing file unreadable, or the file could not be written"})
    static final class Create implements Callable<Integer> {
        @Option(names = "-f", paramLabel = "FMT", description = "qcow2 (default) or raw")
        String format = "qcow2";
        @Option(names = "-b", paramLabel = "BACKING", description = "backing file (a relative name is relative to "
                + "FILE's directory)")
        String backing;
        @Option(names = "-F", paramLabel = "BACKING_FMT", description = "backing file format, raw or qcow2 "
                + "(default: detected)")
        String backingFormat;
        @Option(names = "-o", paramLabel = "OPTIONS", description = "cluster_size=4k..2M (default 64k), "
                + "compat=1.1|0.10 (default 1.1), comma-separated")
        String options;
        @Parameters(index = "0", paramLabel = "FILE")
        String file;
        @Parameters(index = "1", paramLabel = "SIZE", arity = "0..1", description = "bytes, or with a K/M/G/T suffix")
        String size;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            int cluster = 65536;
            String compat = "1.1";
            if (options != null) {
                for (String kv : options.split(",")) {
                    String[] p = kv.split("=", 2);
                    String k = p[0].trim();
                    String v = p.length > 1 ? p[1].trim() : "";
                    switch (k) {
                        case "cluster_size" -> cluster = (int) Math.min(Integer.MAX_VALUE, size(v));
                        case "compat" -> compat = v.equals("v3") ? "1.1" : v.equals("v2") ? "0.10" : v;
                        default -> throw new CommandLine.ParameterException(spec.commandLine(), "-o " + k
                                + ": unknown option (jvmm img create takes cluster_size and compat)");
                    }
                }
            }
            if (size == null && backing == null) {
                throw new CommandLine.ParameterException(spec.commandLine(), "SIZE is required without -b");
            }
            try {
                ImageTool.create(file, format.toLowerCase(Locale.ROOT), size == null ? -1 : size(size), backing,
                        backingFormat, cluster, compat);
            } catch (VirtioException e) {
                throw failed(e);
            }
            spec.commandLine().getOut().printf("Formatting '%s', fmt=%s%s%n", file, format,
                    backing != null ? " backing_file=" + backing : "");
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(name = "info", mixinStandardHelpOptions = true,
            description = "What the image is: format, virtual size, disk size, cluster size, backing file, compat, "
                    + "dirty and corrupt flags (the facts and JSON names of qemu-img info).",
            exitCodeListHeading = "%nExit codes:%n",
            exitCodeList = {"0:done", "1:the file cannot be opened or is not a valid image"})
    static final class Info implements Callable<Integer> {
        @Option(names = "--json", description = "as JSON (the names qemu-img info --output=json uses)")
        boolean json;
        @Parameters(index = "0", paramLabel = "FILE")
        String file;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Map<String, Object> m;
            try {
                m = ImageTool.info(file);
            } catch (VirtioException e) {
                throw failed(e);
            }
            spec.commandLine().getOut().print(json ? Json.write(m) + "\n" : ImageTool.infoText(m));
            spec.commandLine().getOut().flush();
            return 0;
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Check a qcow2 image's refcounts and tables; with -r, repair them (the backing file is not "
                    + "needed).",
            exitCodeListHeading = "%nExit codes (as qemu-img check):%n",
            exitCodeList = {"0:no problems (or all repaired)", "1:the check could not run (not readable, refused)",
                "2:corruptions remain", "3:only leaked clusters remain", "63:the format has nothing to check (raw)"})
    static final class Check implements Callable<Integer> {
        @Option(names = "-r", paramLabel = "leaks|all", description = "repair leaked clusters, or everything")
        String repair;
        @Parameters(index = "0", paramLabel = "FILE")
        String file;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            Qcow2Check.Repair r = Qcow2Check.Repair.NONE;
            if (repair != null) {
                r = switch (repair) {
                    case "leaks" -> Qcow2Check.Repair.LEAKS;
                    case "all" -> Qcow2Check.Repair.ALL;
                    default -> throw new CommandLine.ParameterException(spec.commandLine(), "-r " + repair
                            + ": expected leaks or all");
                };
            }
            PrintStream out = new PrintStream(new java.io.OutputStream() {
                @Override
                public void write(int b) {
                    spec.commandLine().getOut().write(b);
                }
            }, true);
            Qcow2Check.Result res;
            try {
                res = ImageTool.check(file, r, out);
            } catch (VirtioException e) {
                throw failed(e);
            }
            out.flush();
            spec.commandLine().getOut().flush();
            if (res == null) {
                spec.commandLine().getOut().println(file + ": a raw image has no metadata to check");
                spec.commandLine().getOut().flush();
                return 63;
            }
            return res.exitCode();
        }
    }
}
