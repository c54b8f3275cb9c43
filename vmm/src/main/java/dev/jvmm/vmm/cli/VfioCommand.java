package dev.jvmm.vmm.cli;

import dev.jvmm.sys.pci.PciAddress;
import dev.jvmm.sys.pci.PciException;
import dev.jvmm.sys.pci.VfioHost;
import dev.jvmm.sys.pci.VfioReport;
import java.util.concurrent.Callable;
import java.util.function.Function;
import java.util.function.Supplier;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code jvmm vfio}: host PCI functions for VFIO passthrough; parses and delegates to {@code dev.jvmm.sys.pci}. */
@Command(name = "vfio", mixinStandardHelpOptions = true,
        description = "List the host's PCI functions with their IOMMU group, driver and group viability; bind one to"
                + " vfio-pci and give it back (see docs/vfio.md).",
        subcommands = {VfioCommand.ListCmd.class, VfioCommand.Bind.class, VfioCommand.Unbind.class},
        exitCodeListHeading = "%nExit codes:%n",
        exitCodeList = {
            "0:done (also when there was nothing to change)",
            "1:the host refused: no IOMMU group, driver missing or not binding, device in use",
            "2:usage error: not a PCI address, no such device"})
public final class VfioCommand implements Callable<Integer> {
    /** The host the commands act on; tests put a fake one here. */
    static Supplier<VfioHost> host = VfioHost::system;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getOut());
        return 0;
    }

    /** Runs {@code f} on the host and prints what it returns; bad input (address, device) becomes exit code 2. */
    static int run(CommandLine.Model.CommandSpec spec, Function<VfioHost, String> f) {
        String out;
        try {
            out = f.apply(host.get());
        } catch (PciException e) {
            if (e.reason() == PciException.Reason.BAD_ADDRESS || e.reason() == PciException.Reason.DEVICE_NOT_FOUND) {
                throw new ExitCodeException(2, e.getMessage(), e.getCause());
            }
            throw e;
        }
        spec.commandLine().getOut().print(out);
        spec.commandLine().getOut().flush();
        return 0;
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "Every PCI function: IOMMU group, driver, group viability (the devices in the way), and who"
                    + " uses it (processes holding /dev/vfio/N, or an up host network interface).")
    static final class ListCmd implements Callable<Integer> {
        @Option(names = "--json", description = "machine-readable output (schema in docs/vfio.md)")
        boolean json;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() {
            return run(spec, h -> json ? VfioReport.json(h.list()) : VfioReport.text(h.list()));
        }
    }

    /** A command on one function: its BDF parameter, what it does with it, and the output it prints. */
    abstract static class OnOne implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "BDF", description = "PCI address, 0000:03:00.0 or 03:00.0")
        String bdf;
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        abstract String act(VfioHost h, PciAddress a);

        @Override
        public Integer call() {
            return run(spec, h -> act(h, PciAddress.parse(bdf)));
        }
    }

    @Command(name = "bind", mixinStandardHelpOptions = true,
            description = "Bind a PCI function to vfio-pci (driver_override + drivers_probe, modprobe vfio-pci if"
                    + " needed), remembering its driver in /run/jvmm/vfio/BDF.json for 'jvmm vfio unbind'.")
    static final class Bind extends OnOne {
        @Override
        String act(VfioHost h, PciAddress a) {
            return VfioReport.text(h.bind(a));
        }
    }

    @Command(name = "unbind", mixinStandardHelpOptions = true,
            description = "Give a PCI function back: to the driver 'jvmm vfio bind' recorded, or, without a record,"
                    + " from vfio-pci to the kernel's default driver (driver_override cleared).")
    static final class Unbind extends OnOne {
        @Override
        String act(VfioHost h, PciAddress a) {
            return VfioReport.text(h.unbind(a));
        }
    }
}
