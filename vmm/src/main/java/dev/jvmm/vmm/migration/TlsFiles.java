package dev.jvmm.vmm.migration;

import dev.jvmm.sys.FileErrors;
import dev.jvmm.vmm.VmmException;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.net.Socket;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertPathValidatorException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateFactory;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The PEM files of a {@code tls-dir} read into an {@link SSLContext} with the JDK alone, and a TLS handshake's
 * failure put into words. See {@link MigrationTransport} for the layout.
 */
final class TlsFiles {
    private static final Logger LOG = LoggerFactory.getLogger(TlsFiles.class);
    static final String CA = "ca.pem";
    static final String CERT = "cert.pem";
    static final String KEY = "key.pem";
    /** The only protocol offered or accepted. */
    static final String PROTOCOL = "TLSv1.3";
    private static final Pattern PEM = Pattern.compile(
            "-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \\1-----", Pattern.DOTALL);

    private TlsFiles() {
    }

    /**
     * Reads {@code dir}'s ca.pem, cert.pem and key.pem and makes a TLSv1.3 context that presents cert.pem and trusts
     * the certificates ca.pem signs. CONFIG errors name the file and what is wrong with it.
     */
    static SSLContext context(Path dir) {
        if (!Files.isDirectory(dir)) {
            throw config("tls-dir " + dir + " is not a directory (it holds " + CA + ", " + CERT + " and " + KEY + ")");
        }
        Path caFile = dir.resolve(CA);
        Path certFile = dir.resolve(CERT);
        Path keyFile = dir.resolve(KEY);
        List<X509Certificate> cas = certificates(caFile, "the CA that signs the peers' certificates");
        List<X509Certificate> chain = certificates(certFile, "this side's certificate");
        PrivateKey key = privateKey(keyFile);
        X509Certificate leaf = chain.get(0);
        try {
            leaf.checkValidity();
        } catch (CertificateExpiredException | CertificateNotYetValidException e) {
            throw config(certFile + ": the certificate " + leaf.getSubjectX500Principal().getName() + " is valid from "
                    + leaf.getNotBefore().toInstant() + " to " + leaf.getNotAfter().toInstant() + " only");
        }
        checkPair(key, leaf, keyFile, certFile);
        warnIfReadable(keyFile);
        try {
            char[] password = new char[24];
            SecureRandom random = new SecureRandom();
            for (int i = 0; i < password.length; i++) {
                password[i] = (char) ('a' + random.nextInt(26));
            }
            KeyStore keys = KeyStore.getInstance("PKCS12");
            keys.load(null, null);
            keys.setKeyEntry("jvmm", key, password, chain.toArray(new X509Certificate[0]));
            KeyManagerFactory kmf = KeyManagerFactory.getInstance("SunX509");
            kmf.init(keys, password);
            KeyStore trust = KeyStore.getInstance("PKCS12");
            trust.load(null, null);
            for (int i = 0; i < cas.size(); i++) {
                trust.setCertificateEntry("ca-" + i, cas.get(i));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance(PROTOCOL);
            ctx.init(new KeyManager[] {new AnyIssuer((X509ExtendedKeyManager) kmf.getKeyManagers()[0])},
                    tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException | IOException e) {
            throw config("tls-dir " + dir + ": cannot make a TLS context of its files: " + e.getMessage(), e);
        }
    }

    /** Every certificate in {@code file}, at least one. */
    private static List<X509Certificate> certificates(Path file, String holds) {
        List<X509Certificate> out = new ArrayList<>();
        try {
            CertificateFactory cf = CertificateFactory.getInstance("X.509");
            for (Pem p : pem(file, holds)) {
                if (p.type().equals("CERTIFICATE")) {
                    try {
                        out.add((X509Certificate) cf.generateCertificate(new ByteArrayInputStream(p.der())));
                    } catch (CertificateException e) {
                        throw config(file + ": certificate " + (out.size() + 1) + " cannot be read: " + e.getMessage(),
                                e);
                    }
                }
            }
        } catch (CertificateException e) {
            throw new VmmException(VmmException.Reason.HOST, "this JDK has no X.509 certificate factory", e);
        }
        if (out.isEmpty()) {
            throw config(file + ": no certificate in it (expected -----BEGIN CERTIFICATE-----; it holds " + holds
                    + ")");
        }
        return out;
    }

    /** The one unencrypted PKCS#8 private key in {@code file}: RSA, EC or EdDSA. */
    private static PrivateKey privateKey(Path file) {
        List<Pem> keys = new ArrayList<>();
        for (Pem p : pem(file, "this side's private key")) {
            switch (p.type()) {
                case "PRIVATE KEY":
                    keys.add(p);
                    break;
                case "ENCRYPTED PRIVATE KEY":
                    throw config(file + ": the key is encrypted; jvmm reads an unencrypted PKCS#8 key (keep the file"
                            + " 0600): openssl pkcs8 -in " + file + " -nocrypt -out NEW.pem");
                case "RSA PRIVATE KEY":
                case "EC PRIVATE KEY":
                    throw config(file + ": the key is in the " + (p.type().startsWith("RSA") ? "PKCS#1" : "SEC1")
                            + " form (BEGIN " + p.type() + "); jvmm reads PKCS#8 (BEGIN PRIVATE KEY): openssl pkcs8"
                            + " -topk8 -nocrypt -in " + file + " -out NEW.pem");
                default:
                    break;
            }
        }
        if (keys.size() != 1) {
            throw config(file + ": " + (keys.isEmpty() ? "no private key in it" : keys.size() + " private keys in it")
                    + " (expected one -----BEGIN PRIVATE KEY-----, PKCS#8, RSA or EC)");
        }
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(keys.get(0).der());
        for (String alg : new String[] {"RSA", "EC", "EdDSA"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(spec);
            } catch (GeneralSecurityException | RuntimeException notThisOne) {
                // try the next algorithm
            }
        }
        throw config(file + ": the PKCS#8 key is neither RSA, EC nor EdDSA, or is damaged");
    }

    /** Refuses a key that is not the one of {@code cert}: a signature made with it must verify with the certificate. */
    private static void checkPair(PrivateKey key, X509Certificate cert, Path keyFile, Path certFile) {
        String alg;
        switch (key.getAlgorithm()) {
            case "RSA":
                alg = "SHA256withRSA";
                break;
            case "EC":
                alg = "SHA256withECDSA";
                break;
            default:
                alg = key.getAlgorithm(); // EdDSA, Ed25519, Ed448
                break;
        }
        boolean match;
        try {
            byte[] probe = "jvmm migration key check".getBytes(StandardCharsets.US_ASCII);
            Signature s = Signature.getInstance(alg);
            s.initSign(key);
            s.update(probe);
            byte[] sig = s.sign();
            Signature v = Signature.getInstance(alg);
            v.initVerify(cert.getPublicKey());
            v.update(probe);
            match = v.verify(sig);
        } catch (GeneralSecurityException | RuntimeException e) {
            match = false;
        }
        if (!match) {
            throw config(keyFile + " is not the key of " + certFile + " (" + key.getAlgorithm() + " key, "
                    + cert.getPublicKey().getAlgorithm() + " certificate " + cert.getSubjectX500Principal().getName()
                    + ")");
        }
    }

    private static void warnIfReadable(Path keyFile) {
        try {
            Set<PosixFilePermission> p = Files.getPosixFilePermissions(keyFile);
            if (p.contains(PosixFilePermission.GROUP_READ) || p.contains(PosixFilePermission.OTHERS_READ)) {
                LOG.warn("{} can be read by other users than its owner; a private key file should be 0600", keyFile);
            }
        } catch (IOException | UnsupportedOperationException ignored) {
            // not a reason to refuse the key
        }
    }

    /**
     * Presents cert.pem whatever CAs the peer says it trusts. The JDK's key manager would otherwise offer no
     * certificate to a peer whose CertificateRequest does not name cert.pem's issuer, and that peer could only say
     * "empty certificate chain"; this way it names the certificate it refuses and why.
     */
    private static final class AnyIssuer extends X509ExtendedKeyManager {
        private final X509ExtendedKeyManager km;

        AnyIssuer(X509ExtendedKeyManager km) {
            this.km = km;
        }

        @Override
        public String[] getClientAliases(String keyType, Principal[] issuers) {
            return km.getClientAliases(keyType, null);
        }

        @Override
        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
            return km.chooseClientAlias(keyType, null, socket);
        }

        @Override
        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
            return km.chooseEngineClientAlias(keyType, null, engine);
        }

        @Override
        public String[] getServerAliases(String keyType, Principal[] issuers) {
            return km.getServerAliases(keyType, null);
        }

        @Override
        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
            return km.chooseServerAlias(keyType, null, socket);
        }

        @Override
        public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
            return km.chooseEngineServerAlias(keyType, null, engine);
        }

        @Override
        public X509Certificate[] getCertificateChain(String alias) {
            return km.getCertificateChain(alias);
        }

        @Override
        public PrivateKey getPrivateKey(String alias) {
            return km.getPrivateKey(alias);
        }
    }

    private record Pem(String type, byte[] der) {
    }

    private static List<Pem> pem(Path file, String holds) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            throw config(file + " is missing (it holds " + holds + ", PEM)");
        } catch (IOException e) {
            throw config(file + " cannot be read: " + FileErrors.reason(e), e);
        }
        List<Pem> out = new ArrayList<>();
        Matcher m = PEM.matcher(text);
        while (m.find()) {
            try {
                out.add(new Pem(m.group(1), Base64.getMimeDecoder().decode(m.group(2).trim())));
            } catch (IllegalArgumentException e) {
                throw config(file + ": the " + m.group(1) + " block is not valid base64: " + e.getMessage());
            }
        }
        return out;
    }

    /**
     * Puts a failed handshake into words: whose certificate was refused and what to check. The side that found the
     * peer's certificate wanting names its own ca.pem; the side the peer refused (a TLS alert) names its cert.pem.
     * CONFIG for certificates that do not match, HOST for a broken connection.
     */
    static VmmException handshakeFailure(String peer, Path dir, IOException e) {
        String prefix = "TLS handshake with " + peer + " failed: ";
        String detail = " (" + innermost(e) + ")";
        if (cause(e, CertificateExpiredException.class) || cause(e, CertificateNotYetValidException.class)) {
            return config(prefix + "the peer's certificate is out of its validity period" + detail, e);
        }
        if (cause(e, CertPathBuilderException.class)) {
            return config(prefix + "the peer's certificate is not signed by " + dir.resolve(CA) + detail, e);
        }
        if (cause(e, CertPathValidatorException.class) || cause(e, CertificateException.class)) {
            return config(prefix + "the peer's certificate was refused against " + dir.resolve(CA) + detail, e);
        }
        String m = String.valueOf(e.getMessage());
        if (m.contains("Received fatal alert")) {
            return config(prefix + "the peer refused this side's certificate " + dir.resolve(CERT)
                    + ": is it signed by the CA in the peer's " + CA + "?" + detail, e);
        }
        if (m.contains("certificate chain") && m.contains("Empty")) {
            return config(prefix + "the peer presented no certificate (is it a jvmm with tls-dir?)" + detail, e);
        }
        if (m.contains("Unsupported or unrecognized SSL message") || m.contains("plaintext connection")) {
            return config(prefix + "the peer does not speak TLS (both sides need tls-dir)" + detail, e);
        }
        if (e instanceof EOFException || m.contains("Remote host terminated") || m.contains("closed")
                || m.contains("Broken pipe") || m.contains("Connection reset")) {
            return new VmmException(VmmException.Reason.HOST, prefix + "the peer closed the connection: did it refuse"
                    + " this side's certificate " + dir.resolve(CERT) + "?" + detail, e);
        }
        if (e instanceof SSLHandshakeException || e instanceof SSLException) {
            return config(prefix + m, e);
        }
        return new VmmException(VmmException.Reason.HOST, prefix + FileErrors.describe(e), e);
    }

    private static boolean cause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
        }
        return false;
    }

    private static String innermost(Throwable t) {
        Throwable last = t;
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c.getMessage() != null && !c.getMessage().isBlank()) {
                last = c;
            }
        }
        return FileErrors.describe(last);
    }

    private static VmmException config(String message) {
        return new VmmException(VmmException.Reason.CONFIG, message);
    }

    private static VmmException config(String message, Throwable cause) {
        return new VmmException(VmmException.Reason.CONFIG, message, cause);
    }
}
