package dev.jvmm.vmm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvmm lab}: not built yet (see the README's "Current state"). */
@Command(name = "lab", mixinStandardHelpOptions = true, description = "(lab: not implemented yet)")
public final class LabCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvmm lab: not implemented yet");
        return 2;
    }
}
