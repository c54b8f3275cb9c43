package dev.jvmm.vmm.libvirt;

import dev.jvmm.vmm.VmmException;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import javax.xml.XMLConstants;
import javax.xml.parsers.DocumentBuilder;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.parsers.ParserConfigurationException;
import org.w3c.dom.Document;
import org.xml.sax.ErrorHandler;
import org.xml.sax.InputSource;
import org.xml.sax.SAXException;
import org.xml.sax.SAXParseException;

/**
 * The JDK's own DOM parser, locked down for XML that comes from someone else: secure processing on, no DOCTYPE at
 * all (so no entity or DTD declarations: neither billion laughs nor an external entity can be written), external
 * DTDs, schemas and entities off, XInclude off, and JAXP's limits on entity expansion, element depth and sizes. A
 * domain XML needs none of what is turned off.
 */
final class SecureXml {
    /** The largest file read: a domain XML is a few KiB. */
    static final int MAX_BYTES = 1 << 20;
    /** The deepest element nesting accepted (a domain XML nests about 6 deep). */
    static final int MAX_DEPTH = 64;

    private SecureXml() {
    }

    /** Parses {@code bytes}, naming the file {@code where} in every error (a CONFIG {@link VmmException}). */
    static Document parse(String where, byte[] bytes) {
        if (bytes.length > MAX_BYTES) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": " + bytes.length + " bytes: too large for a "
                    + "domain XML (at most " + MAX_BYTES + ")");
        }
        DocumentBuilder db;
        try {
            db = factory().newDocumentBuilder();
        } catch (ParserConfigurationException e) {
            throw new VmmException(VmmException.Reason.INTERNAL, "the JDK's XML parser cannot be secured: "
                    + e.getMessage(), e);
        }
        db.setErrorHandler(new ErrorHandler() { // thrown, not printed on stderr by the default handler
            @Override
            public void warning(SAXParseException e) {
            }

            @Override
            public void error(SAXParseException e) throws SAXException {
                throw e;
            }

            @Override
            public void fatalError(SAXParseException e) throws SAXException {
                throw e;
            }
        });
        db.setEntityResolver((publicId, systemId) -> {
            throw new SAXException("external entity or DTD " + systemId + " refused");
        });
        try {
            return db.parse(new InputSource(new ByteArrayInputStream(bytes)));
        } catch (SAXParseException e) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": line " + e.getLineNumber() + ": "
                    + explain(e.getMessage()), e);
        } catch (SAXException e) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": " + explain(e.getMessage()), e);
        } catch (IOException e) {
            throw new VmmException(VmmException.Reason.CONFIG, where + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** The parser's message, and for what this parser refuses on purpose, why. */
    private static String explain(String msg) {
        String m = msg == null ? "not well-formed XML" : msg;
        if (m.contains("DOCTYPE")) {
            return "a DOCTYPE is refused (a domain XML has none; entity and DTD declarations are how XML entity "
                    + "attacks such as billion laughs or an external entity reading a host file work)";
        }
        if (m.contains("JAXP0") || m.contains("limit")) {
            return "refused by the XML parser's limits (" + m + ")";
        }
        return "not well-formed XML: " + m;
    }

    private static DocumentBuilderFactory factory() throws ParserConfigurationException {
        DocumentBuilderFactory f = DocumentBuilderFactory.newDefaultInstance(); // the JDK's, not one on the classpath
        f.setNamespaceAware(true);
        f.setValidating(false);
        f.setXIncludeAware(false);
        f.setExpandEntityReferences(false);
        f.setCoalescing(true);
        f.setFeature(XMLConstants.FEATURE_SECURE_PROCESSING, true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        f.setFeature("http://xml.org/sax/features/external-general-entities", false);
        f.setFeature("http://xml.org/sax/features/external-parameter-entities", false);
        f.setFeature("http://apache.org/xml/features/nonvalidating/load-external-dtd", false);
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_DTD, "");
        f.setAttribute(XMLConstants.ACCESS_EXTERNAL_SCHEMA, "");
        f.setAttribute("http://www.oracle.com/xml/jaxp/properties/entityExpansionLimit", "1");
        f.setAttribute("http://www.oracle.com/xml/jaxp/properties/maxGeneralEntitySizeLimit", "1");
        f.setAttribute("http://www.oracle.com/xml/jaxp/properties/maxParameterEntitySizeLimit", "1");
        f.setAttribute("http://www.oracle.com/xml/jaxp/properties/totalEntitySizeLimit", "1");
        f.setAttribute("http://www.oracle.com/xml/jaxp/properties/maxElementDepth", Integer.toString(MAX_DEPTH));
        return f;
    }

    /** For tests: parses text. */
    static Document parse(String where, String text) {
        return parse(where, text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }
}
