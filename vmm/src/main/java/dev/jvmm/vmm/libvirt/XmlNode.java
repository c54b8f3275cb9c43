package dev.jvmm.vmm.libvirt;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.w3c.dom.Attr;
import org.w3c.dom.Element;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

/**
 * One element of a domain XML with its XPath-like location ({@code /domain/devices/disk[2]}) and a record of which
 * of its attributes and child elements the translation read (or accepted as meaningless to jvmm). {@link #finish}
 * reports every one it did not: nothing in the file is dropped without a word.
 */
final class XmlNode {
    private final Element e;
    private final String path;
    private final Problems problems;
    private final Set<String> usedAttrs = new HashSet<>();
    private final Set<Element> usedKids = new HashSet<>();
    private boolean textUsed;

    XmlNode(Element e, String path, Problems problems) {
        this.e = e;
        this.path = path;
        this.problems = problems;
    }

    String path() {
        return path;
    }

    String name() {
        return e.getNodeName();
    }

    /** The location of attribute {@code name}: {@code /domain/devices/disk[2]/driver/@iothread}. */
    String at(String name) {
        return path + "/@" + name;
    }

    /** Attribute {@code name}, trimmed, or null when absent; read. */
    String attr(String name) {
        usedAttrs.add(name);
        return e.hasAttribute(name) ? e.getAttribute(name).trim() : null;
    }

    /** Attribute {@code name}, or {@code dflt} when absent. */
    String attr(String name, String dflt) {
        String v = attr(name);
        return v == null ? dflt : v;
    }

    /** Accepts these attributes and child elements without reading them (they mean nothing to jvmm). */
    void ignore(String... names) {
        for (String n : names) {
            usedAttrs.add(n);
            for (XmlNode k : kids(n)) {
                k.skipAll();
            }
        }
    }

    /** Marks this element and everything under it as read. */
    void skipAll() {
        usedAttrs.addAll(attrNames());
        textUsed = true;
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element k) {
                usedKids.add(k);
            }
        }
    }

    /** The trimmed text of this element; read. */
    String text() {
        textUsed = true;
        return e.getTextContent().trim();
    }

    boolean has(String kid) {
        return !elements(kid).isEmpty();
    }

    /** The child elements named {@code name} (every one read), each with its location. */
    List<XmlNode> kids(String name) {
        List<Element> all = elements(name);
        List<XmlNode> out = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            usedKids.add(all.get(i));
            out.add(new XmlNode(all.get(i), path + "/" + name + (all.size() > 1 ? "[" + (i + 1) + "]" : ""), problems));
        }
        return out;
    }

    /** The child element {@code name}, or null; a second one is reported (and skipped). */
    XmlNode kid(String name) {
        List<XmlNode> k = kids(name);
        for (int i = 1; i < k.size(); i++) {
            problems.unsupported(k.get(i).path(), "a second <" + name + "> (jvmm reads one)");
        }
        return k.isEmpty() ? null : k.get(0);
    }

    /** Every child element, in document order, each with its location; none marked read. */
    List<XmlNode> allKids() {
        Map<String, Integer> count = new HashMap<>();
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element k) {
                count.merge(k.getNodeName(), 1, Integer::sum);
            }
        }
        Map<String, Integer> seen = new HashMap<>();
        List<XmlNode> out = new ArrayList<>();
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element k) {
                String q = k.getNodeName();
                int i = seen.merge(q, 1, Integer::sum);
                out.add(new XmlNode(k, path + "/" + q + (count.get(q) > 1 ? "[" + i + "]" : ""), problems));
            }
        }
        return out;
    }

    /** Marks a child element (from {@link #allKids}) as read. */
    void use(XmlNode kid) {
        usedKids.add(kid.e);
    }

    /**
     * Reports what was not read: each attribute ({@code .../@name}), each child element ({@code .../name[2]}) and
     * text where only elements belong. Namespace declarations are not attributes here.
     */
    void finish() {
        for (String a : attrNames()) {
            if (!usedAttrs.contains(a)) {
                problems.unsupported(at(a), "not supported by jvmm");
            }
        }
        for (XmlNode k : allKids()) {
            if (!usedKids.contains(k.e)) {
                problems.unsupported(k.path(), "not supported by jvmm");
            }
        }
        if (!textUsed) {
            for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
                if (n.getNodeType() == Node.TEXT_NODE || n.getNodeType() == Node.CDATA_SECTION_NODE) {
                    if (!n.getNodeValue().isBlank()) {
                        problems.unsupported(path + "/text()", "text \"" + Problems.shorten(n.getNodeValue().trim())
                                + "\": not supported by jvmm");
                        break;
                    }
                }
            }
        }
    }

    private List<String> attrNames() {
        List<String> out = new ArrayList<>();
        NamedNodeMap m = e.getAttributes();
        for (int i = 0; i < m.getLength(); i++) {
            Attr a = (Attr) m.item(i);
            if (!"http://www.w3.org/2000/xmlns/".equals(a.getNamespaceURI())) {
                out.add(a.getName());
            }
        }
        return out;
    }

    private List<Element> elements(String name) {
        List<Element> out = new ArrayList<>();
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element k && k.getNodeName().equals(name)) {
                out.add(k);
            }
        }
        return out;
    }
}
