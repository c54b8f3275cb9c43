package dev.jvmm.vmm.cli;

import java.io.PrintWriter;
import java.io.StringWriter;

/** One {@code jvmm} command run in this JVM: its exit code and what it printed on stdout and stderr. */
record CliRun(int code, String out, String err) {
    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        var cl = Jvmm.commandLine();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int code = cl.execute(args);
        return new CliRun(code, out.toString(), err.toString());
    }
}
