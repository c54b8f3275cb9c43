package dev.jvmm.vmm.api;

import java.nio.file.Path;

/**
 * A control API server with a {@link FakeControl} VM, to time {@code jvmm remote} against (ApiClient's javadoc):
 * {@code java -cp vmm/target/classes:vmm/target/test-classes:vmm/target/lib/* dev.jvmm.vmm.api.FakeApiServerMain
 * /tmp/api.sock}. Serves until killed.
 */
public final class FakeApiServerMain {
    private FakeApiServerMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (args.length != 1) {
            System.err.println("usage: FakeApiServerMain SOCKET");
            System.exit(2);
        }
        ApiServer server = ApiServer.start(Path.of(args[0]), new FakeControl());
        Runtime.getRuntime().addShutdownHook(new Thread(server::close));
        System.err.println("serving on " + args[0]);
        Thread.currentThread().join();
    }
}
