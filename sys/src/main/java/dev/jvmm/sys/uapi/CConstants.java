package dev.jvmm.sys.uapi;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a class whose {@code public static final} int/long fields are named exactly like C macros or
 * enum values from {@link #headers()} (ioctl request numbers, capability ids, exit reasons). The tests
 * compare every one with what the C compiler sees. Fields annotated {@link NotC} are skipped.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface CConstants {
    String[] headers();
}
