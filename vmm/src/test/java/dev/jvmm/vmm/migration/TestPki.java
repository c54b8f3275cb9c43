package dev.jvmm.vmm.migration;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/** Certificates for the TLS tests, made by the {@code openssl} command: CAs and the tls-dirs of hosts they sign. */
final class TestPki {
    private static final AtomicInteger SERIAL = new AtomicInteger(2);
    private final Path root;

    TestPki(Path root) {
        this.root = root;
    }

    /** Whether an {@code openssl} command runs here. */
    static boolean available() {
        try {
            Process p = new ProcessBuilder("openssl", "version").redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** A new self-signed CA (EC P-256) named {@code name}: {@code root/name/ca.pem} and {@code ca.key}. */
    Path ca(String name) throws Exception {
        Path d = Files.createDirectories(root.resolve(name));
        run(d, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ca.key");
        run(d, "openssl", "req", "-x509", "-new", "-key", "ca.key", "-subj", "/CN=" + name, "-days", "2",
                "-out", "ca.pem");
        return d;
    }

    /**
     * A host's tls-dir {@code root/name}: {@code key.pem} (PKCS#8, {@code keyAlg} RSA or EC), {@code cert.pem} for
     * {@code CN=name} signed by {@code signer}, and {@code ca.pem} copied from {@code trusted}.
     */
    Path host(String name, String keyAlg, Path signer, Path trusted) throws Exception {
        Path d = Files.createDirectories(root.resolve(name));
        if (keyAlg.equals("RSA")) {
            run(d, "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "key.pem");
        } else {
            run(d, "openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                    "key.pem");
        }
        run(d, "openssl", "req", "-new", "-key", "key.pem", "-subj", "/CN=" + name, "-out", "req.csr");
        Files.writeString(d.resolve("ext.cnf"), "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                + "extendedKeyUsage=serverAuth,clientAuth\n");
        run(d, "openssl", "x509", "-req", "-in", "req.csr", "-CA", signer.resolve("ca.pem").toString(), "-CAkey",
                signer.resolve("ca.key").toString(), "-set_serial", String.valueOf(SERIAL.getAndIncrement()),
                "-days", "2", "-extfile", "ext.cnf", "-out", "cert.pem");
        Files.copy(trusted.resolve("ca.pem"), d.resolve("ca.pem"));
        return d;
    }

    /** Runs {@code cmd} in {@code dir}; fails with its output when it fails. */
    static String run(Path dir, String... cmd) throws Exception {
        Process p = new ProcessBuilder(List.of(cmd)).directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException(new ArrayList<>(List.of(cmd)) + " failed: " + out);
        }
        return out;
    }
}
