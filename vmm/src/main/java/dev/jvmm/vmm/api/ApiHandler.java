package dev.jvmm.vmm.api;

import dev.jvmm.sys.json.Json;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The control API's Jetty handler: reads a request (its body up to {@link #MAX_BODY} bytes), has
 * {@link ApiDispatcher} answer it, writes the answer as JSON, and logs it (debug; info for the requests that change
 * the VM). Every failure becomes an answer ({@code {"error": ..., "field": ...}}): the server goes on serving.
 * {@link #jettyError} does the same for the requests Jetty itself refuses (a malformed request line or header).
 */
final class ApiHandler extends Handler.Abstract {
    private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);
    /** The largest request body taken (413 above). */
    static final int MAX_BODY = 64 * 1024;
    /** Set while this thread runs a request (so that a close from inside one does not wait for itself). */
    private static final ThreadLocal<Boolean> IN_REQUEST = new ThreadLocal<>();

    private final ApiDispatcher dispatcher;

    ApiHandler(ApiDispatcher dispatcher) {
        super(InvocationType.BLOCKING); // VmControl calls block (shutdown waits for the guest)
        this.dispatcher = dispatcher;
    }

    /** Whether the calling thread is running a request. */
    static boolean inRequest() {
        return IN_REQUEST.get() != null;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
        long start = System.nanoTime();
        String method = request.getMethod();
        String path = request.getHttpURI().getPath();
        ApiDispatcher.Answer answer;
        IN_REQUEST.set(Boolean.TRUE);
        try {
            ApiEndpoint e = ApiDispatcher.route(method, path);
            ApiDispatcher.checkContentType(request.getHeaders().get(HttpHeader.CONTENT_TYPE));
            answer = dispatcher.call(e, e.mutates() ? body(request) : "");
        } catch (ApiException x) {
            // a status that is no error status would be a bug of the thrower: answered as jvmm failing
            int status = x.status() >= 400 && x.status() <= 599 ? x.status() : 500;
            answer = ApiDispatcher.Answer.error(status, x.field(), x.getMessage());
            if (x.status() == 405) {
                response.getHeaders().put(HttpHeader.ALLOW, ApiEndpoint.byPath(path).method());
            }
        } catch (RuntimeException x) {
            LOG.warn("{} {}: {}", method, path, x.toString(), x);
            answer = ApiDispatcher.Answer.error(500, null, x.getMessage() != null ? x.getMessage() : x.toString());
        } finally {
            IN_REQUEST.remove();
        }
        write(response, answer, callback);
        long ms = (System.nanoTime() - start) / 1_000_000;
        if (!method.equals("GET")) {
            LOG.info("{} {} {} ({} ms)", method, path, answer.status(), ms);
        } else if (LOG.isDebugEnabled()) {
            LOG.debug("{} {} {} ({} ms)", method, path, answer.status(), ms);
        }
        return true;
    }

    /** The request body as UTF-8; 413 past {@link #MAX_BODY} bytes (by its Content-Length, or as it is read). */
    private static String body(Request request) {
        long declared = request.getLength();
        if (declared > MAX_BODY) {
            throw tooLarge(declared + " bytes");
        }
        byte[] bytes;
        try (InputStream in = Request.asInputStream(request)) {
            bytes = in.readNBytes(MAX_BODY + 1);
        } catch (IOException e) {
            throw new ApiException(400, null, "reading the request body failed: " + e.getMessage(), e);
        }
        if (bytes.length > MAX_BODY) {
            throw tooLarge("more than " + MAX_BODY + " bytes");
        }
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static ApiException tooLarge(String size) {
        return new ApiException(413, null, "the request body is " + size + "; the API takes at most " + MAX_BODY);
    }

    private static void write(Response response, ApiDispatcher.Answer answer, Callback callback) {
        response.setStatus(answer.status());
        if (answer.body() == null) {
            callback.succeeded();
            return;
        }
        byte[] json = Json.write(answer.body()).getBytes(StandardCharsets.UTF_8);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, json.length);
        response.write(true, ByteBuffer.wrap(json), callback);
    }

    /**
     * The server's error handler, for what Jetty refuses before {@link #handle} sees it (a bad request line, too
     * large headers): the same {@code {"error": ..., "field": null}} body with Jetty's status and reason.
     */
    static boolean jettyError(Request request, Response response, Callback callback) {
        int status = response.getStatus();
        String message = request.getAttribute(ErrorHandler.ERROR_MESSAGE) instanceof String m ? m
                : HttpStatus.getMessage(status);
        LOG.debug("{} {}: Jetty answered {} {}", request.getMethod(), request.getHttpURI(), status, message);
        if (HttpStatus.hasNoBody(status)) {
            callback.succeeded();
        } else {
            write(response, ApiDispatcher.Answer.error(status, null, message), callback);
        }
        return true;
    }
}
