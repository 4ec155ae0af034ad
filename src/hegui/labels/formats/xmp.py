"""The XMP carrier: ``<TC260:AIGC>`` in namespace ``http://www.tc260.org.cn/ns/AIGC/1.0/``.

Other XMP properties are kept: only the TC260:AIGC property is replaced (the TC260 guides say to
update the property, not overwrite the namespace). lxml keeps the prefixes other tools chose.
"""

from __future__ import annotations

import re
from xml.sax.saxutils import escape

from lxml import etree

NS = "http://www.tc260.org.cn/ns/AIGC/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_TAG = f"{{{NS}}}AIGC"
_BEGIN = '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
_END = '<?xpacket end="w"?>'
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=False, huge_tree=False)


def packet(value: str) -> bytes:
    """A minimal XMP packet holding only the label."""
    body = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description rdf:about="" xmlns:TC260="{NS}"><TC260:AIGC>{escape(value)}</TC260:AIGC>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    return (_BEGIN + body + _END).encode("utf-8")


def _parse(xmp: bytes) -> etree._Element | None:
    text = xmp.strip(b"\x00 \r\n\t")
    m = re.search(rb"<x:xmpmeta.*</x:xmpmeta>|<rdf:RDF.*</rdf:RDF>", text, re.S)
    if not m:
        return None
    try:
        return etree.fromstring(m.group(0), _PARSER)
    except etree.XMLSyntaxError:
        return None


def values(xmp: bytes) -> list[str]:
    """Every TC260:AIGC value in the packet (element or attribute form)."""
    root = _parse(xmp)
    if root is None:
        # Not parseable XML: still report labels a regex can see, so nothing hides behind bad XML.
        return [
            m.decode("utf-8", "replace") for m in re.findall(rb"<TC260:AIGC>(.*?)</TC260:AIGC>", xmp, re.S)
        ]
    out = [el.text or "" for el in root.iter(_TAG)]
    out += [d.get(_TAG) for d in root.iter(f"{{{RDF}}}Description") if d.get(_TAG) is not None]
    return out


def _strip(root: etree._Element) -> None:
    for el in list(root.iter(_TAG)):
        el.getparent().remove(el)
    for d in root.iter(f"{{{RDF}}}Description"):
        d.attrib.pop(_TAG, None)


def update(xmp: bytes | None, value: str | None) -> bytes | None:
    """``xmp`` with its TC260:AIGC set to ``value`` (removed when None); a fresh packet when there is
    none or it cannot be parsed. Returns None when removal leaves no packet worth keeping."""
    root = _parse(xmp) if xmp else None
    if root is None:
        return packet(value) if value is not None else None
    _strip(root)
    if value is not None:
        desc = next(root.iter(f"{{{RDF}}}Description"), None)
        if desc is None:
            rdf = root if root.tag == f"{{{RDF}}}RDF" else next(root.iter(f"{{{RDF}}}RDF"), None)
            if rdf is None:  # no RDF at all: nothing of value to keep
                return packet(value)
            desc = etree.SubElement(rdf, f"{{{RDF}}}Description", nsmap={"TC260": NS})
            desc.set(f"{{{RDF}}}about", "")
        el = etree.SubElement(desc, _TAG, nsmap={"TC260": NS})
        el.text = value
        etree.cleanup_namespaces(root, top_nsmap={"TC260": NS}, keep_ns_prefixes=["TC260"])
    body = etree.tostring(root, encoding="unicode")
    return (_BEGIN + body + _END).encode("utf-8")
