package dev.jvmm.sys.uapi;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/** The constant is {@code offsetof(struct, member)}; nested members use C syntax, e.g. {@code io.port}. */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.FIELD)
public @interface Offsetof {
    String value();
}
