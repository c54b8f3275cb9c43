package dev.jvmm.vmm.api;

import dev.jvmm.vmm.VmmException;
import dev.jvmm.vmm.cli.VersionProvider;
import dev.jvmm.vmm.log.StderrLoggerProvider;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.unixdomain.server.UnixDomainServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API server ({@code jvmm launch --api-socket PATH}; docs/api.md): HTTP/1.1 and JSON on a unix socket,
 * served by Jetty on its own daemon threads ({@code api-*}, at most {@value #MAX_THREADS}), mapped onto a
 * {@link VmControl}. Owns the Jetty server and the socket file ({@link ApiSocket}). Only this package names Jetty:
 * a launch without {@code --api-socket} loads none of it.
 */
public final class ApiServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);
    static final int MAX_THREADS = 8;
    static final int MIN_THREADS = 2;

    private final Server server;
    private final ApiSocket socket;
    private final AtomicBoolean closed = new AtomicBoolean();

    private ApiServer(Server server, ApiSocket socket) {
        this.server = server;
        this.socket = socket;
    }

    /**
     * Serves {@code control} on a new socket at {@code socket} (mode 0600; a stale socket there is replaced). Fails
     * with a {@link VmmException} naming the path: CONFIG when the path cannot be used (it exists and is not a
     * socket, another process listens there, its directory is missing, it is too long), HOST when the system
     * refuses.
     */
    public static ApiServer start(Path socket, VmControl control) {
        // before the first Jetty class: its loggers take their level when they are made
        StderrLoggerProvider.levelUnlessSet("org.eclipse.jetty", "warn");
        ApiSocket place = ApiSocket.prepare(socket);
        QueuedThreadPool threads = new QueuedThreadPool(MAX_THREADS, MIN_THREADS, 60_000);
        threads.setName("api");
        threads.setDaemon(true);
        Server server = new Server(threads, new ScheduledExecutorScheduler("api-scheduler", true), null);
        HttpConfiguration http = new HttpConfiguration();
        http.setSendServerVersion(false);
        http.setSendDateHeader(false);
        UnixDomainServerConnector connector = new UnixDomainServerConnector(server, 1, 1,
                new HttpConnectionFactory(http));
        connector.setUnixDomainPath(place.bindPath());
        server.addConnector(connector);
        server.setHandler(new ApiHandler(new ApiDispatcher(control, VersionProvider.jvmmVersion())));
        server.setErrorHandler(ApiHandler::jettyError);
        try {
            server.start();
            place.publish();
        } catch (Exception | Error e) {
            stop(server);
            place.remove();
            if (e instanceof VmmException v) {
                throw v;
            }
            throw new VmmException(VmmException.Reason.HOST, "API socket " + place.path()
                    + ": the server did not start: " + (e.getMessage() != null ? e.getMessage() : e.toString()), e);
        }
        LOG.debug("control API on {}", place.path());
        return new ApiServer(server, place);
    }

    /** The socket's path (absolute). */
    public Path path() {
        return socket.path();
    }

    /**
     * Removes the socket file (no new client can connect) and stops the server, ending the connections. Idempotent;
     * from a {@link VmControl} call (one of the server's own threads) the server stops on another thread, after this
     * returns.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        socket.remove();
        if (ApiHandler.inRequest()) {
            Thread t = new Thread(() -> stop(server), "api-close");
            t.setDaemon(true);
            t.start();
        } else {
            stop(server);
        }
    }

    private static void stop(Server server) {
        try {
            server.stop();
        } catch (Exception e) {
            LOG.warn("stopping the control API server: {}", e.toString());
        }
    }

    @Override
    public String toString() {
        return "ApiServer[" + socket.path() + "]";
    }
}
