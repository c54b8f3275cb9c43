package dev.jvmm.sys.testing;

import dev.jvmm.sys.uapi.CConstants;
import dev.jvmm.sys.uapi.CStruct;
import dev.jvmm.sys.uapi.NotC;
import dev.jvmm.sys.uapi.Offsetof;
import dev.jvmm.sys.uapi.Sizeof;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Checks Java mirrors of kernel ABI against the real headers: finds every {@link CStruct} and
 * {@link CConstants} class under a classes directory, writes a C program that prints {@code sizeof},
 * {@code offsetof} and each constant as the C compiler sees them, compiles it with gcc and compares.
 */
public final class HeaderCheck {
    /** Outcome: what was compared and what differed. */
    public record Result(int structs, int sizes, int offsets, int constants, List<String> mismatches, String cSource) {
        public int checks() {
            return sizes + offsets + constants;
        }
    }

    private HeaderCheck() {
    }

    /** Loads every class file below {@code classesDir} whose name starts with {@code packagePrefix}. */
    public static List<Class<?>> classesUnder(Path classesDir, String packagePrefix) throws IOException {
        List<Class<?>> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(classesDir)) {
            for (Path p : (Iterable<Path>) s.filter(f -> f.toString().endsWith(".class"))::iterator) {
                String name = classesDir.relativize(p).toString().replace('/', '.').replaceAll("\\.class$", "");
                if (!name.startsWith(packagePrefix) || name.contains("$")) {
                    continue;
                }
                try {
                    out.add(Class.forName(name, false, HeaderCheck.class.getClassLoader()));
                } catch (ClassNotFoundException | LinkageError e) {
                    throw new IOException("cannot load " + name, e);
                }
            }
        }
        return out;
    }

    public static Result check(List<Class<?>> classes, Path workDir) throws IOException, InterruptedException {
        Set<String> headers = new LinkedHashSet<>();
        Map<String, Long> expected = new LinkedHashMap<>();
        StringBuilder body = new StringBuilder();
        int structs = 0, sizes = 0, offsets = 0, constants = 0;
        for (Class<?> c : classes) {
            CStruct st = c.getAnnotation(CStruct.class);
            CConstants cc = c.getAnnotation(CConstants.class);
            if (st == null && cc == null) {
                continue;
            }
            headers.addAll(List.of(st != null ? st.headers() : cc.headers()));
            if (st != null) {
                structs++;
            }
            for (Field f : c.getDeclaredFields()) {
                int m = f.getModifiers();
                if (!Modifier.isStatic(m) || !Modifier.isFinal(m) || !Modifier.isPublic(m)) {
                    continue;
                }
                if (f.getType() != int.class && f.getType() != long.class) {
                    continue;
                }
                long v;
                try {
                    v = f.getLong(null);
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
                String key = c.getSimpleName() + "." + f.getName();
                String expr;
                if (st != null && f.isAnnotationPresent(Sizeof.class)) {
                    expr = "sizeof(" + st.value() + ")";
                    sizes++;
                } else if (st != null && f.isAnnotationPresent(Offsetof.class)) {
                    expr = "offsetof(" + st.value() + ", " + f.getAnnotation(Offsetof.class).value() + ")";
                    offsets++;
                } else if (cc != null && !f.isAnnotationPresent(NotC.class)) {
                    expr = f.getName();
                    constants++;
                } else {
                    continue;
                }
                expected.put(key, v);
                body.append("  printf(\"%s %lld\\n\", \"").append(key).append("\", (long long)(").append(expr).append("));\n");
            }
        }
        StringBuilder src = new StringBuilder("#define _GNU_SOURCE\n#include <stddef.h>\n#include <stdio.h>\n");
        for (String h : headers) {
            src.append("#include <").append(h).append(">\n");
        }
        src.append("int main(void) {\n").append(body).append("  return 0;\n}\n");
        String out = compileAndRun("layout", src.toString(), workDir);
        Map<String, Long> actual = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            String[] kv = line.trim().split(" ");
            if (kv.length == 2) {
                actual.put(kv[0], Long.parseLong(kv[1]));
            }
        }
        List<String> mismatches = new ArrayList<>();
        expected.forEach((k, v) -> {
            Long a = actual.get(k);
            if (a == null || a.longValue() != v) {
                mismatches.add(k + ": java=" + v + " (0x" + Long.toHexString(v) + ") C=" + a
                        + (a == null ? "" : " (0x" + Long.toHexString(a) + ")"));
            }
        });
        return new Result(structs, sizes, offsets, constants, mismatches, src.toString());
    }

    /**
     * Writes {@code source} to {@code NAME.c} in {@code workDir}, compiles it with gcc against the installed headers
     * and runs it with {@code args}; returns what it printed. Fails when gcc does, or the program exits non-zero.
     */
    public static String compileAndRun(String name, String source, Path workDir, String... args)
            throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path c = workDir.resolve(name + ".c");
        Path exe = workDir.resolve(name);
        Files.writeString(c, source);
        String compile = run(List.of("gcc", "-O0", "-o", exe.toString(), c.toString()));
        if (!Files.isExecutable(exe)) {
            throw new IllegalStateException("gcc failed on the generated " + name + " program:\n" + compile + "\n" + source);
        }
        List<String> cmd = new ArrayList<>(List.of(exe.toString()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        if (p.exitValue() != 0) {
            throw new IllegalStateException(name + " exited with " + p.exitValue() + ":\n" + out);
        }
        return out;
    }

    private static String run(List<String> cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + cmd);
        }
        return new String(out, StandardCharsets.UTF_8);
    }
}
