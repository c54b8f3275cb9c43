package dev.jvmm.vmm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvmm probe}: not built yet (see the README's "Current state"). */
@Command(name = "probe", mixinStandardHelpOptions = true, description = "(probe: not implemented yet)")
public final class ProbeCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvmm probe: not implemented yet");
        return 2;
    }
}
