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
