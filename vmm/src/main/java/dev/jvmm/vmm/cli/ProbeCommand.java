package dev.jvmm.vmm.cli;

import dev.jvmm.probe.HostProbe;
import dev.jvmm.probe.ProbeException;
import dev.jvmm.probe.ProbeOptions;
import dev.jvmm.probe.ProbeReport;
import dev.jvmm.probe.ReportJson;
import dev.jvmm.probe.ReportTable;
import dev.jvmm.probe.UseCase;
import dev.jvmm.sys.Sizes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jvmm probe}: what this host can do, with evidence and remedies (docs/probe.md). */
@Command(name = "probe", mixinStandardHelpOptions = true,
        description = {"Check what this host can do: KVM, IOMMU, VFIO, SR-IOV, resources; with a verdict for"
                + " virtio VMs, PCI passthrough and SR-IOV NIC assignment."},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:the report was printed and every --require'd use case is ready",
            "1:the probe itself failed",
            "2:usage error",
            "3:a --require'd use case is not ready"})
public final class ProbeCommand implements Callable<Integer> {
    /** A --require'd use case is not ready. */
    public static final int EXIT_NOT_READY = 3;

    @Option(names = "--json", description = "Print the report as JSON (schema jvmm-probe/1, see docs/probe.md).")
    boolean json;

    @Option(names = "--require", paramLabel = "USECASE", converter = UseCaseConverter.class,
            description = "Exit 3 unless this use case is ready: virtio, passthrough or sriov. Repeatable.")
    List<UseCase> require = new ArrayList<>();

    @Option(names = "--memory", paramLabel = "SIZE", converter = SizeConverter.class, defaultValue = "1G",
            description = "Guest RAM to check the memlock limit and hugepages against (default ${DEFAULT-VALUE}).")
    long memory;

    @Option(names = "--no-kvm-speed", description = "Do not time a guest loop on /dev/kvm.")
    boolean noKvmSpeed;

    @Option(names = {"-v", "--verbose"}, description = "Show the evidence of every check, not only WARN and FAIL.")
    boolean verbose;

    @Option(names = "--debug", description = "Print stack traces of failures.")
    boolean debug;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        ProbeReport report;
        try {
            report = HostProbe.probe(new ProbeOptions(memory, !noKvmSpeed));
        } catch (ProbeException e) {
            throw new ExitCodeException(ErrorHandler.EXIT_FAILURE, "jvmm probe failed", e);
        }
        var out = spec.commandLine().getOut();
        out.print(json ? ReportJson.write(report) : ReportTable.render(report, ReportTable.colourWanted(), verbose));
        out.flush();
        return report.allReady(require) ? 0 : EXIT_NOT_READY;
    }

    static final class UseCaseConverter implements CommandLine.ITypeConverter<UseCase> {
        @Override
        public UseCase convert(String value) {
            try {
                return UseCase.parse(value);
            } catch (ProbeException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }

    static final class SizeConverter implements CommandLine.ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            long v;
            try {
                v = Sizes.parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
            if (v <= 0) {
                throw new CommandLine.TypeConversionException("\"" + value + "\" is not a size above 0");
            }
            return v;
        }
    }
}
