package dev.jvmm.sys.testing;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a kvm-tier test: it needs a usable {@code /dev/kvm}. Where KVM is required ({@code CI=true} or
 * {@code JVMM_REQUIRE_KVM=1}) a missing /dev/kvm fails the test; elsewhere the test is skipped with the reason.
 */
@Target({ElementType.TYPE, ElementType.METHOD})
@Retention(RetentionPolicy.RUNTIME)
@Tag("kvm")
@ExtendWith(KvmRequirement.class)
public @interface KvmTest {
}
