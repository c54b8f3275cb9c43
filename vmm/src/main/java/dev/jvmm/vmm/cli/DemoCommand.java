package dev.jvmm.vmm.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvmm demo}: not built yet (see the README's "Current state"). */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "(demo: not implemented yet)")
public final class DemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvmm demo: not implemented yet");
        return 2;
    }
}
