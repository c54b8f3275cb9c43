package dev.jvmm.vmm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvmm launch}: not built yet (see the README's "Current state"). */
@Command(name = "launch", mixinStandardHelpOptions = true, description = "(launch: not implemented yet)")
public final class LaunchCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvmm launch: not implemented yet");
        return 2;
    }
}
