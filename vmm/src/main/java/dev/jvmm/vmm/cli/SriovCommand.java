package dev.jvmm.vmm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvmm sriov}: not built yet (see the README's "Current state"). */
@Command(name = "sriov", mixinStandardHelpOptions = true, description = "(sriov: not implemented yet)")
public final class SriovCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvmm sriov: not implemented yet");
        return 2;
    }
}
