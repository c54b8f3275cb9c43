package dev.jvmm.vmm;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * Owners pushed while a VM is built, closed in reverse order by {@link #close()}: a failed build (or the end of a
 * run) leaves no fd, mapping, memory slot or thread behind. The first close failure is rethrown after every
 * owner had its turn; later ones are attached as suppressed.
 */
public final class ResourceStack implements AutoCloseable {
    private final Deque<AutoCloseable> stack = new ArrayDeque<>();

    public <T extends AutoCloseable> T push(T resource) {
        stack.push(resource);
        return resource;
    }

    /**
     * Runs {@code body} with a new stack and returns what it built, the stack now owned by the result; if
     * {@code body} throws, the stack is closed (a close failure is attached as suppressed) and the exception rethrown.
     */
    public static <T> T building(java.util.function.Function<ResourceStack, T> body) {
        ResourceStack res = new ResourceStack();
        try {
            return body.apply(res);
        } catch (RuntimeException e) {
            throw closeAfter(res, e);
        }
    }

    /** Closes {@code owner} after {@code failure}, attaching a close failure to it as suppressed; returns {@code failure}. */
    public static RuntimeException closeAfter(AutoCloseable owner, RuntimeException failure) {
        try {
            owner.close();
        } catch (Exception c) {
            failure.addSuppressed(c);
        }
        return failure;
    }

    public int size() {
        return stack.size();
    }

    @Override
    public void close() {
        RuntimeException first = null;
        while (!stack.isEmpty()) {
            try {
                stack.pop().close();
            } catch (Exception e) {
                RuntimeException r = e instanceof RuntimeException re ? re
                        : new VmmException(VmmException.Reason.INTERNAL, "close failed: " + e.getMessage(), e);
                if (first == null) {
                    first = r;
                } else {
                    first.addSuppressed(r);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
