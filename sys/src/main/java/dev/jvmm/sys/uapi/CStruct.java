package dev.jvmm.sys.uapi;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a layout class that mirrors a kernel struct. Its {@link Sizeof} and {@link Offsetof} constants
 * are checked against the real headers by compiling a C program in the tests.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.TYPE)
public @interface CStruct {
    /** The C type, for example {@code struct kvm_run}. */
    String value();

    /** Headers that declare it, for example {@code linux/kvm.h}. */
    String[] headers();
}
