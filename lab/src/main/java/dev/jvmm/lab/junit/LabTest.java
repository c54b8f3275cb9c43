package dev.jvmm.lab.junit;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Marks a lab-tier test: tagged {@code lab} (select with {@code -Djvmm.groups=lab}, leave out with
 * {@code -Djvmm.excludedGroups=lab}) and run with {@link LabExtension}, which checks the host (failing or skipping
 * per {@link dev.jvmm.lab.LabPolicy}) and injects a shared {@link dev.jvmm.lab.LabSession} or the
 * {@link dev.jvmm.lab.GuestKit.Kit} into test methods and constructors.
 *
 * <pre>{@code
 * @LabTest
 * class VfioLabTest {
 *     @Test
 *     void groupsExist(LabSession lab) {
 *         lab.run("ls /sys/kernel/iommu_groups", Duration.ofSeconds(30)).assertOk();
 *     }
 * }
 * }</pre>
 *
 * <p>One L1 is booted for the whole test run (all {@code @LabTest} classes in the JVM) and powered off at its end;
 * tests must leave L1 as they found it (unbind what they bind, set {@code sriov_numvfs} back to 0).
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@Tag("lab")
@ExtendWith(LabExtension.class)
public @interface LabTest {
}
