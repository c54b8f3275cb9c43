package dev.jvmm.vmm.api;

import dev.jvmm.sys.FileErrors;
import dev.jvmm.sys.json.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.eclipse.jetty.client.CompletableResponseListener;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.Transport;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;

/**
 * A client of the control API ({@code jvmm remote}; docs/api.md): sends one request to an {@link ApiServer}'s unix
 * socket and returns the status and body. Jetty's HTTP client (the server's library, so no second HTTP
 * implementation) over {@link Transport.TCPUnix}, on daemon threads, stopped by {@link #close()}.
 */
public final class ApiClient implements AutoCloseable {
    /** The longest answer read (vm.info of a VM with many devices is a few KiB). */
    static final int MAX_ANSWER = 16 << 20;
    private static final long CONNECT_TIMEOUT_MS = 5_000;

    /** An answer: the HTTP status and the body (empty for 204). */
    public record Reply(int status, String body) {
        public boolean ok() {
            return status / 100 == 2;
        }
    }

    /** The server could not be reached: the message names the socket and the reason. */
    public static final class Unreachable extends IOException {
        private static final long serialVersionUID = 1L;

        Unreachable(String message, Throwable cause) {
            super(message, cause);
        }
    }

    private final Path socket;
    private final HttpClient http;

    private ApiClient(Path socket, HttpClient http) {
        this.socket = socket;
        this.http = http;
    }

    /** A client of the server at {@code socket}; nothing is connected before {@link #call}. */
    public static ApiClient open(Path socket) {
        dev.jvmm.vmm.log.StderrLoggerProvider.levelUnlessSet("org.eclipse.jetty", "warn");
        QueuedThreadPool threads = new QueuedThreadPool(4, 1);
        threads.setName("remote");
        threads.setDaemon(true);
        HttpClient http = new HttpClient();
        http.setExecutor(threads);
        http.setScheduler(new ScheduledExecutorScheduler("remote-scheduler", true));
        http.setConnectTimeout(CONNECT_TIMEOUT_MS);
        http.setUserAgentField(null);
        try {
            http.start();
        } catch (Exception e) {
            throw new IllegalStateException("starting the HTTP client: " + e, e);
        }
        return new ApiClient(socket, http);
    }

    /**
     * Sends {@code e}'s request with {@code body} as its JSON body (none when null) and waits for the answer.
     *
     * @throws Unreachable the socket is missing or nobody listens there, or the connection broke before the answer
     */
    public Reply call(ApiEndpoint e, Map<String, Object> body) throws Unreachable, InterruptedException {
        if (!Files.exists(socket)) {
            throw new Unreachable("cannot connect to " + socket + ": no such file", null);
        }
        Request r = http.newRequest("http://localhost" + e.path())
                .transport(new Transport.TCPUnix(socket))
                .method(HttpMethod.fromString(e.method()));
        if (body != null) {
            r.body(new StringRequestContent("application/json", Json.write(body), StandardCharsets.UTF_8));
        }
        CompletableFuture<ContentResponse> f = new CompletableResponseListener(r, MAX_ANSWER).send();
        ContentResponse res;
        try {
            res = f.get();
        } catch (ExecutionException x) {
            Throwable c = x.getCause() != null ? x.getCause() : x;
            throw new Unreachable("cannot connect to " + socket + ": " + reason(c), c);
        }
        return new Reply(res.getStatus(), new String(res.getContent(), StandardCharsets.UTF_8));
    }

    private static String reason(Throwable t) {
        String m = FileErrors.describe(t);
        return t instanceof java.net.ConnectException ? m + " (no jvmm listens there)" : m;
    }

    @Override
    public void close() {
        try {
            http.stop();
        } catch (Exception e) {
            // a client that stops badly has nothing left to do
        }
    }
}
