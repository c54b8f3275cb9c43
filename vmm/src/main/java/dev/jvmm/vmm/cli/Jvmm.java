package dev.jvmm.vmm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code jvmm} command line. Commands only parse their options and delegate to the modules;
 * they hold no logic of their own.
 */
@Command(name = "jvmm",
        mixinStandardHelpOptions = true,
        versionProvider = VersionProvider.class,
        description = "A KVM virtual machine monitor in Java: VFIO passthrough, SR-IOV VF management, virtio fallback.",
        subcommands = {
                LaunchCommand.class,
                ProbeCommand.class,
                SriovCommand.class,
                VfioCommand.class,
                RemoteCommand.class,
                LabCommand.class,
                DemoCommand.class,
                ImgCommand.class,
                CommandLine.HelpCommand.class
        })
public final class Jvmm implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Builds the picocli command line with jvmm's error handling (cause chain, exit codes). */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Jvmm());
        cl.setExecutionExceptionHandler(new ErrorHandler());
        return cl;
    }

    public static void main(String[] args) {
        dev.jvmm.vmm.log.StderrLoggerProvider.install();
        System.exit(commandLine().execute(args));
    }
}
