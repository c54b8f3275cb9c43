package dev.jvmm.lab;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Insmod order for an initramfs, from {@code modprobe -d ROOT -S VER --show-depends MODULE} output: each
 * {@code insmod /path/x.ko[.xz] [params]} line in the order given (dependencies first); {@code builtin} lines are
 * skipped. Merging the lists of several modules keeps the first position of each file, so every module still
 * follows its dependencies.
 */
public final class ModuleOrder {

    private final Set<String> files = new LinkedHashSet<>();

    /** The module files of one {@code --show-depends} output, in insmod order. */
    public static List<String> parseShowDepends(String output) {
        List<String> out = new ArrayList<>();
        for (String line : output.split("\n")) {
            String[] w = line.strip().split("\\s+");
            if (w.length >= 2 && w[0].equals("insmod")) {
                out.add(w[1]);
            }
        }
        return out;
    }

    /** Appends one module's dependency list; files already present keep their earlier place. */
    public ModuleOrder add(List<String> insmodOrder) {
        files.addAll(insmodOrder);
        return this;
    }

    public List<String> files() {
        return List.copyOf(files);
    }

    /** {@code kernel/fs/9p/9p.ko.xz} → {@code kernel/fs/9p/9p.ko}: busybox insmod cannot read compressed modules. */
    public static String uncompressedName(String path) {
        for (String ext : List.of(".xz", ".zst", ".gz")) {
            if (path.endsWith(".ko" + ext)) {
                return path.substring(0, path.length() - ext.length());
            }
        }
        return path;
    }
}
