package dev.jvmm.lab;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.jar.Manifest;

/**
 * This JVM's class path with manifest-only jars expanded (Surefire starts test JVMs with a booter jar whose
 * manifest {@code Class-Path} lists the real entries), so that a JVM started inside L1 sees the same classes.
 */
public final class Classpath {
    private Classpath() {
    }

    public static String current() {
        return expand(System.getProperty("java.class.path", ""));
    }

    static String expand(String classPath) {
        Set<String> out = new LinkedHashSet<>();
        for (String e : classPath.split(File.pathSeparator)) {
            if (e.isBlank()) {
                continue;
            }
            Path p = Path.of(e).toAbsolutePath();
            out.add(p.toString());
            if (e.endsWith(".jar") && Files.isRegularFile(p)) {
                try (JarFile jar = new JarFile(p.toFile())) {
                    Manifest m = jar.getManifest();
                    String cp = m == null ? null : m.getMainAttributes().getValue("Class-Path");
                    if (cp != null) {
                        for (String u : cp.trim().split("\\s+")) {
                            out.add(resolve(p.getParent(), u));
                        }
                    }
                } catch (IOException | IllegalArgumentException ignored) {
                    // not a readable jar: keep the entry as it is
                }
            }
        }
        return String.join(File.pathSeparator, out);
    }

    private static String resolve(Path base, String entry) {
        if (entry.startsWith("file:")) {
            return Path.of(URI.create(entry)).toString();
        }
        return base.resolve(entry).normalize().toString();
    }
}
